"""Real SN and SL processes refuse foreign certificates and will not start without a usable identity."""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import CertFactory
from tests.integration.harness import REPO, start_sl, start_sn


def _client_ctx(trust: CertFactory, who: CertFactory, name: str) -> ssl.SSLContext:
    p = who.paths(name)
    ctx = ssl.create_default_context(cafile=str(next(trust.capath.iterdir())))
    ctx.check_hostname = False
    ctx.load_cert_chain(str(p.cert), str(p.key))
    return ctx


def test_sn_api_and_sl_file_server_refuse_a_certificate_from_another_ca(
    tmp_path: Path, swarm_ca: CertFactory, foreign_ca: CertFactory, identity_args: Callable[[str], list[str]]
) -> None:
    sn = start_sn(tmp_path, identity_args("sn-1"))
    sl = None
    try:
        good = _client_ctx(swarm_ca, swarm_ca, "swci-1")
        bad = _client_ctx(swarm_ca, foreign_ca, "swci-1")
        assert httpx.get(f"https://127.0.0.1:{sn.port}/is_up", verify=good).text == "OK"
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"https://127.0.0.1:{sn.port}/is_up", verify=bad)

        sl = start_sl(tmp_path, "sl-1", sn.port, identity_args("sl-1"))
        peer = _client_ctx(swarm_ca, swarm_ca, "sl-2")  # weights go to SLs only
        assert httpx.get(f"https://127.0.0.1:{sl.port}/weights/nothing.safetensors", verify=peer).status_code == 404
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"https://127.0.0.1:{sl.port}/weights/nothing.safetensors", verify=bad)
        nodes = httpx.get(f"https://127.0.0.1:{sn.port}/nodes", verify=good).json()
        assert [n["identity"] for n in nodes if n["kind"] == "sl"] == ["sl-1"]
    finally:
        if sl:
            sl.stop()
        sn.stop()


def _start(component: str, cert: Path, key: Path, capath: Path, data: Path) -> subprocess.CompletedProcess[str]:
    extra = ["--sentinel"] if component == "sn.cli" else []
    argv = [
        sys.executable,
        "-m",
        component,
        *extra,
        "--cert",
        str(cert),
        "--key",
        str(key),
        "--capath",
        str(capath),
        "--data-dir",
        str(data),
    ]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("component", ["sn.cli", "sl.cli"])
def test_component_with_a_missing_certificate_does_not_start_and_names_the_file(
    tmp_path: Path, swarm_ca: CertFactory, component: str
) -> None:
    p = swarm_ca.paths("sn-1")
    missing = tmp_path / "missing-cert.pem"
    proc = _start(component, missing, p.key, p.capath, tmp_path / "data")
    assert proc.returncode == 2
    assert f"certificate file {missing} does not exist" in proc.stderr


def test_sn_with_an_unreadable_key_does_not_start(tmp_path: Path, swarm_ca: CertFactory) -> None:
    p = swarm_ca.paths("sn-1")
    key = tmp_path / "garbled-key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
    proc = _start("sn.cli", p.cert, key, p.capath, tmp_path / "data")
    assert proc.returncode == 2
    assert "garbled-key.pem" in proc.stderr
