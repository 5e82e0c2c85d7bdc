"""The SN API: FastAPI app over the node's ledger service (served over mutual TLS by ``sn.server``).

Every route but ``/is_up`` acts as the caller's certificate identity (an SL can only check in as itself) and is
open only to the roles ``swarm_learning.roles.SN_API_POLICY`` lists for it: a refused call gets HTTP 403 naming the
caller's role, the endpoint and who may call it.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from sn import views
from sn.ledger_service import LedgerService
from sn.network import NotAnSN, SNNetwork
from sn.task_ledger import TaskLedger
from sn.task_routes import add_task_routes
from swarm_learning import sn_api as api
from swarm_learning.errors import ChainError, ContractRevert, RoleNotAllowed, SwarmLearningError
from swarm_learning.roles import SN_API_POLICY, EndpointPolicy, Peer, answer_refusals, certificate_kind

log = logging.getLogger(__name__)

sn_api_policy = EndpointPolicy("SN API", SN_API_POLICY)
Caller = Annotated[Peer, Depends(sn_api_policy)]
MAX_WAIT_SECONDS = 30.0


def create_app(
    ledger: LedgerService, own_identity: str, network: SNNetwork | None = None, tasks: TaskLedger | None = None
) -> FastAPI:
    app = FastAPI(title="Swarm Network API", version="1")
    answer_refusals(app)

    @app.exception_handler(NotAnSN)
    def _not_an_sn(request: Request, exc: NotAnSN) -> JSONResponse:
        log.warning("refused %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(status_code=403, content=api.ErrorBody(code=exc.code, message=str(exc)).model_dump())

    @app.exception_handler(ContractRevert)
    def _revert(_: Request, exc: ContractRevert) -> JSONResponse:
        return JSONResponse(status_code=409, content=api.ErrorBody(code=exc.code, message=exc.reason).model_dump())

    @app.exception_handler(ChainError)
    def _chain(_: Request, exc: ChainError) -> JSONResponse:
        log.error("chain failure: %s", exc)
        return JSONResponse(status_code=500, content=api.ErrorBody(code=exc.code, message=str(exc)).model_dump())

    @app.exception_handler(SwarmLearningError)
    def _other(_: Request, exc: SwarmLearningError) -> JSONResponse:
        return JSONResponse(status_code=400, content=api.ErrorBody(code=exc.code, message=str(exc)).model_dump())

    @app.get("/is_up", response_class=PlainTextResponse)
    def is_up() -> str:
        return "OK"

    @app.get("/info")
    def info(_: Caller) -> api.SNInfo:
        head = ledger.head()
        return api.SNInfo(
            identity=own_identity,
            contract_address=ledger.contract_address,
            operator_address=ledger.operator_address,
            height=head.height,
            head_hash=head.hash,
        )

    @app.get("/chain/wait")
    def wait_for_change(_: Caller, after: int, timeout: float = Query(10.0, ge=0)) -> api.ChainHeight:
        """Long poll: returns as soon as the chain grows past ``after`` (or after ``timeout`` seconds)."""
        return api.ChainHeight(height=ledger.wait_for_change(after, min(timeout, MAX_WAIT_SECONDS)))

    @app.post("/nodes")
    def register(caller: Caller, body: api.RegisterNode) -> api.NodeView:
        if caller.role != body.kind:
            raise RoleNotAllowed(
                f"{certificate_kind(caller.role)} ({str(caller)!r}) may not register a {body.kind} node: "
                "a node registers with the role of its certificate"
            )
        log.info("registering %s node %s at %s:%s", body.kind, caller, body.host, body.port)
        return views.node(ledger.register_node(caller, body.kind, body.host, body.port))

    @app.post("/nodes/heartbeat", status_code=204)
    def heartbeat(caller: Caller) -> None:
        ledger.heartbeat(caller)

    @app.get("/nodes")
    def nodes(_: Caller) -> list[api.NodeView]:
        return [views.node(n) for n in ledger.nodes()]

    @app.get("/trainings")
    def trainings(_: Caller) -> list[str]:
        return ledger.training_names()

    @app.post("/trainings", status_code=201)
    def create_training(caller: Caller, body: api.CreateTraining) -> api.TrainingView:
        ledger.create_training(caller, body.name)
        return views.training(ledger.training(body.name), ledger.nodes(), ledger.head().height)

    @app.get("/trainings/{name}")
    def training(_: Caller, name: str) -> api.TrainingView:
        height = ledger.head().height
        return views.training(ledger.training(name), ledger.nodes(), height)

    @app.get("/trainings/{name}/status")
    def training_status(_: Caller, name: str) -> api.TrainingStatus:
        """The counters of a training (cheap: no per-member reads)."""
        height = ledger.head().height
        return views.status(ledger.training_status(name), height)

    @app.post("/trainings/{name}/reset", status_code=204)
    def reset(caller: Caller, name: str) -> None:
        ledger.reset_training(caller, name)

    @app.post("/trainings/{name}/join", status_code=204)
    def join(caller: Caller, name: str, body: api.JoinTraining) -> None:
        ledger.join_training(caller, name, body.min_peers, body.eligible_leader, body.leader_timeout_s)

    @app.get("/trainings/{name}/rounds/{number}")
    def round_view(
        _: Caller, name: str, number: int, after: int | None = None, timeout: float = Query(10.0, ge=0)
    ) -> api.RoundView:
        """With ``after``: a long poll that answers once the chain has grown past that height (or at ``timeout``)."""
        if after is not None:
            ledger.wait_for_change(after, min(timeout, MAX_WAIT_SECONDS))
        height = ledger.head().height
        return views.round_(name, ledger.round(name, number), height)

    @app.post("/trainings/{name}/rounds/{number}/checkin", status_code=204)
    def check_in(caller: Caller, name: str, number: int, body: api.CheckIn) -> None:
        ledger.check_in(caller, name, number, body.uri, body.weightage, body.samples, body.final)

    @app.post("/trainings/{name}/rounds/{number}/close", status_code=204)
    def close(caller: Caller, name: str, number: int) -> None:
        ledger.close_round(caller, name, number)

    @app.post("/trainings/{name}/rounds/{number}/merge", status_code=204)
    def publish(caller: Caller, name: str, number: int, body: api.PublishMerge) -> None:
        ledger.publish_merge(caller, name, number, body.uri, body.digest, body.excluded, body.final)

    @app.post("/trainings/{name}/rounds/{number}/takeover", status_code=204)
    def takeover(caller: Caller, name: str, number: int) -> None:
        ledger.take_over_leadership(caller, name, number)

    @app.post("/trainings/{name}/progress", status_code=204)
    def progress(caller: Caller, name: str, body: api.Progress) -> None:
        ledger.report_progress(caller, name, body.loss, body.metric, body.epochs_done, body.total_epochs)

    @app.post("/trainings/{name}/finish", status_code=204)
    def finish(caller: Caller, name: str) -> None:
        ledger.finish_training(caller, name)

    @app.get("/history")
    def history(
        _: Caller, training: str | None = None, limit: int | None = Query(None, ge=1), heartbeats: bool = False
    ) -> list[api.OperationView]:
        ops = [views.operation(op) for op in ledger.history(training, None if not heartbeats else limit)]
        if not heartbeats:
            ops = [op for op in ops if op.what != "heartbeat"]
        return ops[-limit:] if limit else ops

    add_task_routes(app, tasks)
    if network is not None:
        _add_network_routes(app, ledger, network)
    return app


def _add_network_routes(app: FastAPI, ledger: LedgerService, network: SNNetwork) -> None:
    """The SN network's routes (``sn.network`` explains joining and forwarding; only SNs may call the POSTs)."""

    @app.get("/network")
    def network_view(_: Caller) -> api.NetworkView:
        head = ledger.head()
        return network.view(head.height, head.hash)

    @app.get("/chain/blocks/{number}")
    def block(_: Caller, number: int) -> api.BlockView:
        chain = network.chain
        if chain is None or not 0 <= number <= chain.height:
            raise HTTPException(status_code=404, detail=f"no block {number} on this SN")
        header = chain.header_at(number)
        return api.BlockView(
            number=number,
            hash="0x" + bytes(header.hash).hex(),
            parent_hash="0x" + bytes(header.parent_hash).hex(),
            timestamp=int(header.timestamp),
            transactions=len(chain.block_at(number).transactions),
        )

    @app.post("/network/join")
    def network_join(caller: Caller, body: api.NetworkJoin) -> api.NetworkJoinPlan:
        return network.handle_join(caller, body, ledger)

    @app.post("/network/ready")
    def network_ready(caller: Caller, body: api.NetworkReady) -> api.NetworkRole:
        return network.handle_ready(caller, body, ledger)

    @app.post("/network/submit")
    def network_submit(caller: Caller, body: api.NetworkSubmit) -> api.NetworkSubmitted:
        return network.handle_submit(caller, body)
