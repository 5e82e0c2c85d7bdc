"""Task runners with PROCESS SWOPs: a SWOP killed mid-task, a reset mid-task, two trainings at once (issue 6).

One sentinel SN per test and real ``python -m swop.cli`` processes, driven from a SWCI session (``swci-1``):

- a SWOP killed with SIGKILL while its RUN_SWARM trains stops beating on its task runner; the runner reports it
  failed with a reason naming it (``WAIT FOR TASKRUNNER`` ends in ERROR), the restarted SWOP stops the SLs and MLs
  its killed life left running, and ``ASSIGN ... TARGET`` to it completes the task;
- ``RESET TASKRUNNER`` while a RUN_SWARM trains stops what the task started, and the SWOP takes the next task;
- two SWOPs listening on two task runners train two different models at the same time, each in its own training
  contract, each to completion.
"""

from __future__ import annotations

import json
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from swarm_learning.sn_client import SNClient
from swci.session import SwciSession
from swop.executors.process import process_start_time
from tests.conftest import CertFactory
from tests.integration.harness import PROGRAMS, Daemon, logs_of, spawn, start_sn
from tests.integration.swop_files import swci_ok, swop_profile
from tests.integration.test_swop_process import TR, _identity

TR2 = "secondtaskbb.taskdb.sml.hpe"
TRAINING = "defaultbb.cqdb.sml.hpe"  # the training contract of the tasks that name none
CONTRACT2 = "secondbb.cqdb.sml.hpe"
STALE_SECONDS = 6  # what the killed SWOP promises: the runner reports it lost after that long without a beat


def run_task(name: str, program: str, envvars: str) -> str:
    return textwrap.dedent(f"""\
        Name: {name}
        TaskType: RUN_SWARM
        Author: tester
        Prereq: ROOTTASK
        Outcome: {name}
        Body:
          Command: model/{program}
          Entrypoint: python3
          WorkingDir: /tmp/test
          Envvars: [{envvars}]
          PrivateContent: /tmp/test
          SharedContent:
            - Src: {PROGRAMS}
              Tgt: /tmp/test/model
              MType: BIND
        """)


PULL_TASK = textwrap.dedent("""\
    Name: pull_after_reset
    TaskType: PULL_IMAGE
    Author: tester
    Prereq: ROOTTASK
    Outcome: hub.example/tensorflow:2.7.0
    Body: {Tag: "2.7.0", RepoName: tensorflow, OrgAndReg: hub.example/, Auth: ~}
    """)


@dataclass
class Swop:
    """One SWOP process; ``start`` again after a kill keeps its profile and state folder."""

    uid: str
    usr: Path
    state: Path
    argv: list[str]
    env: dict[str, str]
    daemon: Daemon | None = None
    lives: int = 0

    def start(self) -> Daemon:
        self.lives += 1
        log = self.usr / f"swop-{self.lives}.log"
        self.daemon = Daemon(spawn(self.argv, log, self.env), log, 0)
        return self.daemon

    def output(self) -> str:
        return "\n".join(
            f"---- {log.name}\n{log.read_text(errors='replace')}" for log in sorted(self.usr.glob("*.log"))
        )

    def records(self) -> dict[int, int]:
        """pid -> start time of the SLs and MLs its executor runs now (``state/procs``)."""
        found = {}
        for path in (self.state / "procs").glob("*.json"):
            record = json.loads(path.read_text())
            found[int(record["pid"])] = int(record["start"])
        return found


