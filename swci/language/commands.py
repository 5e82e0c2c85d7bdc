"""One frozen dataclass per SWCI command: what the parser returns and what the shell executes.

Every command carries ``line`` (1-based line number in its script; 1 for a single line) and ``source`` (the line as
written, for echoing; not compared). Arguments are keyword-able; optional arguments that the product defaults are
already resolved (e.g. ``WaitForIp.port == 30304`` when omitted); ``None`` means "the current context" where the
product allows omitting a context name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_API_PORT = 30304
DEFAULT_WAIT_RETRIES = 360


@dataclass(frozen=True, kw_only=True)
class Command:
    """Base of every parsed command."""

    line: int = 1
    source: str = field(default="", compare=False, repr=False)


# --- contexts ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateContextWithIp(Command):
    context: str
    ip: str
    port: int = DEFAULT_API_PORT


@dataclass(frozen=True)
class CreateContextWithService(Command):
    context: str
    service: str  # fqdn[:port]; port 443 when absent


@dataclass(frozen=True)
class SwitchContext(Command):
    context: str


@dataclass(frozen=True)
class GetContextInfo(Command):
    context: str | None = None


@dataclass(frozen=True)
class GetContextEnv(Command):
    env: str
    context: str | None = None


@dataclass(frozen=True)
class ListContextEnv(Command):
    context: str | None = None


@dataclass(frozen=True)
class SetContextEnv(Command):
    env: str
    value: str
    context: str | None = None


@dataclass(frozen=True)
class GetContextVersion(Command):
    pass


@dataclass(frozen=True)
class ListContexts(Command):
    pass


# --- training contracts --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateContract(Command):
    contract: str


@dataclass(frozen=True)
class GetContractInfo(Command):
    contract: str


@dataclass(frozen=True)
class GetContractStatus(Command):
    contract: str


@dataclass(frozen=True)
class ListContracts(Command):
    pass


@dataclass(frozen=True)
class PerfData(Command):
    contract: str


@dataclass(frozen=True)
class ResetContract(Command):
    contract: str


@dataclass(frozen=True)
class History(Command):
    """Chain operations recorded for a contract (training contract or taskrunner): ours, not the product's."""

    contract: str
    last: int | None = None  # only the newest ``last`` operations; all when None


# --- tasks ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateTaskFrom(Command):
    path: str  # relative to SWCI's current directory


@dataclass(frozen=True)
class CreateTask(Command):
    task_type: str  # RUN_SWARM | MAKE_SWARM_USER_CONTENT | MAKE_USER_CONTAINER | PULL_IMAGE
    task: str
    author: str
    prereq: str
    outcome: str


@dataclass(frozen=True)
class AppendTaskBody(Command):
    task: str
    index: int  # >= 1
    content: str  # < 80 characters


@dataclass(frozen=True)
class FinalizeTask(Command):
    task: str


@dataclass(frozen=True)
class DeleteTask(Command):
    task: str


@dataclass(frozen=True)
class GetTaskInfo(Command):
    task: str


@dataclass(frozen=True)
class GetTaskBody(Command):
    task: str


@dataclass(frozen=True)
class ListTasks(Command):
    pass


# --- taskrunners ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WithPeers:
    """``WITH <n> PEERS``: at least ``count`` peers must succeed."""

    count: int


@dataclass(frozen=True)
class WithAllPeers:
    """``WITH ALL PEERS``: every SWOP listening on the taskrunner at assignment time."""


@dataclass(frozen=True)
class TargetSwop:
    """``TARGET <SWOP-UID>``: that one SWOP only (may join a running task)."""

    uid: str


PeerSelection = WithPeers | WithAllPeers | TargetSwop


@dataclass(frozen=True)
class CreateTaskRunner(Command):
    taskrunner: str


@dataclass(frozen=True)
class AssignTask(Command):
    task: str
    taskrunner: str
    peers: PeerSelection


@dataclass(frozen=True)
class GetTaskRunnerStatus(Command):
    taskrunner: str


@dataclass(frozen=True)
class GetTaskRunnerInfo(Command):
    taskrunner: str


@dataclass(frozen=True)
class GetTaskRunnerPeerStatus(Command):
    taskrunner: str
    peer: int | str  # enrolment index (int) or SWOP UID (str)


@dataclass(frozen=True)
class ListTaskRunners(Command):
    pass


@dataclass(frozen=True)
class ListTaskRunnerPeers(Command):
    taskrunner: str


@dataclass(frozen=True)
class ResetTaskRunner(Command):
    taskrunner: str


@dataclass(frozen=True)
class WaitForTaskRunner(Command):
    taskrunner: str


# --- miscellaneous -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeDirectory(Command):
    path: str


@dataclass(frozen=True)
class ListDirectory(Command):
    options: str = ""  # passed to ls as written


@dataclass(frozen=True)
class PrintWorkingDirectory(Command):
    pass


@dataclass(frozen=True)
class Exit(Command):
    pass


@dataclass(frozen=True)
class ExitOnFailure(Command):
    enabled: bool = True


@dataclass(frozen=True)
class ListNodes(Command):
    pass


@dataclass(frozen=True)
class Sleep(Command):
    seconds: float


@dataclass(frozen=True)
class WaitForIp(Command):
    ip: str
    port: int = DEFAULT_API_PORT
    retries: int = DEFAULT_WAIT_RETRIES


@dataclass(frozen=True)
class WaitForService(Command):
    service: str  # fqdn[:port]
    retries: int = DEFAULT_WAIT_RETRIES


@dataclass(frozen=True)
class Help(Command):
    topic: str | None = None  # upper-case command words, e.g. "CREATE CONTEXT"; None = list every command
