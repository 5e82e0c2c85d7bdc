"""Taskrunner commands: create, assign, status, info, peer status, list, peers, reset, and WAIT FOR TASKRUNNER."""

from __future__ import annotations

import time

from swarm_learning import sn_api as api
from swci.errors import CommandFailed, SwciError
from swci.executor.render import key_values, table, when
from swci.executor.state import SessionState
from swci.language import commands as c

RUN_WAIT_ENV = "SWCI_RUN_TASK_MAX_WAIT_TIME"  # minutes, RUN_SWARM tasks
GENERIC_WAIT_ENV = "SWCI_GENERIC_TASK_MAX_WAIT_TIME"  # minutes, every other task type
DEFAULT_WAIT_MINUTES = 120.0
POLL_SECONDS = 10.0  # one long poll on the chain's height at most this long
MARK_SECONDS = 10.0  # one '#' of progress per this many seconds of waiting
DONE_STATES = ("COMPLETE", "ERROR", "IDLE")


def _runner(state: SessionState, name: str) -> api.TaskRunnerView:
    view = state.sn().task_runner(name)
    if not view.exists:
        raise SwciError(f"no taskrunner named {name}: LIST TASKRUNNERS shows the registered ones")
    return view


def create(state: SessionState, command: c.CreateTaskRunner) -> list[str]:
    state.sn_for_writing().create_task_runner(command.taskrunner)
    return [f"TASKRUNNER CREATED : {command.taskrunner}"]


def assign(state: SessionState, command: c.AssignTask) -> list[str]:
    sn = state.sn_for_writing()
    peers = command.peers
    if isinstance(peers, c.WithPeers):
        view = sn.assign_task(command.taskrunner, command.task, peers_needed=peers.count)
    elif isinstance(peers, c.WithAllPeers):
        view = sn.assign_task(command.taskrunner, command.task, all_peers=True)
    else:
        view = sn.assign_task(command.taskrunner, command.task, target=peers.uid)
    return [
        f"TASK ASSIGNED : {command.task} TO {command.taskrunner}",
        *key_values([("PEERS NEEDED", f"{view.peers_needed} {view.peer_type}"), ("TASK_STATE", view.state)]),
    ]


def _error_text(view: api.TaskRunnerView) -> str:
    if not view.error_reason:
        return ""
    who = view.error_peer if view.error_worker in ("", view.error_peer) else f"{view.error_peer}/{view.error_worker}"
    return f"{who}: {view.error_reason}"


def status_lines(view: api.TaskRunnerView) -> list[str]:
    return key_values(
        [
            ("TASKRUNNER NAME", view.name),
            ("TASK NAME", view.task or "Empty"),
            ("PEER TYPE", view.peer_type),
            ("TASK_STATE", view.state),
            ("ASSIGN MODE", view.mode),
            ("PEERS NEEDED", view.peers_needed),
            ("ENROLLED SWOPS", view.enrolled_peers),
            ("ACTIVE PEERS", view.active),
            ("COMPLETED PEERS", view.completed),
            ("FAILED PEERS", view.failed),
            ("TARGETS NOT ENROLLED", view.pending_targets),
            ("LAST ERROR", _error_text(view)),  # not "ERROR : ": the product's client reads that as a failure
            ("ASSIGNED BY", view.assigned_by),
            ("ASSIGNED AT", when(view.assigned_at)),
            ("STARTED AT", when(view.started_at)),
            ("FINISHED AT", when(view.finished_at)),
            ("LAST CHANGE AT", when(view.changed_at)),
        ]
    )


def status(state: SessionState, command: c.GetTaskRunnerStatus) -> list[str]:
    return status_lines(_runner(state, command.taskrunner))


def info(state: SessionState, command: c.GetTaskRunnerInfo) -> list[str]:
    view = _runner(state, command.taskrunner)
    listeners = state.sn().task_runner_listeners(command.taskrunner)
    listening = ", ".join(f"{entry.peer} ({entry.nodes} SL nodes)" for entry in listeners)
    return key_values(
        [
            ("TASKRUNNER NAME", view.name),
            ("CREATED BY", view.creator),
            ("CREATED AT", when(view.created_at)),
            ("RUN NUMBER", view.run),
            ("CURRENT TASK", view.task or "Empty"),
            ("TASK_STATE", view.state),
            ("LISTENING SWOPS", len(listeners)),
            ("LISTENERS", listening),
            ("LAST RESET AT", when(view.reset_at)),
        ]
    )


