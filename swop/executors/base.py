"""The interface every executor implements: the four task types, the workers a task runs, and cancellation.

An executor never talks to the SN: the agent enrolls, then calls ``execute``; the executor reports progress through
the :class:`Reporter` it is given and returns one :class:`WorkerResult` per worker (the SWOP itself for build, pull
and content tasks; one SL/ML pair per profile node for ``RUN_SWARM``).
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from swarm_learning.errors import SwarmLearningError
from swop.schema import (
    MakeSwarmUserContentBody,
    MakeUserContainerBody,
    PullImageBody,
    RunSwarmBody,
    SlNodeDef,
    SwopProfile,
    TaskDefinition,
    TaskType,
)

CANCELLED = "the task was stopped: the SWOP stopped or its task runner was reset"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(name: str) -> str:
    """A task or outcome name as one folder name."""
    return _UNSAFE.sub("_", name).strip("._") or "_"


class ExecutorError(SwarmLearningError):
    """A task step failed on this site; the message is the reason reported on chain."""


class Reporter(Protocol):
    def progress(self, worker: str | None, note: str) -> None:
        """A step's note (``worker`` None = the SWOP itself)."""

    def finished(self, result: WorkerResult) -> None:
        """A RUN_SWARM worker ended (reported at once, so the task runner settles while others still run)."""


@dataclass(frozen=True)
class WorkerResult:
    worker: str | None  # None: the SWOP itself (build, pull and content tasks)
    ok: bool
    description: str


@dataclass(frozen=True)
class SnAddress:
    """Where the SLs this SWOP starts find their SN API."""

    host: str
    port: int


@dataclass
class TaskJob:
    """One task run as this site executes it."""

    task: TaskDefinition
    profile: SwopProfile
    run: int
    sn: SnAddress
    prereq_outcome: str | None = None  # RUN_SWARM: the Outcome of its Prereq task (the ML environment to run)
    licensed: bool = False  # True when this SWOP leases a seat: its SLs then use the profile's license server
    stop: threading.Event = field(default_factory=threading.Event)


def worker_name(profile: SwopProfile, node: SlNodeDef) -> str:
    """The uid a RUN_SWARM worker (one SL/ML pair) has on chain: ``<groupname>-<idx>``."""
    return f"{profile.groupname}-{node.idx}"


class Executor(ABC):
    """Runs tasks of the four types for one profile; subclasses implement one ``mgrtype``."""

    def __init__(self, profile: SwopProfile, state_dir: Path) -> None:
        self.profile = profile
        self.state_dir = state_dir

    def clean_up_leftovers(self) -> list[str]:
        """Stop what an earlier life of this SWOP started and left running (it was killed); names what was stopped.

        Called once at start, before listening. The default has nothing to clean up."""
        return []

    def workers(self, task: TaskDefinition) -> list[str]:
        """The workers this site enrolls for ``task``: one per profile node for RUN_SWARM, none otherwise."""
        if task.task_type is TaskType.RUN_SWARM:
            return [worker_name(self.profile, node) for node in self.profile.sl_nodes]
        return []

    def execute(self, job: TaskJob, reporter: Reporter) -> list[WorkerResult]:
        """Run the task; a failing step becomes a failed result (its message the reason), never an exception."""
        body = job.task.body
        try:
            if isinstance(body, RunSwarmBody):
                return self.run_swarm(job, body, reporter)
            if isinstance(body, MakeUserContainerBody):
                note = self.make_user_container(job, body, reporter)
            elif isinstance(body, PullImageBody):
                note = self.pull_image(job, body, reporter)
            elif isinstance(body, MakeSwarmUserContentBody):
                note = self.make_user_content(job, body, reporter)
            else:  # pragma: no cover - the schema admits only the four bodies
                raise ExecutorError(f"task type {job.task.task_type} is not supported")
        except ExecutorError as exc:
            return [WorkerResult(None, False, str(exc))]
        return [WorkerResult(None, True, note)]

    @abstractmethod
    def make_user_container(self, job: TaskJob, body: MakeUserContainerBody, reporter: Reporter) -> str:
        """Build the ML environment named by the task's ``Outcome``; returns the success note."""

    @abstractmethod
    def pull_image(self, job: TaskJob, body: PullImageBody, reporter: Reporter) -> str:
        """Fetch a prebuilt ML environment; returns the success note."""

    @abstractmethod
    def make_user_content(self, job: TaskJob, body: MakeSwarmUserContentBody, reporter: Reporter) -> str:
        """Stage the content named by the task's ``Outcome``; returns the success note."""

    @abstractmethod
    def run_swarm(self, job: TaskJob, body: RunSwarmBody, reporter: Reporter) -> list[WorkerResult]:
        """Start one SL/ML pair per profile node, wait for them (or ``job.stop``), one result per worker."""
