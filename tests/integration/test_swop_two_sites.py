"""Two sites, each with its own SWOP, train one model together from one SWCI init script (issue 6, item 1).

One sentinel SN; two ``python -m swop.cli`` processes, ``swop-1`` and ``swop-2``, each with its own profile (two SL nodes, its own SL certificates and private data folders) and its own state folder. The
operator runs one init script: it builds the user environment on both SWOPs (``WITH 2 PEERS``: peers are SWOPs for
a build), then runs ``tiny_torch.py`` as a swarm of four SL/ML pairs (``WITH 4 PEERS``: for ``RUN_SWARM`` the peers
are SL/ML pairs, so ``WITH 2 PEERS`` would let the first SWOP's two pairs take every seat and the second SWOP be
refused). The four ML programs must end with the same weights and the task runner must end COMPLETE with both
SWOPs enrolled.

The same script runs twice: with the PROCESS executor (SL and ML as local processes, the user environment a
virtualenv) and with the DOCKER executor against a real Docker engine (``conftest.py``: the test's own ``dockerd``
and images): there the build task makes an image ``FROM swarm-learning/ml-pytorch``, SL and ML run as containers
on a Docker network whose gateway address the SN listens on.
"""

from __future__ import annotations

import json
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from swarm_learning.sn_client import SNClient
from swci.language import Command
from swci.language.commands import GetTaskRunnerStatus, WaitForTaskRunner
from swci.session import CommandResult, SwciSession
from swop.schema import RunSwarmBody, load_profile, load_task
from tests.conftest import CertFactory
from tests.integration.docker_engine import TAG, Engine, bridge_gateway
from tests.integration.harness import REPO, Daemon, logs_of, spawn, start_sn
from tests.integration.swop_files import Variant, swop_profile, wait_listening
from tests.integration.test_swop_process import BUILD, BUILD_TASK, ENV, RUN_TASK, TASK, TR, _identity

SWOPS = ("swop-1", "swop-2")
SL_CERTS = {"swop-1": ("sl-1", "sl-2"), "swop-2": ("sl-3", "sl-4")}
RUN_TASK_4 = RUN_TASK.replace("MIN_PEERS: 2", "MIN_PEERS: 4")
DIGITS = REPO / "examples" / "digits"
DOCKER_NETWORK = "swarm-swop-e2e"
# the DOCKER executor's build: an image from the project's PyTorch base (no registry here), checked by a RUN step
DOCKER_BUILD_TASK = f"""\
Name: {BUILD}
TaskType: MAKE_USER_CONTAINER
Author: tester
Prereq: ROOTTASK
Outcome: {ENV}
Body:
  BuildContext: ~
  BuildType: INLINE
  BuildSteps:
  - FROM swarm-learning/ml-pytorch:{TAG}
  - ' '
  - RUN python -c "import torch, swarmlearning.pyt; print('torch', torch.__version__)"
"""


def site_profile(swop: str, swarm_ca: CertFactory, sn_port: int, data: Path, variant: Variant) -> str:
    """A site's profile: two SL nodes, their own certificates and private folders."""
    return swop_profile(swop.replace("-", ""), TR, SL_CERTS[swop], swarm_ca, sn_port, data, variant)


def init_script(sn_host: str, sn_port: int) -> str:
    """The operator's SWCI init script: build on both SWOPs, then train with all four pairs."""
    return textwrap.dedent(f"""\
        # two sites, one swarm: build the user environment everywhere, then train with 4 SL/ML pairs
        EXIT ON FAILURE
        WAIT FOR IP {sn_host} {sn_port} 30
        CREATE CONTEXT twosites WITH IP {sn_host} {sn_port}
        SWITCH CONTEXT twosites
        SET CONTEXT ENV twosites SWCI_GENERIC_TASK_MAX_WAIT_TIME 2
        SET CONTEXT ENV twosites SWCI_RUN_TASK_MAX_WAIT_TIME 3

        CREATE TASK FROM taskdefs/build_tiny.yaml
        FINALIZE TASK {BUILD}
        CREATE TASK FROM taskdefs/run_tiny.yaml
        FINALIZE TASK {TASK}

        RESET TASKRUNNER {TR}
        ASSIGN TASK {BUILD} TO {TR} WITH 2 PEERS
        WAIT FOR TASKRUNNER {TR}
        LIST TASKRUNNER PEERS {TR}

        RESET TASKRUNNER {TR}
        ASSIGN TASK {TASK} TO {TR} WITH 4 PEERS
        WAIT FOR TASKRUNNER {TR}
        GET TASKRUNNER STATUS {TR}
        LIST TASKRUNNER PEERS {TR}
        EXIT
        """)


