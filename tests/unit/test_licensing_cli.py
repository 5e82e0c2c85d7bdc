"""``swarm-license``: an issuer makes a key and signs a license, an operator checks and installs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from licensing.cli import main
from licensing.keys import TrustedIssuers
from licensing.store import LicenseStore


def _run(*argv: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(argv))
    return result.exit_code, result.output


def test_an_issuer_signs_a_license_that_the_operator_checks_and_installs(tmp_path: Path) -> None:
    code, out = _run("keygen", "--out", str(tmp_path / "keys"))
    assert code == 0 and "key id:" in out
    key, pub = tmp_path / "keys" / "issuer-key.pem", tmp_path / "keys" / "issuer-pub.pem"
    lic = tmp_path / "acme.json"

    code, out = _run("issue", "--key", str(key), "--licensee", "ACME", "--seats", "sl=4", "sn=2", "--days", "90",
                     "--out", str(lic))  # fmt: skip
    assert code == 0 and "seats sl=4 sn=2" in out

    code, out = _run("show", str(lic), "--trusted-issuer", str(pub))
    assert code == 0
    assert "licensee:  ACME" in out and "status:    valid (signature checked)" in out

    code, out = _run("install", str(lic), "--data-dir", str(tmp_path / "apls"), "--trusted-issuer", str(pub))
    assert code == 0 and "installed license" in out
    store = LicenseStore(tmp_path / "apls", TrustedIssuers.from_files([pub]))
    assert {k: s.total for k, s in store.seats().items()} == {"sn": 2, "sl": 4, "swop": 0, "swci": 0}
    store.close()


def test_show_and_install_refuse_a_tampered_license_with_the_reason(tmp_path: Path) -> None:
    _run("keygen", "--out", str(tmp_path))
    lic = tmp_path / "lic.json"
    _run("issue", "--key", str(tmp_path / "issuer-key.pem"), "--licensee", "ACME", "--seats", "sl=1", "--out", str(lic))
    data = json.loads(lic.read_text())
    data["license"]["seats"]["sl"] = 50
    lic.write_text(json.dumps(data))
    pub = str(tmp_path / "issuer-pub.pem")

    code, out = _run("show", str(lic), "--trusted-issuer", pub)
    assert code == 1 and "REJECTED" in out and "signature does not match" in out

    code, out = _run("install", str(lic), "--data-dir", str(tmp_path / "apls"), "--trusted-issuer", pub)
    assert code == 2 and "signature does not match" in out


def test_bad_seat_specifications_are_explained(tmp_path: Path) -> None:
    _run("keygen", "--out", str(tmp_path))
    key = str(tmp_path / "issuer-key.pem")

    code, out = _run("issue", "--key", key, "--licensee", "ACME", "--seats", "gpu=3")
    assert code == 2 and "KIND=N with KIND one of sn, sl, swop, swci" in out
    code, out = _run("issue", "--key", key, "--licensee", "ACME")
    assert code == 2 and "no seats" in out


def test_the_community_command_prints_the_files_to_serve(tmp_path: Path) -> None:
    code, out = _run("community", "--data-dir", str(tmp_path))

    assert code == 0
    files = json.loads(out)
    assert Path(files["trusted_issuer"]).is_file() and Path(files["license"]).is_file()


def test_serve_without_a_trusted_issuer_says_what_to_give(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "licensing.cli", "serve", "--data-dir", str(tmp_path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert "no trusted issuer: give --trusted-issuer" in done.stderr
