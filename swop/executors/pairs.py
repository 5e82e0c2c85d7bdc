"""``RUN_SWARM`` as every executor runs it: one SL and one ML per profile node, watched until each ML program ends.

The order is the same everywhere: start every SL, wait until each serves (its port file), start every ML program,
then poll: a worker succeeds when its ML program exits with 0 and fails when it exits otherwise or its SL dies
first. A failing step fails every worker not settled yet with its reason; a cancelled job (``TaskJob.stop``) fails
them with ``CANCELLED``. Whatever happens, every SL and ML started is stopped at the end. Subclasses say how a
pair's SL and ML are started, polled and stopped (processes, containers): the hooks below; ``H`` is their handle.
"""

from __future__ import annotations

import shutil
import time
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from swop.executors.base import (
    CANCELLED,
    Executor,
    ExecutorError,
    Reporter,
    TaskJob,
    WorkerResult,
    safe_name,
    worker_name,
)
from swop.schema import RunSwarmBody, SlNodeDef

H = TypeVar("H")

START_TIMEOUT_S = 180.0


@dataclass
class SwarmPair(Generic[H]):
    node: SlNodeDef
    worker: str
    folder: Path  # state_dir/runs/<task>-<run>/<idx>: logs, the SL's status.json
    sl: H
    ml: H | None = None
    result: WorkerResult | None = None


def run_folder(state_dir: Path, task: str, run: int) -> Path:
    return state_dir / "runs" / f"{safe_name(task)}-{run}"


class PairExecutor(Executor, Generic[H]):
    poll_seconds = 0.5

    def run_swarm(self, job: TaskJob, body: RunSwarmBody, reporter: Reporter) -> list[WorkerResult]:
        pairs: list[SwarmPair[H]] = []
        try:
            environment = self.prepare_run(job)
            for node in self.profile.sl_nodes:
                folder = run_folder(self.state_dir, job.task.name, job.run) / str(node.idx)
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True)
                pair = SwarmPair(node, worker_name(self.profile, node), folder, self.start_sl(job, node, folder))
                pairs.append(pair)
                reporter.progress(pair.worker, f"SL started {self.describe(pair.sl)}")
            for pair in pairs:
                self._wait_until_serving(job, pair)
            for pair in pairs:
                pair.ml = self.start_ml(job, body, pair, environment)
                reporter.progress(pair.worker, f"ML started {self.describe(pair.ml)}")
            self._watch(job, pairs, reporter)
        except ExecutorError as exc:
            for pair in pairs:
                if pair.result is None:
                    pair.result = WorkerResult(pair.worker, False, str(exc))
                    reporter.finished(pair.result)
            if not pairs:  # nothing started: every node fails for the same reason
                return [WorkerResult(worker, False, str(exc)) for worker in self.workers(job.task)]
        finally:
            for pair in pairs:
                self.finish_pair(job, pair)
            self.end_run(job)
        return [pair.result for pair in pairs if pair.result is not None]

    def _wait_until_serving(self, job: TaskJob, pair: SwarmPair[H]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.sl_serving(pair):
            if job.stop.is_set():
                raise ExecutorError(CANCELLED)
            code = self.exit_code(pair.sl)
            if code is not None:
                raise ExecutorError(f"SL of {pair.worker} exited with {code} at start; {self.log_hint(pair.sl)}")
            if time.monotonic() > deadline:
                raise ExecutorError(f"SL of {pair.worker} did not start within {START_TIMEOUT_S:.0f}s")
            job.stop.wait(0.2)  # bounded wait for the SL's port file; ends at once on cancel

    def _watch(self, job: TaskJob, pairs: list[SwarmPair[H]], reporter: Reporter) -> None:
        while any(p.result is None for p in pairs):
            for pair in pairs:
                if pair.result is not None or pair.ml is None:
                    continue
                ml_code = self.exit_code(pair.ml)
                if ml_code is not None:
                    note = "ML program finished" if ml_code == 0 else f"ML program exited with {ml_code}"
                    tail = "" if ml_code == 0 else f"; {self.log_hint(pair.ml)}"
                    pair.result = WorkerResult(pair.worker, ml_code == 0, note + tail)
                elif (sl_code := self.exit_code(pair.sl)) is not None:
                    self.stop(pair.ml)
                    pair.result = WorkerResult(
                        pair.worker, False, f"SL exited with {sl_code}; {self.log_hint(pair.sl)}"
                    )
                if pair.result is not None:
                    reporter.finished(pair.result)
            if job.stop.wait(self.poll_seconds):  # poll period of the pairs' states; ends early on cancel
                raise ExecutorError(CANCELLED)

    # -- hooks ----------------------------------------------------------------------------------------------------
    @abstractmethod
    def prepare_run(self, job: TaskJob) -> Any:
        """Check and prepare what every pair needs; returns the ML environment ``start_ml`` gets."""

    @abstractmethod
    def start_sl(self, job: TaskJob, node: SlNodeDef, folder: Path) -> H:
        """Start the node's SL."""

    @abstractmethod
    def sl_serving(self, pair: SwarmPair[H]) -> bool:
        """True once the SL wrote its port file (it registered and serves)."""

    @abstractmethod
    def start_ml(self, job: TaskJob, body: RunSwarmBody, pair: SwarmPair[H], environment: Any) -> H:
        """Start the node's ML program."""

    @abstractmethod
    def exit_code(self, handle: H) -> int | None:
        """None while it runs."""

    @abstractmethod
    def describe(self, handle: H) -> str:
        """How progress notes name it, e.g. ``(pid 123)``."""

    @abstractmethod
    def log_hint(self, handle: H) -> str:
        """Where its output is, or its last lines."""

    @abstractmethod
    def stop(self, handle: H) -> None:
        """Stop it now."""

    @abstractmethod
    def finish_pair(self, job: TaskJob, pair: SwarmPair[H]) -> None:
        """Stop the pair's ML and SL and keep what is worth keeping (logs, status.json)."""

    def end_run(self, job: TaskJob) -> None:
        """After every pair finished (default: nothing)."""
