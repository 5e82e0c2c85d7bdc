"""The SN API's task and task-runner routes, over ``sn.task_ledger.TaskLedger``.

SWCI registers tasks (header, body chunks, finalize, delete) and creates, assigns and resets task runners; a SWOP
listens on a task runner, enrolls in its current run and reports its workers' progress, success or failure, always
as itself (its peer uid is its certificate identity). Every role may read. The role of each write is in
``swarm_learning.roles.SN_API_POLICY``; contract reverts become HTTP 409 through the app's handlers (``sn.app``).

Routes::

    GET    /tasks                                  names, ROOTTASK first
    POST   /tasks                                  CreateTask -> TaskView
    GET    /tasks/{name}                           TaskView (exists=false when there is none)
    GET    /tasks/{name}/body                      TaskBody
    POST   /tasks/{name}/body/{index}              TaskBodyChunk -> TaskBodyWritten (append or replace chunk index)
    POST   /tasks/{name}/finalize                  TaskView
    DELETE /tasks/{name}                           204
    GET    /taskrunners                            names
    POST   /taskrunners                            CreateTaskRunner -> TaskRunnerView
    GET    /taskrunners/{name}                     TaskRunnerView (exists=false when there is none)
    POST   /taskrunners/{name}/assign              AssignTask -> TaskRunnerView
    POST   /taskrunners/{name}/reset               TaskRunnerView
    GET    /taskrunners/{name}/peers               [TaskPeerView] of the current run, in joining order
    GET    /taskrunners/{name}/peer?uid=...        TaskPeerView (a query parameter: SPIFFE IDs hold slashes)
    GET    /taskrunners/{name}/listeners           [TaskListenerView]
    POST   /taskrunners/{name}/listen              ListenOnTaskRunner -> 204          (SWOP)
    POST   /taskrunners/{name}/stop-listening      204                                (SWOP)
    POST   /taskrunners/{name}/enroll              EnrollInTaskRunner -> 204          (SWOP)
    POST   /taskrunners/{name}/report              TaskReport -> 204                  (SWOP)

A SWOP's beat is ``listen`` again; the SN's ``LostPeerWatch`` (``sn/task_liveness.py``) fails the unfinished workers
of an enrolled SWOP that stopped beating for longer than it promised.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, cast

from fastapi import Depends, FastAPI, Response
from web3.exceptions import Web3Exception

from sn.task_ledger import PeerInfo, TaskInfo, TaskLedger, TaskRunnerInfo
from swarm_learning import sn_api as api
from swarm_learning.errors import ChainError, ConfigurationError, ContractRevert
from swarm_learning.roles import SN_API_POLICY, EndpointPolicy, Peer

log = logging.getLogger(__name__)

_policy = EndpointPolicy("SN API", SN_API_POLICY)
Caller = Annotated[Peer, Depends(_policy)]


def add_task_routes(app: FastAPI, tasks: TaskLedger | None) -> None:
    """Add the routes of the module doc to ``app``. Without task contracts (``tasks`` None: an app built for its
    routes only) every one of them answers HTTP 400 saying so, so the API's shape does not depend on it."""
    ledger = tasks if tasks is not None else cast(TaskLedger, _NoTaskContracts())
    _add_task_store_routes(app, ledger)
    _add_task_runner_routes(app, ledger)
    _add_swop_routes(app, ledger)


class _NoTaskContracts:
    def __getattr__(self, name: str) -> Any:
        raise ConfigurationError("this SN serves no task contracts: tasks and task runners are not available")


