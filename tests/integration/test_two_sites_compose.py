"""Two organisations each run ``docker compose up`` for their site, train together, and survive an SN outage.

Issue 7, item 4. A stand-in for two hosts on one machine: two compose projects on their own networks, reaching each
other only through the ports they publish on the Docker bridge's gateway address (as two hosts reach each other's
published ports). Site 1 runs the ``sentinel`` profile, site 2 the ``join`` profile; each runs 2 SL/ML pairs of the
bundled digits example (PyTorch), so the training needs all 4 ML programs (``MIN_PEERS=4``).

Checks: every ML container ends with the same final model (file digest); both SNs agree on the chain (same network,
same block hash at the common height, same operation history); with site 1's SN stopped, site 2's SN still answers;
site 1's SN, started again, catches up (same height and head as site 2's).

The engine and images come from the session fixtures in ``conftest.py`` (``docker_engine.py``): the test's own
``dockerd``, a debootstrapped Debian base and ``make images``'s builds, unless ``SWARM_TEST_DOCKER_HOST`` names an
engine. The compose projects (containers, networks, volumes) are taken down at the end.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from certs.gen_cert import issue
from swarm_learning.sn_client import SNClient
from swarm_learning.tls import TLSIdentity
from tests.integration.docker_engine import REPO, SWARM_UID, TAG, Engine, bridge_gateway, run

pytestmark = [pytest.mark.acceptance_containers, pytest.mark.slow, pytest.mark.docker]

COMPOSE_FILE = REPO / "docker-compose.yml"
TRAIN_TIMEOUT = 900
PAIRS = ("1", "2")


@dataclass
class Site:
    index: int
    root: Path
    env_file: Path
    engine: Engine
    profile: str

    @property
    def sn_service(self) -> str:
        return "sn" if self.profile == "sentinel" else "sn-join"

    def compose(self, *args: str, timeout: float = 300, check: bool = True) -> str:
        files = ["-f", str(COMPOSE_FILE)]
        if os.environ.get("SWARM_TEST_COMPOSE_OVERRIDE"):  # an extra compose file, for experiments
            files += ["-f", os.environ["SWARM_TEST_COMPOSE_OVERRIDE"]]
        cmd = ["docker", "compose", *files, "--env-file", str(self.env_file), "--profile"]
        try:
            return run([*cmd, self.profile, *args], self.engine.env, timeout, check)
        except AssertionError as exc:
            logs = run([*cmd, self.profile, "logs", "--no-color", "--tail", "30"], self.engine.env, 60, check=False)
            raise AssertionError(f"{exc}\n--- logs of site {self.index} ---\n{logs}") from None

    def scratch(self, pair: str) -> Path:
        return self.root / "data" / f"ml-{pair}-scratch"


def make_site(root: Path, index: int, profile: str, engine: Engine, host: str, digits: Path) -> Site:
    certs = root / "cert"
    # etcd (the SN network's consensus) checks peer host names: an SN's certificate names the address it advertises
    issue(certs, f"sn-{index}", host_index=index, hosts=("localhost", "127.0.0.1", host))
    for name in (f"sl-{index}1", f"sl-{index}2"):
        issue(certs, name, host_index=index)
    (root / "usr" / "model").mkdir(parents=True)
    shutil.copy(REPO / "examples" / "digits" / "digits_pyt.py", root / "usr" / "model" / "train.py")
    for sub in ("sn", "license", "ml-1-scratch", "ml-2-scratch"):
        (root / "data" / sub).mkdir(parents=True)
    offset = 0 if index == 1 else 1000
    values = {
        "COMPOSE_PROJECT_NAME": f"swarm-e2e-site{index}-{os.getpid()}",
        "HOST_IP": host,
        "PUBLISH_ADDR": host,
        "SN_P2P_PORT": str(30303 + offset),
        "SN_API_PORT": str(30304 + offset),
        "SL_FS_PORT_1": str(30305 + offset),
        "SL_FS_PORT_2": str(30315 + offset),
        "SENTINEL_HOST": host,
        "SENTINEL_API_PORT": "30304",
        "CERT_DIR": str(certs),
        "SN_CERT_NAME": f"sn-{index}",
        "SL1_CERT_NAME": f"sl-{index}1",
        "SL2_CERT_NAME": f"sl-{index}2",
        "DATA_DIR": str(root / "data"),
        "USR_DIR": str(root / "usr"),
        "ML_DATA_1": str(digits / f"site-{2 * index - 1}"),
        "ML_DATA_2": str(digits / f"site-{2 * index}"),
        "ML_IMAGE": f"swarm-learning/ml-pytorch:{TAG}",
        "ML_COMMAND": "python model/train.py",
        "MIN_PEERS": "4",
        "SWARM_VERSION": TAG,
    }
    env_file = root / "site.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return Site(index, root, env_file, engine, profile)


def share_trust(sites: list[Site]) -> None:
    """Each site trusts every site's CA (the operators exchange their ca-<i>-cert.pem)."""
    for site in sites:
        for other in (s for s in sites if s is not site):
            for pem in (other.root / "cert" / "ca" / "capath").glob("ca-*-cert.pem"):
                shutil.copy(pem, site.root / "cert" / "ca" / "capath" / pem.name)
    for site in sites:
        subprocess.run(["chown", "-R", f"{SWARM_UID}:{SWARM_UID}", str(site.root)], check=True)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sn_client(site: Site, host: str, port: int) -> SNClient:
    certs = site.root / "cert"
    identity = TLSIdentity.from_options(
        certs / f"sl-{site.index}1-cert.pem", certs / f"sl-{site.index}1-key.pem", certs / "ca" / "capath"
    )
    return SNClient(host, port, identity, retry_seconds=30)


