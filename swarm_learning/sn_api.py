"""Wire types of the SN API (JSON over HTTPS with mutual TLS), shared by the SN server and its clients.

The API is internal to the platform (SL, SWCI and SWOP call it); only ``GET /is_up`` -> ``OK`` is part of the
documented product. Reads are served from the SN's local chain state; a write returns once its transaction is in a
block of that SN's chain, so a read that follows a write on the same SN sees it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NodeKind = Literal["sn", "sl", "swop", "swci"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ErrorBody(_Model):
    code: str
    message: str


class RegisterNode(_Model):
    kind: NodeKind
    host: str
    port: int = Field(ge=0, le=65535)


class NodeView(_Model):
    identity: str
    kind: str
    host: str
    port: int
    last_seen: int
    account: str


class SNInfo(_Model):
    identity: str
    contract_address: str
    operator_address: str
    height: int
    head_hash: str


class CreateTraining(_Model):
    name: str = Field(min_length=1, max_length=200)


class JoinTraining(_Model):
    min_peers: int = Field(ge=1)
    eligible_leader: bool = True
    leader_timeout_s: int = Field(ge=1, default=600)


class MemberView(_Model):
    identity: str
    joined: bool
    finished: bool
    eligible: bool
    loss: float
    metric: float
    epochs_done: int
    total_epochs: int
    last_seen: int


class TrainingView(_Model):
    name: str
    exists: bool
    current_round: int
    min_peers: int
    over: bool
    members: list[MemberView]
    height: int


class TrainingStatus(_Model):
    name: str
    exists: bool
    current_round: int
    min_peers: int
    over: bool
    member_count: int
    finished_count: int
    height: int


class CheckIn(_Model):
    uri: str
    weightage: int = Field(ge=0, le=100)
    samples: int = Field(ge=0, default=0)
    final: bool = False


class CheckInView(_Model):
    identity: str
    uri: str
    weightage: int
    samples: int
    final: bool
    stale: bool = False  # checked in by an earlier run of the node, which has registered again since


class PublishMerge(_Model):
    uri: str
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    excluded: list[str] = []
    final: bool = False


class RoundView(_Model):
    training: str
    number: int
    participants: list[CheckInView]
    leader: str
    closed: bool
    merged: bool
    merged_uri: str
    digest: str
    excluded: list[str]
    opened_at: int
    closed_at: int
    final: bool
    height: int


class Progress(_Model):
    loss: float
    metric: float
    epochs_done: int = Field(ge=0)
    total_epochs: int = Field(ge=0)


class OperationView(_Model):
    block: int
    tx_hash: str
    timestamp: int
    who: str
    what: str
    args: dict[str, object]
    status: str


class ChainHeight(_Model):
    height: int


# -- SN network (issue 3): joining, forwarding writes, and the network's state -------------------------------------
# Only SN certificates may call the /network routes that change the network (join, ready, submit); any swarm
# certificate may read GET /network and GET /chain/blocks/{number}.


class NetworkJoin(_Model):
    """A joining SN's request: the URL its etcd member's peer port is reached at (https://HOST:P2P_PORT)."""

    peer_url: str = Field(min_length=9, max_length=300)


class NetworkJoinPlan(_Model):
    """The answer to a join: what the joiner starts its member with, and what it serves once caught up."""

    network_id: str
    member_name: str
    member_id: str  # hex
    initial_cluster: str
    contract_address: str
    identity_secret: str  # hex: every SN of a network derives the same account for a node identity
    height: int  # the answering SN's applied height: catch up to at least this before asking to be ready


class NetworkReady(_Model):
    """A joined SN has caught up: promote it if the voting set is small, let its operator register nodes."""

    peer_url: str
    operator_address: str
    api_host: str
    api_port: int = Field(ge=1, le=65535)


class NetworkRole(_Model):
    member_name: str
    voter: bool


class NetworkSubmit(_Model):
    """A learner SN forwards an entry (hex of its encoded form) to a voting SN, which appends it to the log."""

    entry: str


class NetworkSubmitted(_Model):
    seq: int


class NetworkMemberView(_Model):
    id: str
    name: str
    peer_urls: list[str]
    voter: bool
    leader: bool
    api: str | None  # host:port of its SN API when known


class NetworkView(_Model):
    network_id: str
    member_name: str
    voter: bool
    leader: str | None
    members: list[NetworkMemberView]
    applied: int  # the last log entry this SN applied (= its chain height)
    height: int
    head_hash: str
    error: str | None = None  # why the membership could not be read (e.g. this SN's etcd member is down)


class BlockView(_Model):
    number: int
    hash: str
    parent_hash: str
    timestamp: int
    transactions: int


# -- Tasks and task runners (issue 5): SWCI registers and assigns, SWOPs listen, enroll and report --------------------
# SWCI certificates may create/change tasks and task runners; SWOP certificates may listen, enroll and report (a SWOP
# always acts as itself: its peer uid is its certificate identity); every role may read. Times are seconds since the
# epoch with millisecond precision (the task contracts record milliseconds).

MAX_TASK_BODY_CHUNK_BYTES = 4096  # one body chunk per transaction (the SwarmTasks contract's limit)
MAX_TASK_BODY_BYTES = 32768
TaskReportOutcome = Literal["progress", "success", "failure"]


class CreateTask(_Model):
    name: str = Field(min_length=1, max_length=256)
    task_type: str = Field(min_length=1, max_length=64)
    author: str = Field(max_length=256)
    prereq: str = Field(max_length=256)
    outcome: str = Field(max_length=256)


class TaskView(_Model):
    name: str
    exists: bool
    task_type: str = ""
    author: str = ""
    prereq: str = ""
    outcome: str = ""
    state: str = ""  # CREATED or FINALIZED ("" when the task does not exist)
    finalized: bool = False
    body_hash: str = ""
    chunk_count: int = 0
    body_length: int = 0  # bytes
    use_count: int = 0
    held_by: str = ""
    creator: str = ""
    created_at: float = 0.0
    finalized_at: float = 0.0


class TaskBody(_Model):
    """A task's body as stored (UTF-8 text) and the byte length of each stored chunk, in order."""

    name: str
    body: str
    chunk_lengths: list[int]
    finalized: bool


class TaskBodyChunk(_Model):
    text: str = Field(min_length=1)


class TaskBodyWritten(_Model):
    name: str
    index: int
    chunk_count: int
    body_length: int
    gas_used: int


class CreateTaskRunner(_Model):
    name: str = Field(min_length=1, max_length=256)


class AssignTask(_Model):
    """Exactly one of: ``peers_needed`` (WITH n PEERS), ``all_peers`` (WITH ALL PEERS), ``target`` (TARGET uid)."""

    task: str = Field(min_length=1, max_length=256)
    peers_needed: int | None = Field(default=None, ge=1)
    all_peers: bool = False
    target: str | None = Field(default=None, min_length=1, max_length=256)

    @model_validator(mode="after")
    def _one_selection(self) -> AssignTask:
        chosen = (self.peers_needed is not None) + self.all_peers + (self.target is not None)
        if chosen != 1:
            raise ValueError("give exactly one of peers_needed, all_peers or target")
        return self


class TaskRunnerView(_Model):
    name: str
    exists: bool
    run: int = 0
    state: str = "IDLE"  # IDLE, ASSIGNED, RUNNING, COMPLETE or ERROR
    mode: str = "NONE"  # NONE, PEERS, ALL_PEERS or TARGET
    task: str = ""
    task_type: str = ""
    peer_type: str = ""  # SL for RUN_SWARM, SWOP otherwise, "" when idle
    peers_needed: int = 0
    enrolled_peers: int = 0
    pending_targets: int = 0
    active: int = 0
    completed: int = 0
    failed: int = 0
    error_peer: str = ""
    error_worker: str = ""
    error_reason: str = ""
    listeners: int = 0
    creator: str = ""
    assigned_by: str = ""
    created_at: float = 0.0
    assigned_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    changed_at: float = 0.0
    reset_at: float = 0.0


class TaskWorkerView(_Model):
    uid: str
    status: str  # ENROLLED, RUNNING, COMPLETE or FAILED
    description: str
    updated_at: float


class TaskPeerView(_Model):
    uid: str
    exists: bool
    status: str = ""  # WAITING, ENROLLED, RUNNING, COMPLETE or FAILED
    enrolled: bool = False
    targeted: bool = False
    awaiting_target: bool = False
    enrollment: int = 0
    active: int = 0
    completed: int = 0
    failed: int = 0
    enrolled_at: float = 0.0
    workers: list[TaskWorkerView] = []


class TaskListenerView(_Model):
    peer: str
    nodes: int
    since: float
    last_beat: float = 0.0  # the SWOP's last beat (listen call)
    stale_after: float = 0.0  # seconds without a beat after which its unfinished workers count as lost; 0 = never


class ListenOnTaskRunner(_Model):
    """Sent again, it is the SWOP's beat."""

    nodes: int = Field(ge=0)  # SL/ML pairs of the SWOP's profile
    stale_after: float = Field(default=0.0, ge=0)  # seconds without a beat before its workers count as lost; 0 = never


class EnrollInTaskRunner(_Model):
    run: int = Field(ge=0)
    workers: list[str] = []  # RUN_SWARM: the SL/ML pairs this SWOP starts; other task types: none


class TaskReport(_Model):
    run: int = Field(ge=0)
    outcome: TaskReportOutcome
    description: str = ""
    worker: str | None = None  # default: the SWOP itself (the one worker of non-RUN_SWARM tasks)
