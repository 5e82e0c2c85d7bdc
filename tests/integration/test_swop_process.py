"""A SWOP with the PROCESS executor runs a swarm that an operator assigns from SWCI.

One sentinel SN, one ``python -m swop.cli`` whose profile holds two SL nodes (certificates ``sl-1`` and ``sl-2``,
one private folder each), and a SWCI session (``swci-1``) that registers a RUN_SWARM task for ``tiny_torch.py``,
assigns it ``WITH 1 PEERS`` and waits for the task runner.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from swarm_learning.sn_client import SNClient
from swci.session import SwciSession
from swop.executors.base import CANCELLED, SnAddress, TaskJob, WorkerResult
from swop.executors.process import ProcessExecutor, missing_requirements, pip_requirements
from swop.schema import load_profile, load_task
from tests.conftest import CertFactory
from tests.integration.harness import PROGRAMS, REPO, Daemon, logs_of, spawn, start_sn
from tests.integration.swop_files import processes_using, swci_ok, swop_profile, wait_listening

TR = "defaulttaskbb.taskdb.sml.hpe"
TASK = "swarm_tiny_task"
BUILD = "user_env_tiny_build_task"
ENV = "user-env-tiny"
SLS = ("sl-1", "sl-2")


RUN_TASK = f"""\
Name: {TASK}
TaskType: RUN_SWARM
Author: tester
Prereq: {BUILD}
Outcome: {TASK}
Body:
  Command: model/tiny_torch.py
  Entrypoint: python3
  WorkingDir: /tmp/test
  Envvars: [MAX_EPOCHS: 2, MIN_PEERS: 2, BATCHES_PER_EPOCH: 8, SYNC_FREQUENCY: 4]
  PrivateContent: /tmp/test
  SharedContent:
    - Src: {PROGRAMS}
      Tgt: /tmp/test/model
      MType: BIND
"""


BUILD_TASK = f"""\
Name: {BUILD}
TaskType: MAKE_USER_CONTAINER
Author: tester
Prereq: ROOTTASK
Outcome: {ENV}
Body:
  BuildContext: sl-cli-lib
  BuildType: INLINE
  BuildSteps:
  - FROM python:3.11-slim
  - ' '
  - RUN pip install --no-cache-dir numpy \\
  - "  torch && pip --version"
  - RUN pip install pip==23.3.2
"""


@dataclass
class Site:
    sn: Daemon
    swop: Daemon
    usr: Path
    data: Path


@pytest.fixture
def site(tmp_path: Path, swarm_ca: CertFactory) -> Iterator[Site]:
    sn_args = _identity(swarm_ca, "sn-1")
    sn = start_sn(tmp_path / "sn", sn_args)
    usr, data = tmp_path / "usr", tmp_path / "data"
    (usr / "taskdefs").mkdir(parents=True)
    (usr / "swop_profile.yaml").write_text(swop_profile("local", TR, SLS, swarm_ca, sn.port, data))
    (usr / "taskdefs" / "run_tiny.yaml").write_text(RUN_TASK)
    (usr / "taskdefs" / "build_tiny.yaml").write_text(BUILD_TASK)
    state = Site(sn, start_swop(usr, swarm_ca, tmp_path / "swop" / "swop.log"), usr, data)
    try:
        wait_listening(swarm_ca, ("127.0.0.1", sn.port), TR, {"swop-1": state.swop})
        yield state
    finally:
        state.swop.stop()
        sn.stop()


def start_swop(usr: Path, swarm_ca: CertFactory, log: Path) -> Daemon:
    argv = [sys.executable, "-m", "swop.cli", "--usr-dir", str(usr), "--profile-file-name", "swop_profile.yaml"]
    return Daemon(spawn([*argv, *_identity(swarm_ca, "swop-1")], log), log, 0)


def _identity(swarm_ca: CertFactory, name: str) -> list[str]:
    p = swarm_ca.paths(name)
    return ["--cert", str(p.cert), "--key", str(p.key), "--capath", str(p.capath)]


def _workers_done(swarm_ca: CertFactory, port: int, timeout: float) -> list[str]:
    """The statuses of the SWOP's workers once none is running any more (bounded by ``timeout``)."""
    client = SNClient("127.0.0.1", port, swarm_ca.identity("swci-1"), retry_seconds=10)
    deadline, height = time.monotonic() + timeout, 0
    try:
        while time.monotonic() < deadline:
            peer = client.task_runner_peer(TR, "swop-1")
            statuses = [w.status for w in peer.workers]
            if len(statuses) == 2 and all(s in ("COMPLETE", "FAILED") for s in statuses):
                return statuses
            height = client.wait_for_change(height, 2)
    finally:
        client.close()
    raise AssertionError(f"the SWOP's workers did not finish within {timeout}s")


