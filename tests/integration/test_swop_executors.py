"""One suite, two executors: what a site's SWOP does for each task type, with PROCESS and with DOCKER.

Every test runs twice, against ``ProcessExecutor`` (SL and ML as local processes) and ``DockerExecutor`` (SL and ML
as containers of the test session's own Docker engine, ``conftest.py``), with a real SN for the SLs and a profile of
two nodes (certificates ``sl-1``, ``sl-2``). The executor is called the way the agent calls it (``execute`` with a
reporter); the agent's side (task runners, SWCI) is covered by ``test_swop_two_sites.py`` and ``test_swop_process.py``.

Where the two executors differ by design, the test says so: PROCESS has no image to pull, DOCKER needs an image for
the ML program (here the project's ``ml-pytorch`` base, as a user's build task would produce).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from swop.executors.base import Executor, SnAddress, TaskJob, WorkerResult
from swop.executors.process import ProcessExecutor
from swop.schema import load_profile, load_task
from tests.conftest import CertFactory
from tests.integration.docker_engine import TAG, Engine, bridge_gateway
from tests.integration.harness import PROGRAMS, Daemon, start_sn
from tests.integration.swop_files import Variant, processes_using
from tests.integration.test_swop_process import _identity
from tests.integration.test_swop_two_sites import site_profile

NETWORK = "swarm-executor-suite"
ML_IMAGE = f"swarm-learning/ml-pytorch:{TAG}"


@dataclass
class Recorder:
    """The reporter: what the executor said, in order."""

    notes: list[tuple[str | None, str]] = field(default_factory=list)
    results: list[WorkerResult] = field(default_factory=list)

    def progress(self, worker: str | None, note: str) -> None:
        self.notes.append((worker, note))

    def finished(self, result: WorkerResult) -> None:
        self.results.append(result)

    def said(self, text: str) -> int:
        return sum(text in note for _, note in self.notes)


@dataclass
class Site:
    kind: str
    new_executor: Callable[[], Executor]  # another executor for the same profile and state folder (a restarted SWOP)
    sn: Daemon
    sn_host: str
    state: Path
    data: Path
    leftovers: Callable[[], list[str]]  # what still runs of what the executor started
    ml_image: str | None  # the Prereq outcome a RUN_SWARM uses (None: PROCESS runs the SWOP's own interpreter)
    runs: int = 0
    executor: Executor = field(init=False)

    def __post_init__(self) -> None:
        self.executor = self.new_executor()

    def job(self, task_yaml: str, stop: threading.Event | None = None) -> TaskJob:
        self.runs += 1
        task = load_task(task_yaml)
        return TaskJob(task, self.executor.profile, self.runs, SnAddress(self.sn_host, self.sn.port), self.ml_image,
                       stop=stop or threading.Event())  # fmt: skip


@dataclass
class Platform:
    """One executor kind's surroundings, shared by the module's tests: an SN (and for DOCKER a network, an engine)."""

    variant: Variant
    sn: Daemon
    engine: Engine | None


@pytest.fixture(scope="module", params=["PROCESS", pytest.param("DOCKER", marks=pytest.mark.docker)])
def platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, swarm_ca: CertFactory
) -> Iterator[Platform]:
    engine: Engine | None = None
    if request.param == "DOCKER":
        engine = request.getfixturevalue("swarm_images")
        engine.docker("network", "create", NETWORK, check=False)
        variant = Variant("DOCKER", bridge_gateway(engine, NETWORK), NETWORK, {}, "")
    else:
        variant = Variant("PROCESS", "127.0.0.1", "default", {}, "")
    sn = start_sn(tmp_path_factory.mktemp("sn"), _identity(swarm_ca, "sn-1"), bind=variant.sn_host)
    try:
        yield Platform(variant, sn, engine)
    finally:
        sn.stop()
        if engine is not None:
            engine.docker("network", "rm", NETWORK, check=False)


@pytest.fixture
def site(platform: Platform, tmp_path: Path, swarm_ca: CertFactory) -> Site:
    state, data = tmp_path / "state", tmp_path / "data"
    variant, sn, engine = platform.variant, platform.sn, platform.engine
    profile = load_profile(site_profile("swop-1", swarm_ca, sn.port, data, variant))
    if engine is None:
        return Site("PROCESS", lambda: ProcessExecutor(profile, state), sn, "127.0.0.1", state, data,
                    processes_using(state, data), None)  # fmt: skip
    import docker

    from swop.executors.docker import LABEL, DockerExecutor

    client = docker.DockerClient(base_url=engine.host)

    def containers() -> list[str]:
        found = client.containers.list(all=True, filters={"label": f"{LABEL}={profile.groupname}"})
        return [f"container {c.name} ({c.status})" for c in found]

    return Site("DOCKER", lambda: DockerExecutor(profile, state, client=client), sn, variant.sn_host, state, data,
                containers, ML_IMAGE)  # fmt: skip


def run_task(program_env: str, shared: str | None = None, name: str = "plain_task") -> str:
    """A RUN_SWARM task of ``plain_program.py`` with the programs folder at ``model/`` and extra shared content."""
    extra = f"\n    - {shared}" if shared else ""
    return f"""\
