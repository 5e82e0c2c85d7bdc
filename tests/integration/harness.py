"""Start real SN / SL processes on loopback for tests, and always stop them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from swarm_learning.runlocal import Proc

REPO = Path(__file__).resolve().parents[2]
PROGRAMS = Path(__file__).parent / "programs"


@dataclass
class Daemon:
    popen: subprocess.Popen[bytes]
    log: Path
    port: int

    def stop(self) -> None:
        Proc(self.log.stem, self.popen, self.log).stop(timeout=15)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )


def wait_for_port_file(path: Path, popen: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return int(path.read_text())
        if popen.poll() is not None:
            raise AssertionError(f"process exited with {popen.returncode}:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)  # bounded wait for the daemon to report its bound port
    raise AssertionError(f"no port file after {timeout}s:\n{log.read_text(errors='replace')}")


def start_sn(workdir: Path, identity: list[str], port: int = 0, bind: str = "127.0.0.1") -> Daemon:
    """A sentinel SN; ``bind`` another local address (e.g. a Docker bridge's gateway) to let containers reach it."""
    port_file = workdir / "sn-port"
    port_file.unlink(missing_ok=True)
    log = workdir / "sn.log"
    popen = spawn(
        [
            sys.executable,
            "-m",
            "sn.cli",
            "--sentinel",
            "--bind",
            bind,
            "--sn-api-port",
            str(port),
            "--data-dir",
            str(workdir / "sn-data"),
            "--port-file",
            str(port_file),
            *identity,
        ],
        log,
    )
    return Daemon(popen, log, wait_for_port_file(port_file, popen, log))


def start_sl(workdir: Path, name: str, sn_port: int, identity: list[str], env: dict[str, str] | None = None) -> Daemon:
    port_file = workdir / name / "fs-port"
    log = workdir / name / "sl.log"
    popen = spawn(
        [
            sys.executable,
            "-m",
            "sl.cli",
            "--bind",
            "127.0.0.1",
            "--sn-api-port",
            str(sn_port),
            "--sl-fs-port",
            "0",
            "--socket",
            str(workdir / name / "ch" / "sl.sock"),
            "--data-dir",
            str(workdir / name / "data"),
            "--port-file",
            str(port_file),
            *identity,
        ],
        log,
        env,
    )
    return Daemon(popen, log, wait_for_port_file(port_file, popen, log))


def run_local(
    workdir: Path,
    nodes: int,
    env: list[str],
    *,
    program: Path = PROGRAMS / "tiny_torch.py",
    timeout: float = 600,
    process_env: dict[str, str] | None = None,
    data_dirs: list[Path] | None = None,
) -> tuple[subprocess.CompletedProcess[str], dict]:
    summary = workdir / "summary.json"
    argv = [
        sys.executable,
        "-m",
        "swarm_learning.cli",
        "run-local",
        "--nodes",
        str(nodes),
        "--program",
        str(program),
        "--workdir",
        str(workdir),
        "--json-summary",
        str(summary),
        "--timeout",
        str(timeout),
    ]
    for d in data_dirs or []:
        argv += ["--data-dir", str(d)]
    for e in env:
        argv += ["--env", e]
    proc = subprocess.run(
        argv,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout + 60,
        check=False,
        env={**os.environ, **(process_env or {})},
    )
    data = json.loads(summary.read_text()) if summary.exists() else {}
    return proc, data


def logs_of(workdir: Path) -> str:
    parts = []
    for log in sorted(workdir.rglob("*.log")):
        parts.append(f"==== {log}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-40:]))
    return "\n".join(parts)