def test_a_run_swarm_task_assigned_from_swci_trains_both_profile_nodes_to_the_same_weights(
    site: Site, swarm_ca: CertFactory
) -> None:
    started = time.monotonic()
    with SwciSession(swarm_ca.identity("swci-1"), cwd=site.usr, default_sn=("127.0.0.1", site.sn.port)) as swci:
        swci_ok(swci, "SET CONTEXT ENV default SWCI_RUN_TASK_MAX_WAIT_TIME 5")
        swci_ok(swci, "SET CONTEXT ENV default SWCI_GENERIC_TASK_MAX_WAIT_TIME 3")
        swci_ok(swci, "CREATE TASK FROM taskdefs/build_tiny.yaml")
        swci_ok(swci, f"FINALIZE TASK {BUILD}")
        swci_ok(swci, f"RESET TASKRUNNER {TR}")
        swci_ok(swci, f"ASSIGN TASK {BUILD} TO {TR} WITH 1 PEERS")
        built = swci_ok(swci, f"WAIT FOR TASKRUNNER {TR}")
        assert any("TASK_STATE : COMPLETE" in line for line in built), "\n".join(built) + site.swop.output()
        swci_ok(swci, "CREATE TASK FROM taskdefs/run_tiny.yaml")
        swci_ok(swci, f"FINALIZE TASK {TASK}")
        swci_ok(swci, f"RESET TASKRUNNER {TR}")
        swci_ok(swci, f"ASSIGN TASK {TASK} TO {TR} WITH 1 PEERS")
        try:
            lines = swci_ok(swci, f"WAIT FOR TASKRUNNER {TR}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{site.swop.output()}\n{logs_of(site.usr)}") from None
    assert any("TASK_STATE : COMPLETE" in line for line in lines), "\n".join(lines)
    statuses = _workers_done(swarm_ca, site.sn.port, timeout=240)
    assert statuses == ["COMPLETE", "COMPLETE"], site.swop.output() + logs_of(site.usr)

    # the ML programs ran in the user environment the build task made (a virtualenv named after its Outcome)
    env_python = site.usr / ".swop-local" / "envs" / ENV / "bin" / "python"
    assert env_python.exists()
    assert f"starting ML 0: {env_python} model/tiny_torch.py" in site.swop.output()

    runs = sorted((site.usr / ".swop-local" / "runs").glob(f"{TASK}-*"))
    assert runs, site.swop.output()
    digests = [json.loads((runs[-1] / str(i) / "sl" / "status.json").read_text()) for i in (0, 1)]
    finals = {d.get("final_weights_sha256") for d in digests}
    assert len(finals) == 1 and None not in finals, digests
    # each ML program wrote its result into its own private folder, under SCRATCH_DIR relative to WorkingDir
    assert (site.data / "sl-1" / "scratch" / "result.json").exists()
    assert (site.data / "sl-2" / "scratch" / "result.json").exists()
    print(f"RUN_SWARM through a PROCESS SWOP: {time.monotonic() - started:.1f}s")

    # SIGTERM: the SWOP stops listening on its task runner and exits with 0
    site.swop.stop()
    assert site.swop.popen.returncode == 0, site.swop.output()
    client = SNClient("127.0.0.1", site.sn.port, swarm_ca.identity("swci-1"), retry_seconds=10)
    try:
        assert not [listener.peer for listener in client.task_runner_listeners(TR)]
    finally:
        client.close()
    assert "SWOP stopped" in site.swop.output()


