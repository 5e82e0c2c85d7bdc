"""Client of the SN API, used by SL (and later SWCI/SWOP): typed calls, mutual TLS, bounded retries, fail-over.

Transient failures (SN restarting, connection refused, 5xx) are retried with back-off for up to
``retry_seconds``; a contract revert (HTTP 409) is raised at once as :class:`ContractRevert`.

**Fail-over.** Every SN of a Swarm Network serves the same chain, so a client may use any of them. The client
starts with the SN it was given (its "home" SN); ``learn_network()`` adds the API addresses of the network's other
SNs (from ``GET /network``). When the current SN stops answering for ``failover_after`` seconds, the next request
goes to the next known SN, round robin, until one answers or ``retry_seconds`` have passed. Writes are safe to
repeat on another SN: the contract's state transitions are idempotent for the same caller (see ``sl/rounds.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from swarm_learning import sn_api as api
from swarm_learning.errors import ContractRevert, NetworkError, SNUnavailable, SwarmLearningError
from swarm_learning.tls import TLSIdentity

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


class SNClient:
    def __init__(
        self,
        host: str,
        port: int,
        identity: TLSIdentity,
        *,
        retry_seconds: float = 120.0,
        failover_after: float = 3.0,
    ) -> None:
        self.retry_seconds = retry_seconds
        self.failover_after = failover_after
        self._endpoints = [f"https://{host}:{port}"]
        self._current = 0
        self._endpoints_lock = threading.Lock()
        self._http = httpx.Client(verify=identity.client_context(), timeout=httpx.Timeout(60.0, connect=10.0))

    @property
    def base_url(self) -> str:
        """The SN this client talks to now (its home SN until that one fails)."""
        return self._endpoints[self._current]

    @property
    def endpoints(self) -> list[str]:
        """Every SN API this client knows, home SN first."""
        with self._endpoints_lock:
            return list(self._endpoints)

    def close(self) -> None:
        self._http.close()

    def learn_network(self) -> list[str]:
        """Add the other SNs of the network (``GET /network``) as fail-over targets; return all known endpoints.

        An SN that cannot tell (an external-chain SN, or its membership is unreadable right now) leaves the list as
        it is; this never raises for that.
        """
        try:
            view = self.network()
        except SwarmLearningError as exc:
            log.debug("cannot learn the swarm network's SNs from %s: %s", self.base_url, exc)
            return self.endpoints
        with self._endpoints_lock:
            for member in view.members:
                if member.api:
                    url = f"https://{member.api}"
                    if url not in self._endpoints:
                        self._endpoints.append(url)
                        log.info("SN %s is a fail-over target for this node", member.api)
            return list(self._endpoints)

    def _fail_over(self, reason: str) -> None:
        with self._endpoints_lock:
            if len(self._endpoints) < 2:
                return
            failed = self._endpoints[self._current]
            self._current = (self._current + 1) % len(self._endpoints)
            log.warning("SN API %s unreachable (%s); switching to SN API %s", failed, reason, self.base_url)

    # -- transport -------------------------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.2
        failing_since: float | None = None
        while True:
            started = time.monotonic()
            url = self.base_url + path
            try:
                if timeout is None:
                    resp = self._http.request(method, url, json=json, params=params)
                else:
                    resp = self._http.request(method, url, json=json, params=params, timeout=timeout)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if (isinstance(exc, httpx.RemoteProtocolError | httpx.ConnectError) and "SSL" in str(exc)) or (
                    isinstance(exc, httpx.RemoteProtocolError) and "without sending a response" in str(exc)
                ):  # TLS 1.3: a server that refuses the client's certificate just closes the connection
                    reason += (
                        "; the SN closed the TLS connection, so it probably does not accept this node's certificate "
                        "(issued by another CA, revoked or expired?)"
                    )
            else:
                if resp.status_code < 500:
                    log.debug(
                        "%s %s -> %s in %.0f ms", method, path, resp.status_code, 1000 * (time.monotonic() - started)
                    )
                    return self._raise_for_status(resp)
                reason = f"HTTP {resp.status_code}: {resp.text[:200]}"
            now = time.monotonic()
            if now + delay > deadline:
                tried = ", ".join(self.endpoints)
                raise SNUnavailable(
                    f"Unable to contact API-Server at {tried} ({reason}); check that the SN is running, "
                    "that --sn-ip/--sn-api-port are right and that its certificate is from the swarm's CA"
                )
            failing_since = now if failing_since is None else failing_since
            if now - failing_since >= self.failover_after and len(self._endpoints) > 1:
                self._fail_over(reason)
                failing_since, delay = None, 0.2
                continue
            log.warning("SN API %s unreachable (%s); retrying in %.1fs", self.base_url, reason, delay)
            time.sleep(delay)  # back-off between retries of a failed request, bounded by retry_seconds
            delay = min(delay * 2, 5.0)

    @staticmethod
    def _raise_for_status(resp: httpx.Response) -> httpx.Response:
        if resp.status_code < 400:
            return resp
        try:
            body = api.ErrorBody.model_validate(resp.json())
            message = body.message
        except (ValueError, TypeError):
            message = resp.text[:300]
        if resp.status_code == 409:
            raise ContractRevert(message)
        raise NetworkError(
            f"SN API {resp.request.method} {resp.request.url.path} failed ({resp.status_code}): {message}"
        )

    def _get(self, path: str, model: type[M], **params: Any) -> M:
        return model.model_validate(self._request("GET", path, params=params or None).json())

    def _post(self, path: str, body: BaseModel | None = None) -> httpx.Response:
        return self._request("POST", path, json=body.model_dump() if body is not None else None)

    # -- API ---------------------------------------------------------------------------------------------------
    def is_up(self) -> bool:
        return self._request("GET", "/is_up").text.strip() == "OK"

    def info(self) -> api.SNInfo:
        return self._get("/info", api.SNInfo)

    def wait_for_change(self, after: int, timeout: float) -> int:
        resp = self._request("GET", "/chain/wait", params={"after": after, "timeout": timeout}, timeout=timeout + 30)
        return api.ChainHeight.model_validate(resp.json()).height

    def register(self, kind: api.NodeKind, host: str, port: int) -> api.NodeView:
        return api.NodeView.model_validate(
            self._post("/nodes", api.RegisterNode(kind=kind, host=host, port=port)).json()
        )

    def heartbeat(self) -> None:
        self._post("/nodes/heartbeat")

    def nodes(self) -> list[api.NodeView]:
        return TypeAdapter(list[api.NodeView]).validate_python(self._request("GET", "/nodes").json())

    def trainings(self) -> list[str]:
        return list(self._request("GET", "/trainings").json())

    def create_training(self, name: str) -> api.TrainingView:
        return api.TrainingView.model_validate(self._post("/trainings", api.CreateTraining(name=name)).json())

    def training(self, name: str) -> api.TrainingView:
        return self._get(f"/trainings/{name}", api.TrainingView)

    def training_status(self, name: str) -> api.TrainingStatus:
        return self._get(f"/trainings/{name}/status", api.TrainingStatus)

    def reset_training(self, name: str) -> None:
        self._post(f"/trainings/{name}/reset")

    def join(self, name: str, min_peers: int, eligible_leader: bool, leader_timeout_s: int) -> None:
        self._post(
            f"/trainings/{name}/join",
            api.JoinTraining(min_peers=min_peers, eligible_leader=eligible_leader, leader_timeout_s=leader_timeout_s),
        )

    def round(self, name: str, number: int, *, after: int | None = None, timeout: float = 10.0) -> api.RoundView:
        """The round's state; with ``after``, once the chain has grown past that height (or ``timeout`` passed)."""
        if after is None:
            return self._get(f"/trainings/{name}/rounds/{number}", api.RoundView)
        resp = self._request(
            "GET",
            f"/trainings/{name}/rounds/{number}",
            params={"after": after, "timeout": timeout},
            timeout=timeout + 30,
        )
        return api.RoundView.model_validate(resp.json())

    def check_in(self, name: str, number: int, body: api.CheckIn) -> None:
        self._post(f"/trainings/{name}/rounds/{number}/checkin", body)

    def close_round(self, name: str, number: int) -> None:
        self._post(f"/trainings/{name}/rounds/{number}/close")

    def publish_merge(self, name: str, number: int, body: api.PublishMerge) -> None:
        self._post(f"/trainings/{name}/rounds/{number}/merge", body)

    def take_over(self, name: str, number: int) -> None:
        self._post(f"/trainings/{name}/rounds/{number}/takeover")

    def report_progress(self, name: str, body: api.Progress) -> None:
        self._post(f"/trainings/{name}/progress", body)

    def finish(self, name: str) -> None:
        self._post(f"/trainings/{name}/finish")

    def history(self, training: str | None = None, limit: int | None = None) -> list[api.OperationView]:
        params: dict[str, Any] = {}
        if training:
            params["training"] = training
        if limit:
            params["limit"] = limit
        return TypeAdapter(list[api.OperationView]).validate_python(
            self._request("GET", "/history", params=params).json()
        )

    # -- SN network (issue 3) ----------------------------------------------------------------------------------
    def network(self) -> api.NetworkView:
        return self._get("/network", api.NetworkView)

    def block(self, number: int) -> api.BlockView:
        return self._get(f"/chain/blocks/{number}", api.BlockView)

    def network_join(self, body: api.NetworkJoin) -> api.NetworkJoinPlan:
        return api.NetworkJoinPlan.model_validate(self._post("/network/join", body).json())

    def network_ready(self, body: api.NetworkReady) -> api.NetworkRole:
        return api.NetworkRole.model_validate(self._post("/network/ready", body).json())

    def network_submit(self, body: api.NetworkSubmit) -> api.NetworkSubmitted:
        return api.NetworkSubmitted.model_validate(self._post("/network/submit", body).json())

    # -- tasks and task runners (issue 5): SWCI writes, SWOP listens/enrolls/reports, everyone reads ----------------
    def tasks(self) -> list[str]:
        """Registered task names, ROOTTASK first."""
        return list(self._request("GET", "/tasks").json())

    def create_task(self, name: str, task_type: str, author: str, prereq: str, outcome: str) -> api.TaskView:
        body = api.CreateTask(name=name, task_type=task_type, author=author, prereq=prereq, outcome=outcome)
        return api.TaskView.model_validate(self._post("/tasks", body).json())

    def task(self, name: str) -> api.TaskView:
        return self._get(f"/tasks/{_segment(name)}", api.TaskView)

    def task_body(self, name: str) -> api.TaskBody:
        return self._get(f"/tasks/{_segment(name)}/body", api.TaskBody)

    def write_task_body_chunk(self, name: str, index: int, text: str) -> api.TaskBodyWritten:
        """Append body chunk ``index`` (the next index) or replace an earlier one; at most 4096 UTF-8 bytes."""
        resp = self._post(f"/tasks/{_segment(name)}/body/{int(index)}", api.TaskBodyChunk(text=text))
        return api.TaskBodyWritten.model_validate(resp.json())

    def finalize_task(self, name: str) -> api.TaskView:
        return api.TaskView.model_validate(self._post(f"/tasks/{_segment(name)}/finalize").json())

    def delete_task(self, name: str) -> None:
        self._request("DELETE", f"/tasks/{_segment(name)}")

    def task_runners(self) -> list[str]:
        return list(self._request("GET", "/taskrunners").json())

    def create_task_runner(self, name: str) -> api.TaskRunnerView:
        return api.TaskRunnerView.model_validate(self._post("/taskrunners", api.CreateTaskRunner(name=name)).json())

    def task_runner(self, name: str) -> api.TaskRunnerView:
        return self._get(f"/taskrunners/{_segment(name)}", api.TaskRunnerView)

    def assign_task(
        self,
        runner: str,
        task: str,
        *,
        peers_needed: int | None = None,
        all_peers: bool = False,
        target: str | None = None,
    ) -> api.TaskRunnerView:
        """``ASSIGN TASK``: give exactly one of ``peers_needed``, ``all_peers=True`` or ``target`` (a SWOP uid)."""
        body = api.AssignTask(task=task, peers_needed=peers_needed, all_peers=all_peers, target=target)
        return api.TaskRunnerView.model_validate(self._post(f"/taskrunners/{_segment(runner)}/assign", body).json())

    def reset_task_runner(self, name: str) -> api.TaskRunnerView:
        return api.TaskRunnerView.model_validate(self._post(f"/taskrunners/{_segment(name)}/reset").json())

    def task_runner_peers(self, name: str) -> list[api.TaskPeerView]:
        resp = self._request("GET", f"/taskrunners/{_segment(name)}/peers")
        return TypeAdapter(list[api.TaskPeerView]).validate_python(resp.json())

    def task_runner_peer(self, name: str, uid: str) -> api.TaskPeerView:
        return self._get(f"/taskrunners/{_segment(name)}/peer", api.TaskPeerView, uid=uid)

    def task_runner_listeners(self, name: str) -> list[api.TaskListenerView]:
        resp = self._request("GET", f"/taskrunners/{_segment(name)}/listeners")
        return TypeAdapter(list[api.TaskListenerView]).validate_python(resp.json())

    def listen_on_task_runner(self, name: str, nodes: int, stale_after: float = 0.0) -> None:
        """SWOP: listen on task runner ``name`` with ``nodes`` SL/ML pairs in the profile (as this certificate); called
        again, a beat. ``stale_after`` > 0: seconds without a beat after which its unfinished workers count as lost."""
        body = api.ListenOnTaskRunner(nodes=nodes, stale_after=stale_after)
        self._post(f"/taskrunners/{_segment(name)}/listen", body)

    def stop_listening_on_task_runner(self, name: str) -> None:
        self._post(f"/taskrunners/{_segment(name)}/stop-listening")

    def enroll_in_task_runner(self, name: str, run: int, workers: Sequence[str] = ()) -> None:
        """SWOP: take part in run ``run`` (RUN_SWARM: naming the SL/ML pairs it starts)."""
        self._post(f"/taskrunners/{_segment(name)}/enroll", api.EnrollInTaskRunner(run=run, workers=list(workers)))

    def report_task(
        self,
        name: str,
        run: int,
        outcome: api.TaskReportOutcome,
        description: str = "",
        worker: str | None = None,
    ) -> None:
        """SWOP: a worker's progress note, success or failure (``description`` is the failure's reason)."""
        body = api.TaskReport(run=run, outcome=outcome, description=description, worker=worker)
        self._post(f"/taskrunners/{_segment(name)}/report", body)


def _segment(name: str) -> str:
    """A name as one URL path segment (spaces and other reserved characters escaped)."""
    return quote(name, safe="")