Name: {name}
TaskType: RUN_SWARM
Author: tester
Prereq: some_build_task
Outcome: {name}
Body:
  Command: model/plain_program.py
  Entrypoint: python3
  WorkingDir: /tmp/test
  Envvars: [{program_env}]
  PrivateContent: /tmp/test
  SharedContent:
    - {{Src: {PROGRAMS}, Tgt: /tmp/test/model, MType: BIND}}{extra}
"""


def build_task(steps: list[str], context: str = "~") -> str:
    lines = "\n".join(f"  - {step}" for step in steps)
    return f"""\
Name: a_build_task
TaskType: MAKE_USER_CONTAINER
Author: tester
Prereq: ROOTTASK
Outcome: user-env-suite
Body:
  BuildContext: {context}
  BuildType: INLINE
  BuildSteps:
{lines}
"""


@pytest.mark.timeout(300)
def test_a_failing_build_step_fails_the_task_with_the_reason(site: Site) -> None:
    # the package does not exist: PROCESS's pip and the Docker build's RUN step both fail on it
    job = site.job(build_task([f"FROM {ML_IMAGE}", "RUN pip install --no-index no-such-package-for-swarm==9.9"]))
    recorder = Recorder()

    [result] = site.executor.execute(job, recorder)

    assert not result.ok and result.worker is None
    assert "no-such-package-for-swarm" in result.description, result.description


@pytest.mark.timeout(300)
def test_a_build_task_copies_the_client_wheel_from_the_sl_cli_lib_context(site: Site) -> None:
    # the product's build tasks COPY the client wheel out of the sl-cli-lib volume and pip install it
    steps = [f"FROM {ML_IMAGE}", "COPY *.whl /tmp/swarm-wheel/", "RUN ls /tmp/swarm-wheel/swarm_learning_open-*.whl"]
    recorder = Recorder()
    try:
        [result] = site.executor.execute(site.job(build_task(steps, context="sl-cli-lib")), recorder)
    finally:
        if site.kind == "DOCKER":
            site.executor.client.volumes.get("sl-cli-lib").remove(force=True)  # type: ignore[attr-defined]

    assert result.ok, result.description
    if site.kind == "DOCKER":  # PROCESS environments see the SWOP's own packages: no wheel to copy
        assert recorder.said("creating volume sl-cli-lib with swarm_learning_open-") == 1, recorder.notes


@pytest.mark.timeout(300)
def test_an_ml_program_that_fails_fails_its_worker_with_the_exit_code(site: Site) -> None:
    results = site.executor.execute(site.job(run_task("EXIT_CODE: 3")), Recorder())

    assert sorted(r.worker or "" for r in results) == ["swop1-0", "swop1-1"]
    for result in results:
        assert not result.ok and "exited with 3" in result.description, result
    assert site.leftovers() == []


@pytest.mark.timeout(300)
def test_content_made_by_a_content_task_is_what_the_ml_program_reads(site: Site, tmp_path: Path) -> None:
    source = tmp_path / "hello.txt"
    source.write_text("hello from the content task")
    volume = f"suite-content-{site.runs}-{os.getpid()}"
    content = f"""\
Name: content_task
TaskType: MAKE_SWARM_USER_CONTENT
Author: tester
Prereq: ROOTTASK
Outcome: {volume}
Body:
  ContentType: SWARMCONTENT
  OpsList:
    - Operation: DOWNLOAD
      Target: file://{source}
      Options: [Out: data/hello.txt]
