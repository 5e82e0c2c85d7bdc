"""The SWOP agent loop: listen on the profile's task runner, take an assigned task, execute it, report, repeat.

One task at a time. The agent watches the chain by long-polling ``SNClient.wait_for_change``; when the task runner
holds a run it has not tried yet (``WITH n PEERS`` / ``WITH ALL PEERS``), or a run that targets this SWOP and awaits
it (``TARGET <uid>``, also a re-assignment after a failure), it enrolls (RUN_SWARM: naming one worker per profile
node), executes the task through its executor and reports each worker's outcome. A run whose seats are taken
(the contract refuses the enrollment) is skipped. A set ``stop`` event (SIGTERM) ends the loop: a running task is
stopped and its unfinished workers are reported failed, then the SWOP stops listening.

Each task runs with its own cancel event (``TaskJob.stop``): set when the SWOP stops, or when the task runner's run
changes while the task executes (``RESET TASKRUNNER``, maybe followed by a new assignment) - the executor then stops
what it started and the SWOP listens for the next assignment.

Liveness: besides its node heartbeat, the SWOP beats on its task runner (it listens again) every ``stale_seconds / 3``
at most, promising a beat within ``stale_seconds``. A SWOP killed mid-task stops beating, and the SN then fails its
unfinished workers with a reason naming it (``TaskLedger.report_lost_peers``). At start the SWOP stops what an earlier
life of it left running (``Executor.clean_up_leftovers``) and fails the workers that life still had on chain.
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
    stale_seconds: float = 45.0  # promised to the task runner: at most this long without a beat (0: no promise)
    licensed: bool = False

    @property
    def beat_seconds(self) -> float:
        """How often the SWOP beats: three beats fit in the promised window, so one late beat is not fatal."""
        return min(self.heartbeat_seconds, self.stale_seconds / 3) if self.stale_seconds > 0 else self.heartbeat_seconds


class ChainReporter:
    """Reports a run's progress and outcomes to the task runner; a refused report is logged, not raised."""

    def __init__(self, client: SNClient, runner: str, run: int) -> None:
        self.client, self.runner, self.run = client, runner, run
        self.reported: set[str | None] = set()
        self.run_over = False  # the run was reset: reports about it would be refused

    def progress(self, worker: str | None, note: str) -> None:
        log.info("task runner %s run %s: %s %s", self.runner, self.run, worker or "SWOP", note)
        self._send("progress", note, worker)

    def finished(self, result: WorkerResult) -> None:
        if result.worker in self.reported:
            return
        self.reported.add(result.worker)
        outcome: api.TaskReportOutcome = "success" if result.ok else "failure"
        log.info(
            "task runner %s run %s: %s %s: %s%s",
            self.runner,
            self.run,
            result.worker or "SWOP",
            outcome,
            result.description,
            " (not reported: the run is over)" if self.run_over else "",
        )
        self._send(outcome, result.description or ("done" if result.ok else "failed"), result.worker)

    def _send(self, outcome: api.TaskReportOutcome, text: str, worker: str | None) -> None:
        if self.run_over:
            return
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
        stopped = self.executor.clean_up_leftovers()
        if stopped:
            log.warning("stopped what an earlier run of this SWOP left running: %s", ", ".join(stopped))
        node = self.client.register("swop", self.settings.host, 0)
        self.uid = node.identity
        self._listen()
        log.info(
            "SWOP %s listens on task runner %s with %d node(s) (beats every %g s, stale after %g s)",
            self.uid,
            self.runner,
            len(self.profile.sl_nodes),
            self.settings.beat_seconds,
            self.settings.stale_seconds,
        )
        try:
            self._fail_workers_of_an_earlier_life()
        except SwarmLearningError as exc:
            log.warning("cannot check this SWOP's earlier enrollment on %s: %s", self.runner, exc)
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

    def _listen(self) -> None:
        self.client.listen_on_task_runner(self.runner, len(self.profile.sl_nodes), self.settings.stale_seconds)

    def _heartbeat(self) -> None:
        while not self.stop.wait(self.settings.beat_seconds):
            try:
                self._listen()  # the beat the task runner judges this SWOP's liveness by
                self.client.heartbeat()
            except SwarmLearningError as exc:
                log.warning("heartbeat failed: %s", exc)

    def _fail_workers_of_an_earlier_life(self) -> None:
        """Workers this SWOP had running when it was killed are gone: report them failed (unless already done)."""
        view = self.client.task_runner(self.runner)
        if not view.exists or view.state == "IDLE":
            return
        peer = self.client.task_runner_peer(self.runner, self.uid)
        if not peer.exists or not peer.enrolled or peer.awaiting_target:
            return
        self.tried.add(view.run)  # enrolled by the earlier life: not again, unless targeted
        if peer.active == 0:
            return
        reason = (
            f"SWOP {self.uid} restarted while this worker ran (what it had started was stopped); "
            f"ASSIGN TASK {view.task} TO {self.runner} TARGET {self.uid} runs it again"
        )
        reporter = ChainReporter(self.client, self.runner, view.run)
        for worker in peer.workers:
            if worker.status in ("ENROLLED", "RUNNING"):
                reporter.finished(WorkerResult(worker.uid, False, reason))

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
            stop=threading.Event(),  # this job's cancel event, set by the watcher
        )
        done = threading.Event()
        watcher = threading.Thread(target=self._watch_run, args=(job, reporter, done), name="swop-watch", daemon=True)
        watcher.start()
        try:
            for result in self.executor.execute(job, reporter):
                reporter.finished(result)
        finally:
            done.set()
            watcher.join(self.settings.poll_seconds + 5)
        self.tasks_done += 1

    def _watch_run(self, job: TaskJob, reporter: ChainReporter, done: threading.Event) -> None:
        """Cancel ``job`` when the SWOP stops or the task runner leaves the run it belongs to (reset/replaced)."""
        height = 0
        while not done.is_set():
            if self.stop.is_set():
                job.stop.set()
                return
            try:
                view = self.client.task_runner(self.runner)
                if view.run != job.run:
                    log.warning(
                        "task runner %s was reset (run %s is over, now run %s): stopping task %s",
                        self.runner,
                        job.run,
                        view.run,
                        job.task.name,
                    )
                    reporter.run_over = True
                    job.stop.set()
                    return
                height = self.client.wait_for_change(height, self.settings.poll_seconds)
            except SwarmLearningError as exc:
                log.debug("watching task runner %s: %s", self.runner, exc)
                done.wait(1.0)  # back off after an SN error; ends at once when the task ends

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
