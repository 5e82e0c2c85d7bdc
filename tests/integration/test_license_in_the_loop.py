"""The license server in the loop of real component processes: run-local leases a seat per SN and SL and gives them
back; an SN with no reachable license server exits with 6002; an SL with no seat left refuses to start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from licensing.address import AplsAddress
from licensing.api import StatusView
from licensing.client import LeaseKeeper
from licensing.document import issue_license
from licensing.keys import generate_issuer_key, load_private_key
from licensing.launcher import start_license_server_process
from swarm_learning.runlocal import LocalSwarm, RunLocalOptions
from swarm_learning.tls import TLSIdentity
from tests.conftest import CertFactory
from tests.integration.harness import PROGRAMS, REPO

pytestmark = pytest.mark.acceptance_licensing


def seats_in_use(port: int, identity: TLSIdentity) -> dict[str, list[str]]:
    """Holders per seat kind, as the license server reports them (GET /api/status, mutual TLS)."""
    with httpx.Client(verify=identity.client_context(), timeout=10.0) as http:
        status = StatusView.model_validate(http.get(f"https://127.0.0.1:{port}/api/status").json())
    return {seat.kind: sorted(h.split("#")[0] for h in seat.holders) for seat in status.seats if seat.holders}


def test_a_local_swarm_leases_a_seat_per_component_and_gives_them_back(tmp_path: Path) -> None:
    swarm = LocalSwarm(RunLocalOptions(
        nodes=2, program=PROGRAMS / "tiny_torch.py", workdir=tmp_path, env={"MAX_EPOCHS": "1",
        "BATCHES_PER_EPOCH": "4", "SYNC_FREQUENCY": "4"}, data_dirs=(), json_summary=None, timeout_s=300.0,
    ))  # fmt: skip
    try:
        swarm.start()
        assert swarm.license_server is not None
        swci = TLSIdentity.from_options(tmp_path / "cert" / "swci-1-cert.pem", tmp_path / "cert" / "swci-1-key.pem",
                                        tmp_path / "cert" / "ca" / "capath")  # fmt: skip
        held = seats_in_use(swarm.license_server.port, swci)
        assert held == {"sn": ["sn-1"], "sl": ["sl-1", "sl-2"]}, held
    finally:
        port = swarm.license_server.port if swarm.license_server else 0
        swarm.stop()
    own = TLSIdentity.from_options(tmp_path / "cert" / "license-1-cert.pem", tmp_path / "cert" / "license-1-key.pem",
                                   tmp_path / "cert" / "ca" / "capath")  # fmt: skip
    server = start_license_server_process(
        tmp_path / "license-server" / "data", own, [tmp_path / "license-server" / "community" / "issuer-pub.pem"],
        log_file=tmp_path / "license-server" / "again.log", port=port,
    )  # fmt: skip
    try:  # every component released its seat at stop (the leases are persisted, so a restart would show them)
        assert seats_in_use(server.port, swci) == {}
    finally:
        server.stop()


def test_an_sn_with_no_reachable_license_server_exits_with_6002_naming_the_address(
    tmp_path: Path, swarm_ca: CertFactory
) -> None:
    p = swarm_ca.paths("sn-1")
    result = subprocess.run(
        [sys.executable, "-m", "sn.cli", "--sentinel", "--sn-api-port", "0", "--sn-p2p-port", "0", "--bind",
         "127.0.0.1", "--data-dir", str(tmp_path / "sn"), "--cert", str(p.cert), "--key", str(p.key), "--capath",
         str(p.capath), "--apls-ip", "127.0.0.1", "--apls-port", "9"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "6002" in output and "https://127.0.0.1:9" in output, output
    assert "Starting SWARM-API-SERVER" not in output


def test_an_sl_with_no_seat_left_refuses_to_start_and_says_who_holds_them(
    tmp_path: Path, swarm_ca: CertFactory
) -> None:
    issuer = generate_issuer_key(tmp_path / "issuer")
    license_file = tmp_path / "one-sl.json"
    license_file.write_text(issue_license(load_private_key(issuer.private_key), licensee="ACME",
                                          seats={"sl": 1, "sn": 1}).to_text())  # fmt: skip
    server = start_license_server_process(tmp_path / "apls", swarm_ca.identity("license-1"), [issuer.public_key],
                                          licenses=[license_file])  # fmt: skip
    holder = LeaseKeeper(AplsAddress(primary_ip="127.0.0.1", primary_port=server.port), swarm_ca.identity("sl-1"), "sl")
    try:
        holder.acquire()
        p = swarm_ca.paths("sl-2")
        result = subprocess.run(
            [sys.executable, "-m", "sl.cli", "--sn-ip", "127.0.0.1", "--sn-api-port", "9", "--sl-fs-port", "0",
             "--bind", "127.0.0.1", "--socket", str(tmp_path / "sl.sock"), "--data-dir", str(tmp_path / "sl"),
             "--cert", str(p.cert), "--key", str(p.key), "--capath", str(p.capath), "--apls-ip", "127.0.0.1",
             "--apls-port", str(server.port)],
            cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        holder.release()
        server.stop()
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "sl-1" in output and "seat" in output.lower(), output
    assert "registered with SN" not in output


def test_swci_with_no_reachable_license_server_exits_with_6002_before_running_anything(
    tmp_path: Path, swarm_ca: CertFactory
) -> None:
    p = swarm_ca.paths("swci-1")
    result = subprocess.run(
        [sys.executable, "-m", "swci.shell", "--cert", str(p.cert), "--key", str(p.key), "--capath", str(p.capath),
         "--apls-ip", "127.0.0.1", "--apls-port", "9", "--history-file", ""],
        input="LIST CONTEXTS\nEXIT\n", cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "6002" in result.stderr and "https://127.0.0.1:9" in result.stderr, result.stderr
    assert "EXITING SWCI" not in result.stdout
