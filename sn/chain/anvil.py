"""A local anvil node for tests and development: installed from npm, started on a free loopback port, stopped.

The binary comes from the npm package ``@foundry-rs/anvil-linux-amd64`` installed into ``sn/chain/.anvil/``
(git-ignored). anvil needs no network once installed. Its ten well-known development accounts are funded; their
keys are public, so they are only for tests::

    with AnvilNode.start() as node:
        w3 = connect(node.url)          # sn.chain.external.connect
        key = dev_key(0)          # sn.chain.anvil.dev_key
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from eth_account import Account

from swarm_learning.errors import ChainError

logger = logging.getLogger(__name__)

NPM_PACKAGE = "@foundry-rs/anvil-linux-amd64"
NPM_VERSION = "1.7.1"
INSTALL_DIR = Path(__file__).resolve().parent / ".anvil"
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_CHAIN_ID = 31337

__all__ = ["DEV_CHAIN_ID", "AnvilNode", "dev_key", "install_anvil", "npm_install_command"]


def dev_key(index: int = 0) -> str:
    """The private key (0x hex) of anvil's development account ``index``: public knowledge, for tests only."""
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}").key.to_0x_hex()


def npm_install_command(install_dir: Path = INSTALL_DIR) -> list[str]:
    return [
        "npm",
        "install",
        "--prefix",
        str(install_dir),
        "--no-save",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        f"{NPM_PACKAGE}@{NPM_VERSION}",
    ]


def install_anvil(install_dir: Path = INSTALL_DIR, timeout: float = 300.0) -> Path:
    """The anvil binary, installed with npm on first use; ``ChainError`` naming the npm command if that fails."""
    binary = install_dir / "node_modules" / NPM_PACKAGE / "bin" / "anvil"
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    command = npm_install_command(install_dir)
    shown = " ".join(command)
    if shutil.which("npm") is None:
        raise ChainError(f"npm is not installed, so anvil cannot be installed; install Node.js and run: {shown}")
    install_dir.mkdir(parents=True, exist_ok=True)
    logger.info("installing anvil: %s", shown)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ChainError(f"installing anvil took longer than {timeout:.0f} s: {shown}") from exc
    if done.returncode != 0 or not binary.is_file():
        raise ChainError(f"could not install anvil with `{shown}` (exit {done.returncode}): {done.stderr.strip()}")
    binary.chmod(binary.stat().st_mode | 0o111)
    return binary


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AnvilNode:
    """A running anvil process on loopback; ``stop()`` (or leaving the ``with`` block) ends its process group."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    chain_id: int = DEV_CHAIN_ID
    _log_dir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @classmethod
    def start(
        cls,
        *,
        binary: Path | None = None,
        chain_id: int = DEV_CHAIN_ID,
        block_time: float | None = None,
        extra_args: tuple[str, ...] = (),
        timeout: float = 30.0,
        attempts: int = 3,
    ) -> AnvilNode:
        """Start anvil on a free loopback port and wait (at most ``timeout`` s) until it answers JSON-RPC."""
        binary = binary or install_anvil()
        log_dir = tempfile.TemporaryDirectory(prefix="anvil-")
        log_path = Path(log_dir.name) / "anvil.log"
        last_error = ""
        for _ in range(attempts):  # the free port may be taken between probing and binding: try another
            port = _free_port()
            args = [str(binary), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id)]
            args += ["--mnemonic", DEV_MNEMONIC, "--silent"]
            if block_time is not None:
                args += ["--block-time", str(block_time)]
            args += list(extra_args)
            with log_path.open("ab") as log:
                process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            node = cls(f"http://127.0.0.1:{port}", port, process, log_path, chain_id, log_dir)
            try:
                node._wait_ready(timeout)
                logger.info("anvil is up at %s (pid %s)", node.url, process.pid)
                return node
            except ChainError as exc:
                last_error = str(exc)
                node._terminate()
        log_dir.cleanup()
        raise ChainError(f"anvil did not start: {last_error}")

    def _wait_ready(self, timeout: float) -> None:
        """Poll ``eth_chainId`` until anvil answers (every wait bounded by ``timeout``)."""
        deadline = time.monotonic() + timeout
        probe = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ChainError(f"anvil exited with code {self.process.returncode}: {self.log_tail()}")
            request = urllib.request.Request(self.url, probe, {"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=1.0) as answer:
                    if int(json.loads(answer.read())["result"], 16) == self.chain_id:
                        return
            except (OSError, ValueError, KeyError):
                pass
            try:
                self.process.wait(timeout=0.05)  # a short, bounded pause that also notices an early exit
            except subprocess.TimeoutExpired:
                pass
        raise ChainError(f"anvil did not answer at {self.url} within {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _terminate(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        self._terminate()
        if self._log_dir is not None:
            self._log_dir.cleanup()
            self._log_dir = None

    def __enter__(self) -> AnvilNode:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