def test_a_run_swarm_whose_ml_program_fails_ends_the_task_runner_in_error_naming_the_worker(
    site: Site, swarm_ca: CertFactory
) -> None:
    broken = RUN_TASK.replace(f"Prereq: {BUILD}", "Prereq: ROOTTASK").replace("model/tiny_torch.py", "model/nope.py")
    (site.usr / "taskdefs" / "run_broken.yaml").write_text(broken)
    with SwciSession(swarm_ca.identity("swci-1"), cwd=site.usr, default_sn=("127.0.0.1", site.sn.port)) as swci:
        swci_ok(swci, "SET CONTEXT ENV default SWCI_RUN_TASK_MAX_WAIT_TIME 3")
        swci_ok(swci, "CREATE TASK FROM taskdefs/run_broken.yaml")
        swci_ok(swci, f"FINALIZE TASK {TASK}")
        swci_ok(swci, f"RESET TASKRUNNER {TR}")
        swci_ok(swci, f"ASSIGN TASK {TASK} TO {TR} WITH 1 PEERS")
        result = swci.run_line(f"WAIT FOR TASKRUNNER {TR}")
    assert not result.ok, "\n".join(result.lines)
    assert "ERROR" in (result.error or ""), result.error
    assert "swop-1" in (result.error or "") and "ML program exited with 2" in (result.error or ""), result.error
    assert _workers_done(swarm_ca, site.sn.port, timeout=60) == ["FAILED", "FAILED"]


# ------------------------------------------------------------------------ the executor's other task types, directly


class Notes:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def progress(self, worker: str | None, note: str) -> None:
        self.lines.append(note)

    def finished(self, result: WorkerResult) -> None:
        self.lines.append(result.description)


def _job(task_text: str, tmp_path: Path, swarm_ca: CertFactory) -> tuple[ProcessExecutor, TaskJob]:
    profile = load_profile(swop_profile("local", TR, SLS, swarm_ca, 1, tmp_path / "data"))
    task = load_task(task_text)
    return ProcessExecutor(profile, tmp_path / "state"), TaskJob(task, profile, 1, SnAddress("127.0.0.1", 1))


def test_user_content_is_downloaded_and_extracted_once_per_node_for_swarmcontent(
    tmp_path: Path, swarm_ca: CertFactory
) -> None:
    source = tmp_path / "src"
    (source / "pkg").mkdir(parents=True)
    (source / "pkg" / "model.py").write_text("print('hi')\n")
    archive = shutil.make_archive(str(tmp_path / "bundle"), "gztar", source)
    text = textwrap.dedent(f"""\
        Name: content_task
        TaskType: MAKE_SWARM_USER_CONTENT
        Author: tester
        Prereq: ROOTTASK
        Outcome: tiny-content
        Body:
          ContentType: SWARMCONTENT
          OpsList:
            - Operation: DOWNLOAD
              Target: file://{source}/pkg/model.py
              Options: [Out: model/model.py]
            - Operation: EXTRACT
              Target: {archive}
              Options: [Out: unpacked]
        """)
    executor, job = _job(text, tmp_path, swarm_ca)
    [result] = executor.execute(job, Notes())
    assert result.ok, result.description
    for idx in (0, 1):
        volume = tmp_path / "state" / "content" / "tiny-content" / str(idx)
        assert (volume / "model" / "model.py").read_text() == "print('hi')\n"
        assert (volume / "unpacked" / "pkg" / "model.py").exists()


def test_pull_image_succeeds_with_a_note_and_a_remote_build_fails_with_a_reason(
    tmp_path: Path, swarm_ca: CertFactory
) -> None:
    pull = textwrap.dedent("""\
        Name: pull-task-tf2
        TaskType: PULL_IMAGE
        Author: tester
        Prereq: ROOTTASK
        Outcome: hub.example/tensorflow:2.7.0
        Body: {Tag: "2.7.0", RepoName: tensorflow, OrgAndReg: hub.example/, Auth: ~}
        """)
    executor, job = _job(pull, tmp_path, swarm_ca)
    [result] = executor.execute(job, Notes())
    assert result.ok and "no image to pull" in result.description
    remote = BUILD_TASK.replace("BuildType: INLINE", "BuildType: REMOTE")
    executor, job = _job(remote, tmp_path, swarm_ca)
    [result] = executor.execute(job, Notes())
    assert not result.ok and "REMOTE" in result.description