@dataclass
class Network:
    sn: Daemon
    root: Path
    swarm_ca: CertFactory
    swops: dict[str, Swop] = field(default_factory=dict)

    def client(self) -> SNClient:
        return SNClient("127.0.0.1", self.sn.port, self.swarm_ca.identity("swci-1"), retry_seconds=10)

    def swci(self) -> SwciSession:
        return SwciSession(self.swarm_ca.identity("swci-1"), cwd=self.root, default_sn=("127.0.0.1", self.sn.port))

    def add_swop(self, uid: str, runner: str, sls: tuple[str, str], env: dict[str, str] | None = None) -> Swop:
        usr, group = self.root / uid, uid.replace("-", "")
        usr.mkdir()
        profile = swop_profile(group, runner, sls, self.swarm_ca, self.sn.port, self.root / "data")
        (usr / "profile.yaml").write_text(profile)
        argv = [sys.executable, "-m", "swop.cli", "--usr-dir", str(usr), "--profile-file-name", "profile.yaml",
                "--state-dir", str(usr / "state"), *_identity(self.swarm_ca, uid)]  # fmt: skip
        swop = Swop(uid, usr, usr / "state", argv, env or {})
        self.swops[uid] = swop
        swop.start()
        return swop

    def output(self) -> str:
        return "\n".join(f"==== {uid}\n{s.output()}" for uid, s in self.swops.items()) + logs_of(self.root)

    def wait_listening(self, runner: str, uid: str, timeout: float = 60) -> None:
        with_client(self, lambda c: uid in {li.peer for li in c.task_runner_listeners(runner)}, timeout, "listening")


@pytest.fixture
def network(tmp_path: Path, swarm_ca: CertFactory) -> Iterator[Network]:
    sn = start_sn(tmp_path / "sn", _identity(swarm_ca, "sn-1"))
    net = Network(sn, tmp_path, swarm_ca)
    try:
        yield net
    finally:
        for swop in net.swops.values():
            if swop.daemon is not None:
                swop.daemon.stop()
        sn.stop()


def with_client(net: Network, done: object, timeout: float, what: str) -> float:
    """Long-poll the chain until ``done(client)`` holds; returns the seconds it took (fails after ``timeout``)."""
    assert callable(done)
    client, started, height = net.client(), time.monotonic(), 0
    try:
        while time.monotonic() - started < timeout:
            if done(client):
                return time.monotonic() - started
            for swop in net.swops.values():
                assert swop.daemon is None or swop.daemon.popen.poll() in (None, -9), net.output()
            height = client.wait_for_change(height, 2)
    finally:
        client.close()
    raise AssertionError(f"not {what} within {timeout}s:\n{net.output()}")


def alive(pids: dict[int, int]) -> list[int]:
    return [pid for pid, start in pids.items() if process_start_time(pid) == start]


def final_digests(swop: Swop, task: str) -> set[str | None]:
    [run_dir] = sorted((swop.state / "runs").glob(f"{task}-*"))
    return {json.loads((run_dir / i / "sl" / "status.json").read_text()).get("final_weights_sha256") for i in "01"}


# ------------------------------------------------------------------------------------------ a SWOP killed mid-task


