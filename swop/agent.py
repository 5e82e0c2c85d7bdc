"""The SWOP agent loop: listen on the profile's task runner, take an assigned task, execute it, report, repeat.

One task at a time. The agent watches the chain by long-polling ``SNClient.wait_for_change``; when the task runner
holds a run it has not tried yet (``WITH n PEERS`` / ``WITH ALL PEERS``), or a run that targets this SWOP and awaits
it (``TARGET <uid>``, also a re-assignment after a failure), it enrolls (RUN_SWARM: naming one worker per profile
node), executes the task through its executor and reports each worker's outcome. A run whose seats are taken
(the contract refuses the enrollment) is skipped. A set ``stop`` event (SIGTERM) ends the loop: a running task is
stopped and its unfinished workers are reported failed, then the SWOP stops listening.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import yaml

from swarm_learning import sn_api as api
from swarm_learning.errors import ContractRevert, SwarmLearningError
from swarm_learning.sn_client import SNClient
from swop.executors.base import Executor, SnAddress, TaskJob, WorkerResult
from swop.schema import SchemaError, SwopProfile, TaskDefinition, TaskType, load_task

log = logging.getLogger(__name__)

ACTIVE_STATES = ("ASSIGNED", "RUNNING")
MAX_NOTE_BYTES = 1000  # the task runner stores at most 1024 bytes per description
ROOT_TASK = "ROOTTASK"


def clip(text: str, limit: int = MAX_NOTE_BYTES) -> str:
    data = text.encode()
    return text if len(data) <= limit else data[: limit - 3].decode(errors="ignore") + "..."


@dataclass(frozen=True)
class AgentSettings:
    sn: SnAddress  # the SN API the SLs this SWOP starts use
    host: str = "127.0.0.1"  # this SWOP's address, as registered
    poll_seconds: float = 2.0  # longest wait for a chain change (bounds the reaction to SIGTERM)
    heartbeat_seconds: float = 15.0
    licensed: bool = False


class ChainReporter:
    """Reports a run's progress and outcomes to the task runner; a refused report is logged, not raised."""

    def __init__(self, client: SNClient, runner: str, run: int) -> None:
        self.client, self.runner, self.run = client, runner, run
        self.reported: set[str | None] = set()

    def progress(self, worker: str | None, note: str) -> None:
        log.info("task runner %s run %s: %s %s", self.runner, self.run, worker or "SWOP", note)
        self._send("progress", note, worker)

    def finished(self, result: WorkerResult) -> None:
        if result.worker in self.reported:
            return
        self.reported.add(result.worker)
        outcome: api.TaskReportOutcome = "success" if result.ok else "failure"
        log.info(
            "task runner %s run %s: %s %s: %s",
            self.runner,
            self.run,
            result.worker or "SWOP",
            outcome,
            result.description,
        )
        self._send(outcome, result.description or ("done" if result.ok else "failed"), result.worker)

    def _send(self, outcome: api.TaskReportOutcome, text: str, worker: str | None) -> None:
        try:
            self.client.report_task(self.runner, self.run, outcome, clip(text), worker)
        except ContractRevert as exc:  # e.g. the run was reset meanwhile, or already settled
            log.warning("task runner %s refused a %s report: %s", self.runner, outcome, exc)


class SwopAgent:
    def __init__(
        self,
        profile: SwopProfile,
        client: SNClient,
        executor: Executor,
        settings: AgentSettings,
        stop: threading.Event,
    ) -> None:
        self.profile = profile
        self.client = client
        self.executor = executor
        self.settings = settings
        self.stop = stop
        self.runner = profile.taskrunner
        self.uid = ""
        self.tried: set[int] = set()
        self.tasks_done = 0

    def run(self) -> None:
        """Register, listen, serve tasks until ``stop`` is set; always stops listening at the end."""
        node = self.client.register("swop", self.settings.host, 0)
        self.uid = node.identity
        self.client.listen_on_task_runner(self.runner, len(self.profile.sl_nodes))
        log.info("SWOP %s listens on task runner %s with %d node(s)", self.uid, self.runner, len(self.profile.sl_nodes))
        beat = threading.Thread(target=self._heartbeat, name="swop-heartbeat", daemon=True)
        beat.start()
        try:
            height = 0
            while not self.stop.is_set():
                try:
                    view = self.client.task_runner(self.runner)
                    if self._should_take(view):
                        self._take(view)
                    height = self.client.wait_for_change(height, self.settings.poll_seconds)
                except SwarmLearningError as exc:
                    log.warning("SWOP loop: %s", exc)
                    self.stop.wait(1.0)  # back off after an SN error; ends at once on stop
        finally:
            self.stop.set()
            beat.join(5)
            try:
                self.client.stop_listening_on_task_runner(self.runner)
            except SwarmLearningError as exc:
                log.warning("could not stop listening on %s: %s", self.runner, exc)

    def _heartbeat(self) -> None:
        while not self.stop.wait(self.settings.heartbeat_seconds):
            try:
                self.client.heartbeat()
            except SwarmLearningError as exc:
                log.debug("heartbeat failed: %s", exc)

    def _should_take(self, view: api.TaskRunnerView) -> bool:
        if not view.exists or view.state not in ACTIVE_STATES:
            return False
        if view.mode == "TARGET" or view.pending_targets > 0:
            peer = self.client.task_runner_peer(self.runner, self.uid)
            if peer.exists and peer.awaiting_target:
                return True
        return view.mode != "TARGET" and view.run not in self.tried

    def _take(self, view: api.TaskRunnerView) -> None:
        self.tried.add(view.run)
        try:
            task = self._read_task(view.task)
        except (SchemaError, SwarmLearningError) as exc:
            log.error("task %s cannot be read: %s", view.task, exc)
            task = None
        workers = self.executor.workers(task) if task is not None else []
        if task is None and view.task_type == TaskType.RUN_SWARM.value:
            workers = [f"{self.profile.groupname}-{n.idx}" for n in self.profile.sl_nodes]
        try:
            self.client.enroll_in_task_runner(self.runner, view.run, workers)
        except ContractRevert as exc:
            log.info("not taking run %s of %s: %s", view.run, self.runner, exc)
            return
        log.info("ENROLL TO Task : %s (run %s, workers %s)", view.task, view.run, workers or "-")
        reporter = ChainReporter(self.client, self.runner, view.run)
        if task is None:
            named: list[str | None] = list(workers) or [None]
            for worker in named:
                reporter.finished(WorkerResult(worker, False, f"task {view.task} cannot be read on this SWOP"))
            return
        job = TaskJob(
            task=task,
            profile=self.profile,
            run=view.run,
            sn=self.settings.sn,
            prereq_outcome=self._prereq_outcome(task),
            licensed=self.settings.licensed,
            stop=self.stop,
        )
        for result in self.executor.execute(job, reporter):
            reporter.finished(result)
        self.tasks_done += 1

    def _read_task(self, name: str) -> TaskDefinition:
        header = self.client.task(name)
        body = self.client.task_body(name).body
        document = {
            "Name": header.name,
            "TaskType": header.task_type,
            "Author": header.author,
            "Prereq": header.prereq,
            "Outcome": header.outcome,
            "Body": yaml.safe_load(body),
        }
        return load_task(yaml.safe_dump(document, sort_keys=False), name=f"task {name}")

    def _prereq_outcome(self, task: TaskDefinition) -> str | None:
        if task.prereq == ROOT_TASK:
            return None
        try:
            return self.client.task(task.prereq).outcome or None
        except SwarmLearningError as exc:
            log.warning("prerequisite %s of %s cannot be read: %s", task.prereq, task.name, exc)
            return None