@dataclass
class TwoSites:
    variant: Variant
    sn: Daemon
    swops: dict[str, Daemon]
    state: dict[str, Path]  # each SWOP's state folder (environments, runs)
    data: Path  # private data folders, one per SL node
    swci: Path  # SWCI's directory: the init script's task definitions

    def output(self) -> str:
        return "\n".join(f"==== {name}\n{d.output()}" for name, d in self.swops.items()) + logs_of(self.data.parent)


@pytest.fixture(params=["PROCESS", pytest.param("DOCKER", marks=pytest.mark.docker)])
def variant(request: pytest.FixtureRequest) -> Iterator[Variant]:
    if request.param == "PROCESS":
        yield Variant("PROCESS", "127.0.0.1", "default", {}, BUILD_TASK)
        return
    engine: Engine = request.getfixturevalue("swarm_images")
    engine.docker("network", "create", DOCKER_NETWORK, check=False)
    try:
        host = bridge_gateway(engine, DOCKER_NETWORK)
        yield Variant("DOCKER", host, DOCKER_NETWORK, {"DOCKER_HOST": engine.host}, DOCKER_BUILD_TASK)
    finally:
        for image in (ENV,):
            engine.docker("image", "rm", "-f", image, check=False)
        engine.docker("network", "rm", DOCKER_NETWORK, check=False)


@pytest.fixture
def two_sites(tmp_path: Path, swarm_ca: CertFactory, variant: Variant) -> Iterator[TwoSites]:
    sn = start_sn(tmp_path / "sn", _identity(swarm_ca, "sn-1"), bind=variant.sn_host)
    swci = tmp_path / "swci"
    (swci / "taskdefs").mkdir(parents=True)
    (swci / "taskdefs" / "build_tiny.yaml").write_text(variant.build_task)
    (swci / "taskdefs" / "run_tiny.yaml").write_text(RUN_TASK_4)
    sites = TwoSites(variant, sn, {}, {}, tmp_path / "data", swci)
    try:
        for n, swop in enumerate(SWOPS, start=1):
            usr = tmp_path / f"usr{n}"
            usr.mkdir()
            profile = site_profile(swop, swarm_ca, sn.port, sites.data, variant)
            (usr / f"swop{n}_profile.yaml").write_text(profile)
            sites.state[swop] = tmp_path / f"state{n}"
            argv = [sys.executable, "-m", "swop.cli", "--usr-dir", str(usr), "--profile-file-name",
                    f"swop{n}_profile.yaml", "--state-dir", str(sites.state[swop]), *_identity(swarm_ca, swop)]  # fmt: skip
            log = tmp_path / f"swop{n}" / "swop.log"
            sites.swops[swop] = Daemon(spawn(argv, log, variant.env), log, 0)
        wait_listening(swarm_ca, (variant.sn_host, sn.port), TR, sites.swops, nodes=2)
        yield sites
    finally:
        for daemon in sites.swops.values():
            daemon.stop()
        sn.stop()


def _lines_of(results: list[CommandResult], kind: type[Command]) -> list[list[str]]:
    """The printed lines of every command of the script of type ``kind``."""
    return [result.lines for result in results if isinstance(result.command, kind)]