@pytest.mark.acceptance_swop
@pytest.mark.timeout(180)
def test_a_swop_killed_mid_run_swarm_is_reported_failed_and_a_target_reassignment_to_it_restarted_completes(
    network: Network,
) -> None:
    started = time.monotonic()
    # long enough (17 rounds) that the killed SWOP's orphans, which train on until the restarted SWOP stops them
    # (8-13 rounds here), cannot finish the training first
    (network.root / "run_long.yaml").write_text(
        run_task(
            "swarm_long_task", "tiny_torch.py", "MAX_EPOCHS: 4, MIN_PEERS: 2, BATCHES_PER_EPOCH: 8, SYNC_FREQUENCY: 2"
        )
    )
    swop = network.add_swop("swop-1", TR, ("sl-1", "sl-2"), {"SWOP_STALE_SECONDS": str(STALE_SECONDS)})
    network.wait_listening(TR, "swop-1")
    with network.swci() as swci:
        swci_ok(swci, "CREATE TASK FROM run_long.yaml")
        swci_ok(swci, "FINALIZE TASK swarm_long_task")
        swci_ok(swci, f"RESET TASKRUNNER {TR}")
        swci_ok(swci, f"ASSIGN TASK swarm_long_task TO {TR} WITH 2 PEERS")
        with_client(network, lambda c: len(swop.records()) == 4, 90, "running two SL/ML pairs")
        orphans = swop.records()
        # killed once both SLs train: when the restarted SWOP stops its orphans, the round then open may hold their
        # check-ins, which the re-run's SLs (same identities) supersede (test_local_swarm.py forces that case)
        with_client(network, lambda c: len(c.round(TRAINING, 1).participants) == 2, 90, "checked in to round 1")

        # SIGKILL mid-task: the SWOP reports nothing more, and its SLs and MLs (own sessions) keep running
        assert swop.daemon is not None
        swop.daemon.popen.kill()
        swop.daemon.popen.wait(10)
        killed = time.monotonic()
        assert sorted(alive(orphans)) == sorted(orphans)

        # WAIT FOR TASKRUNNER ends in ERROR once the SWOP has been silent for longer than it promised
        swci_ok(swci, "SET CONTEXT ENV default SWCI_RUN_TASK_MAX_WAIT_TIME 2")
        waited = swci.run_line(f"WAIT FOR TASKRUNNER {TR}")
        detected = time.monotonic() - killed
        assert not waited.ok and "ERROR" in (waited.error or ""), (waited.error, network.output())
        assert "swop-1" in (waited.error or "") and "stopped reporting" in (waited.error or ""), waited.error
        assert detected < STALE_SECONDS + 20, f"the lost SWOP was reported {detected:.1f}s after the kill"
        status = "\n".join(swci_ok(swci, f"GET TASKRUNNER STATUS {TR}"))
        assert "TASK_STATE : ERROR" in status and "LAST ERROR : swop-1/swop1-" in status, status
        assert f"ASSIGN TASK swarm_long_task TO {TR} TARGET swop-1" in status, status
        client = network.client()
        try:
            peer = client.task_runner_peer(TR, "swop-1")
        finally:
            client.close()
        assert [w.status for w in peer.workers] == ["FAILED", "FAILED"]
        assert all(w.description.startswith("SWOP swop-1 stopped reporting: last heartbeat") for w in peer.workers)

        # restarted on the same state folder, the SWOP first stops what its killed life left running
        swop.start()
        network.wait_listening(TR, "swop-1")
        with_client(network, lambda c: not alive(orphans), 30, "rid of the killed SWOP's SLs and MLs")
        stopped = [line for line in swop.output().splitlines() if "stopped what an earlier run" in line]
        assert stopped and all(f"(pid {pid})" in stopped[0] for pid in orphans), stopped

        # the operator re-assigns the task to it: the run completes
        swci_ok(swci, f"ASSIGN TASK swarm_long_task TO {TR} TARGET swop-1")
        lines = swci_ok(swci, f"WAIT FOR TASKRUNNER {TR}")
    assert "TASK_STATE : COMPLETE" in lines, network.output()
    client = network.client()
    try:
        assert [w.status for w in client.task_runner_peer(TR, "swop-1").workers] == ["COMPLETE", "COMPLETE"]
    finally:
        client.close()
    finals = final_digests(swop, "swarm_long_task")
    assert len(finals) == 1 and None not in finals, finals
    print(f"SIGKILL mid-task: reported lost after {detected:.1f}s; whole test {time.monotonic() - started:.1f}s")


# ------------------------------------------------------------------------------------------ RESET mid-task


@pytest.mark.timeout(150)
def test_reset_taskrunner_mid_run_swarm_stops_what_the_task_started_and_the_swop_takes_the_next_task(
    network: Network,
) -> None:
    started = time.monotonic()
    (network.root / "run_long.yaml").write_text(
        run_task("swarm_long_task", "tiny_torch.py", "MAX_EPOCHS: 50, MIN_PEERS: 2, BATCHES_PER_EPOCH: 8")
    )
    (network.root / "pull.yaml").write_text(PULL_TASK)
    swop = network.add_swop("swop-1", TR, ("sl-1", "sl-2"))
    network.wait_listening(TR, "swop-1")
    with network.swci() as swci:
        for line in ("CREATE TASK FROM run_long.yaml", "FINALIZE TASK swarm_long_task", "CREATE TASK FROM pull.yaml",
                     "FINALIZE TASK pull_after_reset", f"RESET TASKRUNNER {TR}",
                     f"ASSIGN TASK swarm_long_task TO {TR} WITH 2 PEERS"):  # fmt: skip
            swci_ok(swci, line)
        with_client(network, lambda c: len(swop.records()) == 4, 90, "running two SL/ML pairs")
        running = swop.records()

        swci_ok(swci, f"RESET TASKRUNNER {TR}")
        # gone, and struck from the SWOP's records (it strikes each one just after the process ended)
        took = with_client(
            network, lambda c: not alive(running) and not swop.records(), 30, "rid of the reset task's SLs and MLs"
        )
        assert swop.daemon is not None and swop.daemon.popen.poll() is None, swop.output()
        assert "was reset (run 1 is over, now run 2): stopping task swarm_long_task" in swop.output()

        # still listening: the next assignment runs
        swci_ok(swci, f"ASSIGN TASK pull_after_reset TO {TR} WITH 1 PEERS")
        lines = swci_ok(swci, f"WAIT FOR TASKRUNNER {TR}")
    assert "TASK_STATE : COMPLETE" in lines, swop.output()
    print(f"RESET mid-task: SLs and MLs gone {took:.1f}s after the reset; whole test {time.monotonic() - started:.1f}s")


