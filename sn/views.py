"""Conversion of the ledger service's values into the SN API's wire types (the one place that does it).

Chain timestamps are turned into seconds here (see ``sn.chain`` for the chain's clock unit).
"""

from __future__ import annotations

from sn.chain.engine import TICKS_PER_SECOND
from sn.chain.types import NodeInfo, Operation, RoundInfo, TrainingInfo
from swarm_learning import sn_api as api


def seconds(ticks: int) -> int:
    return int(ticks) // TICKS_PER_SECOND


def node(n: NodeInfo) -> api.NodeView:
    return api.NodeView(
        identity=n.identity, kind=n.kind, host=n.host, port=n.port, last_seen=seconds(n.last_seen), account=n.account
    )


def training(t: TrainingInfo, nodes: list[NodeInfo], height: int) -> api.TrainingView:
    seen = {n.identity: seconds(n.last_seen) for n in nodes}
    return api.TrainingView(
        name=t.name,
        exists=t.exists,
        current_round=t.current_round,
        min_peers=t.min_peers,
        over=t.over,
        members=[
            api.MemberView(
                identity=m.identity,
                joined=True,
                finished=m.finished,
                eligible=m.eligible_leader,
                loss=m.loss,
                metric=m.metric,
                epochs_done=m.epochs_done,
                total_epochs=m.total_epochs,
                last_seen=seen.get(m.identity, 0),
            )
            for m in t.members
        ],
        height=height,
    )


def round_(name: str, r: RoundInfo, height: int) -> api.RoundView:
    return api.RoundView(
        training=name,
        number=r.round,
        participants=[
            api.CheckInView(
                identity=c.identity, uri=c.uri, weightage=c.weightage, samples=c.samples, final=c.final, stale=c.stale
            )
            for c in r.check_ins
        ],
        leader=r.leader or "",
        closed=r.closed,
        merged=r.merged,
        merged_uri=r.merged_uri,
        digest=r.digest_hex,
        excluded=list(r.excluded),
        opened_at=seconds(r.opened_at),
        closed_at=seconds(r.closed_at),
        final=r.final,
        height=height,
    )


def operation(op: Operation) -> api.OperationView:
    return api.OperationView(
        block=op.block,
        tx_hash=op.tx_hash,
        timestamp=seconds(op.timestamp),
        who=op.who,
        what=op.what,
        args=dict(op.args),
        status=op.status,
    )


def status(t: TrainingInfo, height: int) -> api.TrainingStatus:
    return api.TrainingStatus(
        name=t.name,
        exists=t.exists,
        current_round=t.current_round,
        min_peers=t.min_peers,
        over=t.over,
        member_count=t.member_count,
        finished_count=t.finished_count,
        height=height,
    )