@pytest.mark.acceptance_swop
@pytest.mark.timeout(420)
def test_two_swops_build_and_train_four_pairs_to_the_same_weights_from_one_init_script(
    two_sites: TwoSites, swarm_ca: CertFactory
) -> None:
    started = time.monotonic()
    with SwciSession(swarm_ca.identity("swci-1"), cwd=two_sites.swci) as swci:
        script = swci.run_script(init_script(two_sites.variant.sn_host, two_sites.sn.port))
    elapsed = time.monotonic() - started
    transcript = "\n".join(line for r in script.results for line in [*(r.lines), *([r.error] if r.error else [])])
    assert script.exit_code == 0, f"stopped at line {script.stopped_at_line}:\n{transcript}\n{two_sites.output()}"

    # both WAIT FOR TASKRUNNER ended COMPLETE: the build on both SWOPs, then the swarm of four pairs
    waits = _lines_of(script.results, WaitForTaskRunner)
    assert len(waits) == 2, transcript
    for lines in waits:
        assert "TASK_STATE : COMPLETE" in lines, transcript
    [status] = _lines_of(script.results, GetTaskRunnerStatus)
    assert "ENROLLED SWOPS : 2" in status and "COMPLETED PEERS : 4" in status, "\n".join(status)

    client = SNClient(two_sites.variant.sn_host, two_sites.sn.port, swarm_ca.identity("swci-1"), retry_seconds=10)
    try:
        view = client.task_runner(TR)
        peers = client.task_runner_peers(TR)
    finally:
        client.close()
    assert (view.state, view.task, view.enrolled_peers, view.completed, view.failed) == ("COMPLETE", TASK, 2, 4, 0)
    assert sorted(p.uid for p in peers) == list(SWOPS)
    assert {w.uid: w.status for p in peers for w in p.workers} == {
        "swop1-0": "COMPLETE",
        "swop1-1": "COMPLETE",
        "swop2-0": "COMPLETE",
        "swop2-1": "COMPLETE",
    }

    # each SWOP built the user environment (a virtualenv in its state folder, or an image) and its ML programs ran in it
    for swop in SWOPS:
        if two_sites.variant.mgrtype == "PROCESS":
            env_python = two_sites.state[swop] / "envs" / ENV / "bin" / "python"
            assert env_python.exists(), two_sites.output()
            assert f"{env_python} model/tiny_torch.py" in two_sites.swops[swop].output()
        else:
            assert f"image {ENV}:latest)" in two_sites.swops[swop].output(), two_sites.output()

    # all four ML programs ended with the same final weights, written into each one's own private folder
    finals = {}
    for sl in ("sl-1", "sl-2", "sl-3", "sl-4"):
        result = json.loads((two_sites.data / sl / "scratch" / "result.json").read_text())
        finals[sl] = result["weights_sha256"]
    assert len(set(finals.values())) == 1, finals
    print(f"two SWOPs ({two_sites.variant.mgrtype}), build + RUN_SWARM of 4 pairs from one init script: {elapsed:.1f}s")


# ------------------------------------------------------------------------------- the digits example's SWOP files


def test_the_digits_example_profiles_and_task_definitions_are_valid_once_placeholders_are_replaced(
    tmp_path: Path,
) -> None:
    placeholders = {"<PROJECT-CERTS>": str(tmp_path / "cert"), "<PROJECT-MODEL>": str(DIGITS), "<PROJECT>": str(REPO)}

    def filled(path: Path) -> str:
        text = path.read_text()
        for key, value in placeholders.items():
            text = text.replace(key, value)
        return text

    profiles = [load_profile(filled(DIGITS / "swop" / f"swop{n}_profile.yaml")) for n in (1, 2)]
    assert [p.resourcemgr.mgrtype for p in profiles] == ["PROCESS", "PROCESS"]
    assert len({p.groupname for p in profiles}) == 2 and {p.taskrunner for p in profiles} == {TR}
    nodes = [node for p in profiles for node in p.sl_nodes]
    assert len(nodes) == 4
    certs = {attr.src for node in nodes for attr in node.identities if attr.a_type == "CERT"}
    assert len(certs) == 4  # one certificate per SL: an SN knows a node by its identity
    assert len({node.privatedata.src for node in nodes if node.privatedata is not None}) == 4

    build = load_task(filled(DIGITS / "swci" / "taskdefs" / "user_env_pyt_build_task.yaml"))
    run = load_task(filled(DIGITS / "swci" / "taskdefs" / "swarm_digits_task.yaml"))
    assert run.prereq == build.name
    assert isinstance(run.body, RunSwarmBody)
    assert [m.src for m in run.body.shared_content or []] == [str(DIGITS)]