def _add_task_store_routes(app: FastAPI, tasks: TaskLedger) -> None:
    @app.get("/tasks")
    def task_names(_: Caller) -> list[str]:
        return tasks.task_names()

    @app.post("/tasks", status_code=201)
    def create_task(caller: Caller, body: api.CreateTask) -> api.TaskView:
        log.info("%s registers task %s (%s)", caller, body.name, body.task_type)
        tasks.create_task(caller, body.name, body.task_type, body.author, body.prereq, body.outcome)
        return task_view(tasks.task(body.name))

    @app.get("/tasks/{name}")
    def task(_: Caller, name: str) -> api.TaskView:
        return task_view(tasks.task(name))

    @app.get("/tasks/{name}/body")
    def task_body(_: Caller, name: str) -> api.TaskBody:
        info, chunks = _stored_chunks(tasks, name)
        try:
            text = b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ChainError(f"the body of task {name} is not UTF-8 text: {exc}") from exc
        lengths = [len(chunk) for chunk in chunks]
        return api.TaskBody(name=info.name, body=text, chunk_lengths=lengths, finalized=info.finalized)

    @app.post("/tasks/{name}/body/{index}")
    def write_body_chunk(caller: Caller, name: str, index: int, body: api.TaskBodyChunk) -> api.TaskBodyWritten:
        gas = tasks.append_body(caller, name, index, body.text)
        info = tasks.task(name)
        return api.TaskBodyWritten(
            name=info.name, index=index, chunk_count=info.chunk_count, body_length=info.body_length, gas_used=gas
        )

    @app.post("/tasks/{name}/finalize")
    def finalize_task(caller: Caller, name: str) -> api.TaskView:
        log.info("%s finalizes task %s", caller, name)
        tasks.finalize_task(caller, name)
        return task_view(tasks.task(name))

    @app.delete("/tasks/{name}", status_code=204)
    def delete_task(caller: Caller, name: str) -> Response:
        log.info("%s deletes task %s", caller, name)
        tasks.delete_task(caller, name)
        return Response(status_code=204)


def _stored_chunks(tasks: TaskLedger, name: str) -> tuple[TaskInfo, list[bytes]]:
    """The task and its body chunks as stored, all read at one block (SWCI edits the body chunk by chunk)."""
    store = tasks.contracts()[0]
    block = int(store.w3.eth.block_number)
    info = tasks.task(name, block=block)
    if not info.exists:
        raise ContractRevert(f"no such task: {name}")
    try:
        chunks = [
            bytes(store.functions.getTaskBodyChunk(name, i).call(block_identifier=block))
            for i in range(info.chunk_count)
        ]
    except Web3Exception as exc:
        raise ChainError(f"reading the body of task {name} from the chain failed: {exc}") from exc
    if sum(len(chunk) for chunk in chunks) != info.body_length:
        raise ChainError(f"the body of task {name} read from the chain does not match its recorded length")
    return info, chunks


def _add_task_runner_routes(app: FastAPI, tasks: TaskLedger) -> None:
    @app.get("/taskrunners")
    def task_runner_names(_: Caller) -> list[str]:
        return tasks.task_runner_names()

    @app.post("/taskrunners", status_code=201)
    def create_task_runner(caller: Caller, body: api.CreateTaskRunner) -> api.TaskRunnerView:
        log.info("%s creates task runner %s", caller, body.name)
        tasks.create_task_runner(caller, body.name)
        return task_runner_view(tasks.task_runner(body.name))

    @app.get("/taskrunners/{name}")
    def task_runner(_: Caller, name: str) -> api.TaskRunnerView:
        return task_runner_view(tasks.task_runner(name))

    @app.post("/taskrunners/{name}/assign")
    def assign(caller: Caller, name: str, body: api.AssignTask) -> api.TaskRunnerView:
        log.info("%s assigns task %s to task runner %s", caller, body.task, name)
        if body.target is not None:
            tasks.assign_task_to_target(caller, name, body.task, body.target)
        elif body.all_peers:
            tasks.assign_task_to_all_peers(caller, name, body.task)
        else:
            assert body.peers_needed is not None  # the model checks that exactly one selection is given
            tasks.assign_task(caller, name, body.task, body.peers_needed)
        return task_runner_view(tasks.task_runner(name))

    @app.post("/taskrunners/{name}/reset")
    def reset(caller: Caller, name: str) -> api.TaskRunnerView:
        log.info("%s resets task runner %s", caller, name)
        tasks.reset_task_runner(caller, name)
        return task_runner_view(tasks.task_runner(name))

    @app.get("/taskrunners/{name}/peers")
    def peers(_: Caller, name: str) -> list[api.TaskPeerView]:
        return [peer_view(p) for p in tasks.peers(name)]

    @app.get("/taskrunners/{name}/peer")
    def peer(_: Caller, name: str, uid: str) -> api.TaskPeerView:
        return peer_view(tasks.peer(name, uid))

    @app.get("/taskrunners/{name}/listeners")
    def listeners(_: Caller, name: str) -> list[api.TaskListenerView]:
        return [
            api.TaskListenerView(
                peer=entry.peer,
                nodes=entry.nodes,
                since=_seconds(entry.since),
                last_beat=_seconds(entry.last_beat),
                stale_after=_seconds(entry.stale_after),
            )
            for entry in tasks.listeners(name)
        ]


