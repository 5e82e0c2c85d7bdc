"""Start a license server as a child process (for ``run-local`` and tests) and wait until it listens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from licensing.address import AplsAddress
from licensing.errors import LicensingError
from swarm_learning.tls import TLSIdentity


@dataclass
class LicenseServerProcess:
    popen: subprocess.Popen[bytes]
    port: int
    log_file: Path
    host: str = "127.0.0.1"

    @property
    def address(self) -> AplsAddress:
        return AplsAddress(primary_ip=self.host, primary_port=self.port)

    @property
    def url(self) -> str:
        return self.address.urls[0]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the server's process group, SIGKILL after ``timeout``; returns its exit code."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
            except ProcessLookupError:
                pass
        return self.popen.returncode

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def serve_argv(
    data_dir: Path,
    identity: TLSIdentity,
    trusted_issuers: Sequence[Path],
    *,
    licenses: Sequence[Path] = (),
    port: int = 0,
    bind: str = "127.0.0.1",
    lease_ttl: float | None = None,
    port_file: Path | None = None,
    admin_password_file: Path | None = None,
) -> list[str]:
    """The command line of ``python -m licensing.cli serve`` with these settings."""
    argv = [
        sys.executable,
        "-m",
        "licensing.cli",
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--bind",
        bind,
        "--cert",
        str(identity.cert_file),
        "--key",
        str(identity.key_file),
    ]
    if identity.ca_path is not None:
        argv += ["--capath", str(identity.ca_path)]
    if identity.ca_file is not None:
        argv += ["--cacert", str(identity.ca_file)]
    for issuer in trusted_issuers:
        argv += ["--trusted-issuer", str(issuer)]
    for lic in licenses:
        argv += ["--license", str(lic)]
    if lease_ttl is not None:
        argv += ["--lease-ttl", str(lease_ttl)]
    if port_file is not None:
        argv += ["--port-file", str(port_file)]
    if admin_password_file is not None:
        argv += ["--admin-password-file", str(admin_password_file)]
    return argv


def start_license_server_process(
    data_dir: Path,
    identity: TLSIdentity,
    trusted_issuers: Sequence[Path],
    *,
    licenses: Sequence[Path] = (),
    port: int = 0,
    bind: str = "127.0.0.1",
    lease_ttl: float | None = None,
    admin_password_file: Path | None = None,
    log_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> LicenseServerProcess:
    """Spawn a license server (its own process group) and return once it reported its bound port.

    The log goes to ``log_file`` (default ``<data_dir>/license-server.log``, appended); a server that exits or
    does not report its port within ``timeout`` seconds raises ``LicensingError`` with the log's tail.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    port_file = data_dir / "license-server.port"
    port_file.unlink(missing_ok=True)
    log_path = log_file or data_dir / "license-server.log"
    argv = serve_argv(
        data_dir,
        identity,
        trusted_issuers,
        licenses=licenses,
        port=port,
        bind=bind,
        lease_ttl=lease_ttl,
        port_file=port_file,
        admin_password_file=admin_password_file,
    )
    child_env = dict(os.environ if env is None else env)
    with log_path.open("ab") as out:
        popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=child_env, start_new_session=True)
    host = "127.0.0.1" if bind in ("0.0.0.0", "") else bind
    server = LicenseServerProcess(popen, 0, log_path, host)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_file.exists():
            server.port = int(port_file.read_text().strip())
            return server
        if popen.poll() is not None:
            raise LicensingError(
                f"the license server exited with code {popen.returncode} while starting; see {log_path}:\n"
                f"{server.log_tail()}"
            )
        time.sleep(0.05)  # bounded wait for the child to report its port
    server.stop()
    raise LicensingError(
        f"the license server did not start within {timeout:.0f} s; see {log_path}:\n{server.log_tail()}"
    )
