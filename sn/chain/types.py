"""Plain values the ledger service returns (decoded from the contract; identities instead of addresses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class ChainHead:
    height: int
    hash: str  # 0x-prefixed
    timestamp: int = 0  # of the head block (chain time, milliseconds: sn.chain.engine.TICKS_PER_SECOND)


@dataclass(frozen=True)
class NodeInfo:
    identity: str
    account: str
    kind: str
    host: str
    port: int
    last_seen: int  # block timestamp (milliseconds) of the registration or the last heartbeat
    registered: bool


@dataclass(frozen=True)
class MemberInfo:
    identity: str
    account: str
    finished: bool
    eligible_leader: bool
    loss: float
    metric: float
    epochs_done: int
    total_epochs: int


@dataclass(frozen=True)
class TrainingInfo:
    name: str
    exists: bool
    current_round: int
    min_peers: int  # 0 until the first node joins
    over: bool
    finished_count: int
    members: tuple[MemberInfo, ...] = ()
    member_count: int = 0


@dataclass(frozen=True)
class CheckInInfo:
    identity: str
    account: str
    uri: str
    weightage: int
    samples: int
    final: bool
    stale: bool = False  # made by an earlier run of the node (it registered again since): its weights are gone


@dataclass(frozen=True)
class RoundInfo:
    training: str
    round: int
    participants: tuple[str, ...]  # identities, in check-in order
    check_ins: tuple[CheckInInfo, ...]
    leader: str | None  # identity
    closed: bool
    merged: bool
    merged_uri: str
    digest_hex: str  # sha256 of the merged weights, "" before the merge
    excluded: tuple[str, ...]
    opened_at: int
    closed_at: int
    final: bool


@dataclass(frozen=True)
class Operation:
    block: int
    tx_hash: str
    timestamp: int
    who: str  # node identity, "operator" (this SN) or "sn:<address>" (another SN / unknown account)
    what: str  # contract function name ("deploy" for the contract creation)
    args: dict[str, Any] = field(default_factory=dict)
    status: Literal["ok", "reverted"] = "ok"
