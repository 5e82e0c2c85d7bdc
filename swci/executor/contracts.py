"""Training-contract commands: create, info, status, list, PERFDATA, reset; and HISTORY (any contract's operations)."""

from __future__ import annotations

import time

from swarm_learning import sn_api as api
from swarm_learning.errors import SwarmLearningError
from swci.errors import SwciError
from swci.executor.render import age, key_values, number, progress_bar, table, when
from swci.executor.state import SessionState
from swci.language import commands as c

SILENT_AFTER_SECONDS = 60  # an SL that has not sent a heartbeat for this long (6 of its default periods) is flagged
_MAX_DETAILS = 70
_NAME_ARGS = ("name", "defaultTraining", "task", "runner", "defaultTaskRunner")


def _training(state: SessionState, name: str) -> api.TrainingView:
    view = state.sn().training(name)
    if not view.exists:
        raise SwciError(f"no training contract named {name}: LIST CONTRACTS shows the registered ones")
    return view


def create(state: SessionState, command: c.CreateContract) -> list[str]:
    state.sn_for_writing().create_training(command.contract)
    return [f"CONTRACT CREATED : {command.contract}"]


def info(state: SessionState, command: c.GetContractInfo) -> list[str]:
    view = _training(state, command.contract)
    address = state.sn().info().contract_address
    return key_values(
        [
            ("CONTRACT NAME", view.name),
            ("CONTRACT ADDRESS", address),
            ("MIN PEERS", view.min_peers or "not set (no SL has joined)"),
            ("SL NODES", ", ".join(m.identity for m in view.members)),
        ]
    )


def contract_state(status: api.TrainingStatus) -> str:
    """UNINITIALISED (new or reset), ACTIVE (SLs joined) or COMPLETED (training over)."""
    if status.over:
        return "COMPLETED"
    return "ACTIVE" if status.member_count else "UNINITIALISED"


def status(state: SessionState, command: c.GetContractStatus) -> list[str]:
    view = state.sn().training_status(command.contract)
    if not view.exists:
        raise SwciError(f"no training contract named {command.contract}: LIST CONTRACTS shows the registered ones")
    return key_values(
        [
            ("CONTRACT NAME", view.name),
            ("CONTRACT STATE", contract_state(view)),
            ("CURRENT ROUND", view.current_round),
            ("MIN PEERS", view.min_peers),
            ("SL NODES", view.member_count),
            ("FINISHED SL NODES", view.finished_count),
            ("CHAIN HEIGHT", view.height),
        ]
    )


def list_contracts(state: SessionState, _: c.ListContracts) -> list[str]:
    return state.sn().trainings()


def _leader(state: SessionState, view: api.TrainingView) -> str:
    if view.current_round <= 0:
        return ""
    try:
        return state.sn().round(view.name, view.current_round).leader
    except SwarmLearningError:  # the round is not readable (yet): no leader to show
        return ""


def sl_status(member: api.MemberView, now: float) -> str:
    """COMPLETED, NO HEARTBEAT (silent for a minute), TRAINING (epochs reported) or JOINED."""
    if member.finished:
        return "COMPLETED"
    if member.last_seen and now - member.last_seen > SILENT_AFTER_SECONDS:
        return "NO HEARTBEAT"
    return "TRAINING" if member.epochs_done or member.total_epochs else "JOINED"


def perfdata(state: SessionState, command: c.PerfData) -> list[str]:
    view = _training(state, command.contract)
    if not view.members:
        return [f"NO SL NODES HAVE JOINED : {view.name}"]
    leader = _leader(state, view)
    now = time.time()
    rows = [
        (
            m.identity,
            sl_status(m, now),
            m.identity == leader,
            number(m.loss),
            number(m.metric),
            f"{m.epochs_done}/{m.total_epochs}",
            progress_bar(m.epochs_done, m.total_epochs),
        )
        for m in view.members
    ]
    title = f"PERFDATA : {view.name} (round {view.current_round}, {len(view.members)} SL nodes)"
    return [title, *table(("UID", "STATUS", "LEADER", "LOSS", "METRIC", "EPOCHS", "PROGRESS"), rows)]


def reset(state: SessionState, command: c.ResetContract) -> list[str]:
    state.sn_for_writing().reset_training(command.contract)
    return [f"CONTRACT RESET : {command.contract}"]


def _arg(value: object) -> str:
    text = str(value)
    if text.startswith("0x") and len(text) > 44:  # bytes (a body chunk), not an address: its size is enough
        return f"<{(len(text) - 2) // 2} bytes>"
    return text


def _details(op: api.OperationView, name: str) -> str:
    shown = [f"{k}={_arg(v)}" for k, v in op.args.items() if not (k in _NAME_ARGS and v == name)]
    text = " ".join(shown)
    return text if len(text) <= _MAX_DETAILS else text[: _MAX_DETAILS - 3] + "..."


def history(state: SessionState, command: c.History) -> list[str]:
    ops = state.sn().history(training=command.contract, limit=command.last)
    if not ops:
        return [f"NO OPERATIONS RECORDED FOR : {command.contract}"]
    now = time.time()
    rows = [
        (
            op.block,
            when(op.timestamp),
            f"{age(op.timestamp, now)} ago",
            op.who,
            op.what,
            op.status,
            _details(op, command.contract),
        )
        for op in ops
    ]
    return table(("BLOCK", "WHEN (UTC)", "AGE", "WHO", "WHAT", "STATUS", "DETAILS"), rows)


HANDLERS = {
    c.CreateContract: create,
    c.GetContractInfo: info,
    c.GetContractStatus: status,
    c.ListContracts: list_contracts,
    c.PerfData: perfdata,
    c.ResetContract: reset,
    c.History: history,
}