"""
    [made] = site.executor.execute(site.job(content), Recorder())
    assert made.ok, made.description

    env = "EXPECT_FILE: /tmp/test/content/data/hello.txt, EXPECT_TEXT: hello from the content task"
    try:
        results = site.executor.execute(
            site.job(run_task(env, shared=f"{{Src: {volume}, Tgt: /tmp/test/content, MType: VOLUME}}")), Recorder()
        )
        assert [r.ok for r in results] == [True, True], results
    finally:
        if site.kind == "DOCKER":
            site.executor.client.volumes.get(volume).remove(force=True)  # type: ignore[attr-defined]


@pytest.mark.timeout(300)
def test_shared_content_that_does_not_exist_fails_every_worker_naming_it(site: Site, tmp_path: Path) -> None:
    missing = tmp_path / "not-here"
    task = run_task("EXIT_CODE: 0", shared=f"{{Src: {missing}, Tgt: /tmp/test/extra, MType: BIND}}")

    results = site.executor.execute(site.job(task), Recorder())

    assert sorted(r.worker or "" for r in results) == ["swop1-0", "swop1-1"]
    for result in results:
        assert not result.ok and str(missing) in result.description, result
    assert site.leftovers() == []


@pytest.mark.timeout(300)
def test_a_stopped_task_stops_every_sl_and_ml_it_started(site: Site) -> None:
    stop = threading.Event()
    recorder = Recorder()
    results: list[WorkerResult] = []
    job = site.job(run_task("SLEEP_SECONDS: 600"), stop=stop)
    runner = threading.Thread(target=lambda: results.extend(site.executor.execute(job, recorder)))
    runner.start()
    deadline = time.monotonic() + 180
    while recorder.said("ML ") < 2 and runner.is_alive() and time.monotonic() < deadline:
        time.sleep(0.2)  # polling the recorder for both ML programs' start, bounded
    assert recorder.said("ML ") == 2, recorder.notes
    assert site.leftovers(), "the SLs and ML programs run while the task runs"

    stop.set()
    runner.join(timeout=90)

    assert not runner.is_alive()
    assert sorted((r.worker, r.ok) for r in results) == [("swop1-0", False), ("swop1-1", False)]
    assert all("stopped" in r.description for r in results), results
    assert site.leftovers() == []


@pytest.mark.timeout(300)
def test_pulling_an_image_from_an_unreachable_registry_fails_naming_it_where_images_exist(site: Site) -> None:
    task = """\
Name: pull_task
TaskType: PULL_IMAGE
Author: tester
Prereq: ROOTTASK
Outcome: user-env-pulled
Body:
  OrgAndReg: 127.0.0.1:9/
  RepoName: nowhere
  Tag: "1.0"
  Auth: ~
"""
    [result] = site.executor.execute(site.job(task), Recorder())

    if site.kind == "PROCESS":  # no images: a pull has nothing to do and says so
        assert result.ok and "no image to pull" in result.description
    else:
        assert not result.ok and "cannot pull 127.0.0.1:9/nowhere:1.0" in result.description, result.description


@pytest.mark.timeout(300)
def test_a_restarted_swop_stops_what_its_killed_predecessor_left_running(site: Site) -> None:
    # the first executor starts a long task; a second one for the same profile and state folder (the SWOP after a
    # SIGKILL and a restart) must stop every SL and ML the first one started
    recorder, stop = Recorder(), threading.Event()
    job = site.job(run_task("SLEEP_SECONDS: 600"), stop=stop)
    first = threading.Thread(target=site.executor.execute, args=(job, recorder))
    first.start()
    try:
        deadline = time.monotonic() + 180
        while recorder.said("ML ") < 2 and first.is_alive() and time.monotonic() < deadline:
            time.sleep(0.2)  # polling the recorder for both ML programs' start, bounded
        assert recorder.said("ML ") == 2, recorder.notes
        running = site.leftovers()
        assert len(running) >= 4, running  # two SLs and two ML programs

        restarted = site.new_executor()
        stopped = restarted.clean_up_leftovers()

        assert len(stopped) >= 4, stopped
        assert site.leftovers() == []
    finally:
        stop.set()
        first.join(timeout=90)