# ------------------------------------------------------------------------------------------ two runners at once


@pytest.mark.acceptance_swop
@pytest.mark.timeout(240)
def test_two_task_runners_train_two_different_models_at_the_same_time_each_to_completion(network: Network) -> None:
    started = time.monotonic()
    envs = "MAX_EPOCHS: 2, MIN_PEERS: 2, BATCHES_PER_EPOCH: 8, SYNC_FREQUENCY: 4"
    (network.root / "run_a.yaml").write_text(run_task("swarm_linear_task", "tiny_torch.py", envs))
    (network.root / "run_b.yaml").write_text(
        run_task("swarm_three_class_task", "tiny_torch.py", f"{envs}, CLASSES: 3, TRAINING_CONTRACT: {CONTRACT2}")
    )
    with network.swci() as swci:
        # the second task runner and training contract exist before the SWOP that listens on it starts
        swci_ok(swci, f"CREATE TASKRUNNER {TR2}")
        swci_ok(swci, f"CREATE CONTRACT {CONTRACT2}")
        one = network.add_swop("swop-1", TR, ("sl-1", "sl-2"))
        two = network.add_swop("swop-2", TR2, ("sl-3", "sl-4"))
        network.wait_listening(TR, "swop-1")
        network.wait_listening(TR2, "swop-2")
        for line in ("CREATE TASK FROM run_a.yaml", "FINALIZE TASK swarm_linear_task", "CREATE TASK FROM run_b.yaml",
                     "FINALIZE TASK swarm_three_class_task", f"RESET TASKRUNNER {TR}", f"RESET TASKRUNNER {TR2}",
                     f"ASSIGN TASK swarm_linear_task TO {TR} WITH 2 PEERS",
                     f"ASSIGN TASK swarm_three_class_task TO {TR2} WITH 2 PEERS"):  # fmt: skip
            swci_ok(swci, line)
        waits = [swci.run_line(f"WAIT FOR TASKRUNNER {runner}") for runner in (TR, TR2)]
    for waited in waits:
        assert waited.ok and "TASK_STATE : COMPLETE" in waited.lines, (waited.error, network.output())
    elapsed = time.monotonic() - started

    client = network.client()
    try:
        views = [client.task_runner(runner) for runner in (TR, TR2)]
        trainings = {name: client.training(name) for name in (TRAINING, CONTRACT2)}
    finally:
        client.close()
    # both ran at the same time: each started before the other finished
    assert views[0].started_at < views[1].finished_at and views[1].started_at < views[0].finished_at, views
    # each in its own training contract, with its own SLs only
    members = {name: sorted(m.identity for m in t.members) for name, t in trainings.items()}
    assert members == {TRAINING: ["sl-1", "sl-2"], CONTRACT2: ["sl-3", "sl-4"]}, members
    assert all(t.over for t in trainings.values())
    # within each runner the two SLs ended with the same weights; the two models differ
    linear, three_class = final_digests(one, "swarm_linear_task"), final_digests(two, "swarm_three_class_task")
    assert len(linear) == 1 and len(three_class) == 1 and None not in linear | three_class, (linear, three_class)
    assert linear != three_class
    for sl, contract in (("sl-3", CONTRACT2), ("sl-4", CONTRACT2)):
        result = json.loads((network.root / "data" / sl / "scratch" / "result.json").read_text())
        assert result["training_contract"] == contract, result
    print(f"two task runners, two models at once: {elapsed:.1f}s")
