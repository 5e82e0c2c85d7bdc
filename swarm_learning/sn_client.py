"""Client of the SN API, used by SL (and later SWCI/SWOP): typed calls, mutual TLS, bounded retries.

Transient failures (SN restarting, connection refused, 5xx) are retried with back-off for up to
``retry_seconds``; a contract revert (HTTP 409) is raised at once as :class:`ContractRevert`.
"""

from __future__ import annotations

import logging
import time
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from swarm_learning import sn_api as api
from swarm_learning.errors import ContractRevert, NetworkError, SNUnavailable
from swarm_learning.tls import TLSIdentity

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


class SNClient:
    def __init__(self, host: str, port: int, identity: TLSIdentity, *, retry_seconds: float = 120.0) -> None:
        self.base_url = f"https://{host}:{port}"
        self.retry_seconds = retry_seconds
        self._http = httpx.Client(
            base_url=self.base_url, verify=identity.client_context(), timeout=httpx.Timeout(60.0, connect=10.0)
        )

    def close(self) -> None:
        self._http.close()

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
        while True:
            started = time.monotonic()
            try:
                if timeout is None:
                    resp = self._http.request(method, path, json=json, params=params)
                else:
                    resp = self._http.request(method, path, json=json, params=params, timeout=timeout)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code < 500:
                    log.debug(
                        "%s %s -> %s in %.0f ms", method, path, resp.status_code, 1000 * (time.monotonic() - started)
                    )
                    return self._raise_for_status(resp)
                reason = f"HTTP {resp.status_code}: {resp.text[:200]}"
            if time.monotonic() + delay > deadline:
                raise SNUnavailable(
                    f"Unable to contact API-Server at {self.base_url} ({reason}); check that the SN is running, "
                    "that --sn-ip/--sn-api-port are right and that its certificate is from the swarm's CA"
                )
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