@pytest.mark.timeout(120)
def test_stopping_a_build_task_stops_its_running_pip_install_and_reports_the_task_cancelled(
    tmp_path: Path, swarm_ca: CertFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a package index that accepts connections and never answers: without a stop, pip would wait minutes on it
    silent_index = socket.create_server(("127.0.0.1", 0))
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{silent_index.getsockname()[1]}/simple/")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.setenv("SWOP_PIP_INSTALL", "1")
    build = BUILD_TASK.replace("numpy \\", "swarm-test-never-published==0.0.1 \\")
    executor, job = _job(build, tmp_path, swarm_ca)
    pip_running = processes_using(tmp_path / "state" / "envs")

    class StopOncePipRuns(Notes):
        def progress(self, worker: str | None, note: str) -> None:
            super().progress(worker, note)
            if note.startswith("pip install"):
                threading.Thread(target=self._stop_when_pip_runs, daemon=True).start()

        def _stop_when_pip_runs(self) -> None:
            deadline = time.monotonic() + 60
            while not pip_running() and time.monotonic() < deadline:
                time.sleep(0.1)  # polling /proc for the pip process, bounded
            job.stop.set()

    try:
        [result] = executor.execute(job, StopOncePipRuns())
    finally:
        silent_index.close()
    assert not result.ok and CANCELLED in result.description, result.description
    assert pip_running() == []


def test_pip_lines_of_build_steps_name_their_requirements_and_installed_ones_are_not_missing() -> None:
    steps = ["FROM x", "RUN pip3 install -U --no-cache-dir numpy>=1 \\", "  torch && \\", "  pip install ./w.whl",
             "RUN pip install no-such-package-swop-test==9.9"]  # fmt: skip
    specs = pip_requirements(steps)
    assert specs == ["numpy>=1", "torch", "no-such-package-swop-test==9.9"]
    assert missing_requirements(specs) == ["no-such-package-swop-test==9.9"]


def test_a_swop_stopped_mid_task_reports_failure_and_a_target_reassignment_to_it_restarted_completes(
    site: Site, swarm_ca: CertFactory
) -> None:
    long_run = RUN_TASK.replace(f"Prereq: {BUILD}", "Prereq: ROOTTASK").replace("MAX_EPOCHS: 2", "MAX_EPOCHS: 3")
    (site.usr / "taskdefs" / "run_long.yaml").write_text(long_run)
    client = SNClient("127.0.0.1", site.sn.port, swarm_ca.identity("swci-1"), retry_seconds=10)
    try:
        with SwciSession(swarm_ca.identity("swci-1"), cwd=site.usr, default_sn=("127.0.0.1", site.sn.port)) as swci:
            swci_ok(swci, "CREATE TASK FROM taskdefs/run_long.yaml")
            swci_ok(swci, f"FINALIZE TASK {TASK}")
            swci_ok(swci, f"RESET TASKRUNNER {TR}")
            swci_ok(swci, f"ASSIGN TASK {TASK} TO {TR} WITH 1 PEERS")
        deadline, height = time.monotonic() + 120, 0
        while time.monotonic() < deadline:
            workers = client.task_runner_peer(TR, "swop-1").workers
            if len(workers) == 2 and all("ML started" in w.description for w in workers):
                break
            height = client.wait_for_change(height, 2)
        else:
            raise AssertionError("the ML programs did not start:\n" + site.swop.output())
        site.swop.stop()  # SIGTERM
        assert site.swop.popen.returncode == 0, site.swop.output()
        view = client.task_runner(TR)
        assert view.state == "ERROR" and view.error_peer == "swop-1", view
        assert "stopped" in view.error_reason, view.error_reason
        assert [w.status for w in client.task_runner_peer(TR, "swop-1").workers] == ["FAILED", "FAILED"]
        pids = [int(ln.split("(pid ")[1].split(")")[0]) for ln in site.swop.output().splitlines() if "(pid " in ln]
        assert len(pids) == 4 and not [pid for pid in pids if Path(f"/proc/{pid}").exists()]

        # the SWOP restarts; the operator re-assigns the same task to it: the run completes
        site.swop = start_swop(site.usr, swarm_ca, site.swop.log.with_name("swop-restarted.log"))
        wait_listening(swarm_ca, ("127.0.0.1", site.sn.port), TR, {"swop-1": site.swop})
        with SwciSession(swarm_ca.identity("swci-1"), cwd=site.usr, default_sn=("127.0.0.1", site.sn.port)) as swci:
            swci_ok(swci, "SET CONTEXT ENV default SWCI_RUN_TASK_MAX_WAIT_TIME 4")
            swci_ok(swci, f"ASSIGN TASK {TASK} TO {TR} TARGET swop-1")
            lines = swci_ok(swci, f"WAIT FOR TASKRUNNER {TR}")
        assert any("TASK_STATE : COMPLETE" in line for line in lines), "\n".join(lines) + site.swop.output()
        assert _workers_done(swarm_ca, site.sn.port, timeout=240) == ["COMPLETE", "COMPLETE"]
    finally:
        client.close()


@pytest.mark.acceptance_swop
def test_a_malformed_profile_stops_the_swop_at_start_with_one_line_naming_the_field(tmp_path: Path) -> None:
    good = (REPO / "tests" / "unit" / "data" / "swop" / "profiles" / "process_executor_profile.yaml").read_text()
    (tmp_path / "bad.yaml").write_text(good.replace("mgrtype: PROCESS", "mgrtype: PODMAN"))
    argv = [sys.executable, "-m", "swop.cli", "--usr-dir", str(tmp_path), "--profile-file-name", "bad.yaml"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    [line] = [ln for ln in done.stderr.splitlines() if "ERROR" in ln]
    assert "bad.yaml line 8" in line and "mgrtype" in line, line
    assert not (tmp_path / ".swop-local").exists()


def test_a_second_swop_on_the_same_state_folder_is_refused_and_the_first_keeps_listening(
    site: Site, swarm_ca: CertFactory
) -> None:
    argv = [sys.executable, "-m", "swop.cli", "--usr-dir", str(site.usr), "--profile-file-name", "swop_profile.yaml"]
    second = subprocess.run(
        [*argv, *_identity(swarm_ca, "swop-1")], capture_output=True, text=True, timeout=60, check=False
    )
    assert second.returncode == 2, second.stderr
    [line] = [ln for ln in second.stderr.splitlines() if "ERROR" in ln]
    assert f"another SWOP (pid {site.swop.popen.pid}) is running on the state folder" in line, line
    assert "give each SWOP its own groupname" in line, line
    # refused before it looked for leftovers (it would have stopped the first SWOP's SLs and MLs) or listened
    assert "stopped what an earlier run" not in second.stderr and "listens on task runner" not in second.stderr
    assert site.swop.popen.poll() is None, site.swop.output()
    wait_listening(swarm_ca, ("127.0.0.1", site.sn.port), TR, {"swop-1": site.swop})


@pytest.mark.acceptance_swop
def test_a_malformed_task_yaml_is_refused_by_swci_on_one_line_naming_the_field_and_nothing_is_started(
    site: Site, swarm_ca: CertFactory
) -> None:
    broken = {
        "bad_mtype.yaml": (RUN_TASK.replace("MType: BIND", "MType: NFS"), "MType"),
        "no_entrypoint.yaml": (RUN_TASK.replace("  Entrypoint: python3\n", ""), "Entrypoint"),
        "bad_type.yaml": (RUN_TASK.replace("TaskType: RUN_SWARM", "TaskType: RUN_SWARMS"), "TaskType"),
    }
    for name, (text, _) in broken.items():
        (site.usr / "taskdefs" / name).write_text(text)
    client = SNClient("127.0.0.1", site.sn.port, swarm_ca.identity("swci-1"), retry_seconds=10)
    try:
        tasks_before = client.tasks()
        with SwciSession(swarm_ca.identity("swci-1"), cwd=site.usr, default_sn=("127.0.0.1", site.sn.port)) as swci:
            for name, (_, what) in broken.items():
                result = swci.run_line(f"CREATE TASK FROM taskdefs/{name}")
                assert not result.ok and result.error is not None, (name, result.lines)
                assert "\n" not in result.error and result.error.startswith(f"taskdefs/{name}: line "), result.error
                assert what in result.error, result.error
            # the task was never registered, so it cannot be assigned: the SWOP starts nothing
            assign = swci.run_line(f"ASSIGN TASK {TASK} TO {TR} WITH 1 PEERS")
            assert not assign.ok and TASK in (assign.error or ""), assign.error
        assert client.tasks() == tasks_before
        view = client.task_runner(TR)
        assert (view.state, view.task) == ("IDLE", ""), view
    finally:
        client.close()
    assert site.swop.popen.poll() is None, site.swop.output()
    assert "ENROLL TO Task" not in site.swop.output()
    assert not (site.usr / ".swop-local" / "runs").exists()