def peer_status(state: SessionState, command: c.GetTaskRunnerPeerStatus) -> list[str]:
    view = _runner(state, command.taskrunner)
    sn = state.sn()
    if isinstance(command.peer, int):
        peers = sn.task_runner_peers(command.taskrunner)
        if not 0 <= command.peer < len(peers):
            known = f"0..{len(peers) - 1}" if peers else "none yet"
            raise SwciError(
                f"taskrunner {command.taskrunner} has {len(peers)} peers in its current run: "
                f"peer index {command.peer} is out of range ({known})"
            )
        peer = peers[command.peer]
    else:
        peer = sn.task_runner_peer(command.taskrunner, command.peer)
        if not peer.exists:
            raise SwciError(
                f"{command.peer} is no peer of the current run of taskrunner {command.taskrunner}: "
                "LIST TASKRUNNER PEERS shows them"
            )
    lines = key_values([("SWOP UID", peer.uid), ("STATUS", peer.status), ("ENROLLED AT", when(peer.enrolled_at))])
    if view.task_type == "RUN_SWARM":
        lines += key_values([("SL PEERS", len(peer.workers))])
        lines += table(("SL UID", "STATUS", "DESCRIPTION"), [(w.uid, w.status, w.description) for w in peer.workers])
    else:
        worker = peer.workers[-1] if peer.workers else None
        lines += key_values([("DESCRIPTION", worker.description if worker else "")])
    return lines


def list_runners(state: SessionState, _: c.ListTaskRunners) -> list[str]:
    return state.sn().task_runners()


def list_peers(state: SessionState, command: c.ListTaskRunnerPeers) -> list[str]:
    _runner(state, command.taskrunner)
    peers = state.sn().task_runner_peers(command.taskrunner)
    if not peers:
        return [f"NO PEERS IN THE CURRENT RUN OF : {command.taskrunner}"]
    rows = [
        (i, p.uid, p.status, len(p.workers), p.active, p.completed, p.failed, when(p.enrolled_at))
        for i, p in enumerate(peers)
    ]
    return table(("INDEX", "SWOP UID", "STATUS", "WORKERS", "ACTIVE", "COMPLETED", "FAILED", "ENROLLED AT"), rows)


def reset(state: SessionState, command: c.ResetTaskRunner) -> list[str]:
    state.sn_for_writing().reset_task_runner(command.taskrunner)
    return [f"TASKRUNNER RESET : {command.taskrunner}"]


def max_wait_minutes(state: SessionState, task_type: str) -> tuple[str, float]:
    """The wait limit that applies to ``task_type``: the context's environment, then the process's; 120 min."""
    name = RUN_WAIT_ENV if task_type == "RUN_SWARM" else GENERIC_WAIT_ENV
    raw = state.env(name)
    if raw is None or not raw.strip():
        return name, DEFAULT_WAIT_MINUTES
    try:
        minutes = float(raw)
    except ValueError:
        raise SwciError(f"{name} must be a number of minutes, got {raw!r}") from None
    if minutes < 0:
        raise SwciError(f"{name} must not be negative, got {raw!r}")
    return name, minutes


def wait(state: SessionState, command: c.WaitForTaskRunner) -> list[str]:
    """Long-poll the chain until the taskrunner is COMPLETE, ERROR or IDLE, or the configured time is over."""
    sn = state.sn()
    view = _runner(state, command.taskrunner)
    setting, minutes = max_wait_minutes(state, view.task_type)
    lines = ["WAITING FOR TASKRUNNER TO COMPLETE"]
    _show(state, lines[0])
    started = time.monotonic()
    deadline = started + minutes * 60.0
    marks = ""
    height = sn.info().height
    while view.state not in DONE_STATES:
        now = time.monotonic()
        if state.stopping.is_set():
            raise CommandFailed(f"the session was closed while waiting for taskrunner {command.taskrunner}", lines)
        if now >= deadline:
            lines += [marks] if marks else []
            lines += ["WARNING - Maximum configured SWCI wait time is over", f"TASK_STATE : {view.state}"]
            raise CommandFailed(
                f"taskrunner {command.taskrunner} is still {view.state} after {minutes:g} minutes ({setting})", lines
            )
        height = sn.wait_for_change(height, min(POLL_SECONDS, deadline - now))
        view = _runner(state, command.taskrunner)
        if int((time.monotonic() - started) // MARK_SECONDS) > len(marks):
            marks += "#"
            _show(state, "#")
    lines += [marks] if marks else []
    lines.append(f"TASK_STATE : {view.state}")
    if view.state == "ERROR":
        lines.append(f"LAST ERROR : {_error_text(view)}")
        raise CommandFailed(f"taskrunner {command.taskrunner} ended in ERROR: {_error_text(view)}", lines)
    return lines


def _show(state: SessionState, text: str) -> None:
    if state.progress is not None:
        state.progress(text)


HANDLERS = {
    c.CreateTaskRunner: create,
    c.AssignTask: assign,
    c.GetTaskRunnerStatus: status,
    c.GetTaskRunnerInfo: info,
    c.GetTaskRunnerPeerStatus: peer_status,
    c.ListTaskRunners: list_runners,
    c.ListTaskRunnerPeers: list_peers,
    c.ResetTaskRunner: reset,
    c.WaitForTaskRunner: wait,
}
