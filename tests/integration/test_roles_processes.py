"""A real SN (and SL) process lets each certificate do only what its role may, and drops a revoked node at once.

The module has its own CA (its CRL must not reach the session's CA path) and one SN, started with a certificate
that expires in 20 days, so its start-up log must warn about it.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from swarm_learning import DEFAULT_TRAINING_CONTRACT
from swarm_learning import sn_api as api
from swarm_learning.errors import NetworkError
from swarm_learning.sn_client import SNClient
from tests.conftest import CertFactory
from tests.integration.harness import REPO, Daemon, start_sl, start_sn


def _args(ca: CertFactory, name: str) -> list[str]:
    p = ca.paths(name)
    return ["--cert", str(p.cert), "--key", str(p.key), "--capath", str(p.capath)]


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertFactory:
    factory = CertFactory(tmp_path_factory.mktemp("roles-ca"))
    factory.paths("sn-1", days=20)
    factory.paths("alice", spiffe_domain=None)  # an old-style certificate whose CN names no role
    return factory


@pytest.fixture(scope="module")
def sn(ca: CertFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = start_sn(tmp_path_factory.mktemp("roles-sn"), _args(ca, "sn-1"))
    yield daemon
    daemon.stop()


def client(sn: Daemon, ca: CertFactory, name: str) -> SNClient:
    return SNClient("127.0.0.1", sn.port, ca.identity(name), retry_seconds=10)


@pytest.mark.acceptance_licensing
def test_an_sl_certificate_cannot_create_a_training_contract_but_swci_can(sn: Daemon, ca: CertFactory) -> None:
    sl, swci = client(sn, ca, "sl-1"), client(sn, ca, "swci-1")
    try:
        with pytest.raises(NetworkError) as refused:
            sl.create_training("mnist")
        assert (
            "(403): an sl certificate ('sl-1') may not POST /trainings (create a training contract): only swci may"
            in str(refused.value)
        )
        assert "mnist" not in sl.trainings()
        swci.register("swci", "127.0.0.1", 0)
        swci.create_training("mnist")
        sl.register("sl", "127.0.0.1", 30305)
        sl.join("mnist", 1, True, 600)  # SLs join contracts SWCI created, and the default one
        assert [m.identity for m in swci.training("mnist").members] == ["sl-1"]
    finally:
        sl.close()
        swci.close()


@pytest.mark.acceptance_licensing
def test_a_swci_certificate_cannot_check_in_weights(sn: Daemon, ca: CertFactory) -> None:
    swci = client(sn, ca, "swci-1")
    try:
        with pytest.raises(NetworkError) as refused:
            swci.check_in(DEFAULT_TRAINING_CONTRACT, 1, api.CheckIn(uri="https://swci/w", weightage=1, samples=1))
        assert (
            f"(403): a swci certificate ('swci-1') may not POST /trainings/{DEFAULT_TRAINING_CONTRACT}/rounds/1/checkin "
            "(check in weights): only sl may" in str(refused.value)
        )
        with pytest.raises(NetworkError, match=r"\(403\): a swci certificate \('swci-1'\) may not register a sl node"):
            swci.register("sl", "127.0.0.1", 30305)  # nor pass itself off as an SL
        assert swci.round(DEFAULT_TRAINING_CONTRACT, 1).participants == []
    finally:
        swci.close()


@pytest.mark.acceptance_licensing
def test_a_revoked_node_is_refused_from_its_next_request_while_the_sn_keeps_running(
    sn: Daemon, ca: CertFactory
) -> None:
    revoked, other = client(sn, ca, "sl-2"), client(sn, ca, "sl-3")
    try:
        revoked.register("sl", "127.0.0.1", 30306)
        other.register("sl", "127.0.0.1", 30307)
        revoked.heartbeat()
        cli = subprocess.run(
            [sys.executable, "-m", "certs.gen_cert", "-o", str(ca.folder), "--revoke", "sl-2"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        serial = cli.stdout.split("serial ")[1].split(",")[0]
        assert (ca.capath / "ca-1-crl.pem").is_file()
        with pytest.raises(NetworkError) as refused:
            revoked.heartbeat()  # the same client, its connection kept alive
        today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
        assert (
            f"(403): certificate serial {serial} of 'sl-2' was revoked by the swarm's CA (CN=CA-1,OU=Swarm-Learning) "
            f"on {today}" in str(refused.value)
        )
        other.heartbeat()  # everyone else goes on, and the SN was never restarted
        assert sn.popen.poll() is None
        assert "was revoked by the swarm's CA" in sn.output()
    finally:
        revoked.close()
        other.close()


def test_a_certificate_without_a_role_is_refused_with_how_to_get_one(sn: Daemon, ca: CertFactory) -> None:
    stranger = client(sn, ca, "alice")
    try:
        with pytest.raises(NetworkError) as refused:
            stranger.nodes()
    finally:
        stranger.close()
    message = str(refused.value)
    assert "(403): the certificate of 'alice' carries no role, so it may not call GET /nodes (read)" in message
    assert "its CN 'alice' does not start with '<role>-'" in message
    assert "swarm-gen-cert -n <role>-<i>" in message


def test_an_sn_warns_of_its_certificate_expiring_soon_and_will_not_start_with_an_expired_one(
    sn: Daemon, ca: CertFactory, tmp_path: Path
) -> None:
    assert "WARNING" in sn.output() and "sn-1-cert.pem of 'sn-1' expires on" in sn.output()
    ca.paths("sn-2", not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=400), days=365)
    argv = [sys.executable, "-m", "sn.cli", "--sentinel", "--data-dir", str(tmp_path / "data"), *_args(ca, "sn-2")]
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "sn-2-cert.pem of 'sn-2' expired on" in proc.stderr and "does not start" in proc.stderr


def test_only_sl_certificates_fetch_weights_from_an_sl(sn: Daemon, ca: CertFactory, tmp_path: Path) -> None:
    sl = start_sl(tmp_path, "sl-4", sn.port, _args(ca, "sl-4"))
    try:
        url = f"https://127.0.0.1:{sl.port}/weights/nothing.safetensors"
        answer = httpx.get(url, verify=ca.identity("swci-1").client_context())
        assert answer.status_code == 403
        assert answer.json()["message"] == (
            "a swci certificate ('swci-1') may not GET /weights/nothing.safetensors (fetch weights): only sl may"
        )
        assert httpx.get(url, verify=ca.identity("sl-5").client_context()).status_code == 404
    finally:
        sl.stop()