def wait_exited(engine: Engine, containers: list[str], timeout: float) -> dict[str, int]:
    """``docker wait`` every container (bounded); their exit codes."""
    codes = {}
    deadline = time.monotonic() + timeout
    for name in containers:
        left = max(1.0, deadline - time.monotonic())
        codes[name] = int(engine.docker("wait", name, timeout=left).strip())
    return codes


def test_two_sites_train_one_model_and_survive_an_sn_outage(swarm_images: Engine, tmp_path: Path) -> None:
    engine = swarm_images
    pytest.importorskip("sklearn", reason="the digits data are prepared with scikit-learn (extra `demo`)")
    digits = tmp_path / "digits"
    run([sys.executable, "-m", "examples.digits.prepare_data", "--out", str(digits), "--nodes", "4"],
        {**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)  # fmt: skip
    host = bridge_gateway(engine)
    site1 = make_site(tmp_path / "site1", 1, "sentinel", engine, host, digits)
    site2 = make_site(tmp_path / "site2", 2, "join", engine, host, digits)
    sites = [site1, site2]
    share_trust(sites)
    try:
        site1.compose("up", "-d", "--wait", "--wait-timeout", "180", "sn")
        site2.compose("up", "-d", "--wait", "--wait-timeout", "240", "sn-join")
        for site in sites:
            site.compose("up", "-d", "sl-1", "sl-2", "ml-1", "ml-2")
        project = {s.index: f"swarm-e2e-site{s.index}-{os.getpid()}" for s in sites}
        mls = [f"{project[s.index]}-ml-{p}-1" for s in sites for p in PAIRS]
        codes = wait_exited(engine, mls, TRAIN_TIMEOUT)
        assert codes == dict.fromkeys(mls, 0), {s.index: s.compose("logs", "--tail", "40") for s in sites}

        models = {f"site{s.index}/ml-{p}": digest(s.scratch(p) / "digits_pyt.pt") for s in sites for p in PAIRS}
        assert len(set(models.values())) == 1, models

        sn1, sn2 = sn_client(site1, host, 30304), sn_client(site2, host, 31304)
        net1, net2 = sn1.network(), sn2.network()
        assert net1.network_id == net2.network_id
        common = min(net1.height, net2.height)
        assert sn1.block(common).hash == sn2.block(common).hash
        # the same operations in the same blocks ("who" is rendered from each SN's own point of view)
        assert [op.model_dump(exclude={"who"}) for op in sn1.history()] == [
            op.model_dump(exclude={"who"}) for op in sn2.history()
        ]

        site1.compose("stop", "sn")
        assert sn2.is_up()
        assert sn2.history(), "site 2's SN answers with the chain history while site 1's SN is down"

        site1.compose("start", "sn")
        site1.compose("up", "-d", "--wait", "--wait-timeout", "180", "sn")
        deadline = time.monotonic() + 120
        while (view := sn1.network()).height < sn2.network().height and time.monotonic() < deadline:
            sn1.wait_for_change(view.height, timeout=5)  # long poll on the SN: no sleeping
        assert sn1.network().head_hash == sn2.network().head_hash
    finally:
        for site in reversed(sites):
            site.compose("down", "--volumes", "--timeout", "20", check=False)