def _add_swop_routes(app: FastAPI, tasks: TaskLedger) -> None:
    @app.post("/taskrunners/{name}/listen", status_code=204)
    def listen(caller: Caller, name: str, body: api.ListenOnTaskRunner) -> Response:
        tasks.listen(caller, name, caller, body.nodes, body.stale_after)
        return Response(status_code=204)

    @app.post("/taskrunners/{name}/stop-listening", status_code=204)
    def stop_listening(caller: Caller, name: str) -> Response:
        tasks.stop_listening(caller, name, caller)
        return Response(status_code=204)

    @app.post("/taskrunners/{name}/enroll", status_code=204)
    def enroll(caller: Caller, name: str, body: api.EnrollInTaskRunner) -> Response:
        log.info("%s enrolls in run %s of task runner %s with %s workers", caller, body.run, name, len(body.workers))
        tasks.enroll(caller, name, body.run, caller, body.workers)
        return Response(status_code=204)

    @app.post("/taskrunners/{name}/report", status_code=204)
    def report(caller: Caller, name: str, body: api.TaskReport) -> Response:
        if body.outcome == "success":
            tasks.report_success(caller, name, body.run, caller, body.description, body.worker)
        elif body.outcome == "failure":
            log.info("%s reports a failure on task runner %s: %s", caller, name, body.description)
            tasks.report_failure(caller, name, body.run, caller, body.description, body.worker)
        else:
            tasks.report_progress(caller, name, body.run, caller, body.description, body.worker)
        return Response(status_code=204)


# ------------------------------------------------------------------------------------------------ views


def _seconds(ms: int) -> float:
    return ms / 1000.0


def task_view(t: TaskInfo) -> api.TaskView:
    if not t.exists:
        return api.TaskView(name=t.name, exists=False)
    return api.TaskView(
        name=t.name,
        exists=True,
        task_type=t.task_type,
        author=t.author,
        prereq=t.prereq,
        outcome=t.outcome,
        state=t.state,
        finalized=t.finalized,
        body_hash=t.body_hash,
        chunk_count=t.chunk_count,
        body_length=t.body_length,
        use_count=t.use_count,
        held_by=t.held_by,
        creator=t.creator,
        created_at=_seconds(t.created_at),
        finalized_at=_seconds(t.finalized_at),
    )


def task_runner_view(r: TaskRunnerInfo) -> api.TaskRunnerView:
    if not r.exists:
        return api.TaskRunnerView(name=r.name, exists=False)
    return api.TaskRunnerView(
        name=r.name,
        exists=True,
        run=r.run,
        state=r.state,
        mode=r.mode,
        task=r.task,
        task_type=r.task_type,
        peer_type=r.peer_type,
        peers_needed=r.peers_needed,
        enrolled_peers=r.enrolled_peers,
        pending_targets=r.pending_targets,
        active=r.active,
        completed=r.completed,
        failed=r.failed,
        error_peer=r.error_peer,
        error_worker=r.error_worker,
        error_reason=r.error_reason,
        listeners=r.listeners,
        creator=r.creator,
        assigned_by=r.assigned_by,
        created_at=_seconds(r.created_at),
        assigned_at=_seconds(r.assigned_at),
        started_at=_seconds(r.started_at),
        finished_at=_seconds(r.finished_at),
        changed_at=_seconds(r.changed_at),
        reset_at=_seconds(r.reset_at),
    )


def peer_view(p: PeerInfo) -> api.TaskPeerView:
    if not p.exists:
        return api.TaskPeerView(uid=p.uid, exists=False)
    return api.TaskPeerView(
        uid=p.uid,
        exists=True,
        status=p.status,
        enrolled=p.enrolled,
        targeted=p.targeted,
        awaiting_target=p.awaiting_target,
        enrollment=p.enrollment,
        active=p.active,
        completed=p.completed,
        failed=p.failed,
        enrolled_at=_seconds(p.enrolled_at),
        workers=[
            api.TaskWorkerView(uid=w.uid, status=w.status, description=w.description, updated_at=_seconds(w.updated_at))
            for w in p.workers
        ],
    )
