"""Run and supervise the one etcd member that belongs to an SN.

Layout: the member's peer URL is the SN's p2p port (mutual TLS with the SN's own certificate; a peer must present a
certificate of the swarm's CA, and with ``peer_cert_allowed_cn`` also that common name); its client URL is plain
HTTP on 127.0.0.1 only, so only processes on the SN's host reach the key space. Files under ``<SN data dir>/etcd/``:
``data/`` (etcd's own data directory), ``etcd.log`` (the member's log) and ``peer-ca.pem`` (the certificates of the
SN's CA folder, bundled into the one file etcd wants).

How a member starts:

- a data directory from an earlier run: etcd restarts from it (the cluster flags are then ignored);
- no data and no ``JoinPlan``: the first member of a new network (``--initial-cluster-state new``);
- no data and a ``JoinPlan`` (from ``membership.add_learner`` run against an existing member): join as a learner
  (``--initial-cluster-state existing``); ``membership.promote`` makes it a voter once it has caught up.

Every wait is bounded; a member that exits while starting raises ``ConsensusError`` with the end of its log.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sn.consensus.binary import EtcdBinary, find_etcd
from sn.consensus.errors import ConsensusError
from swarm_learning.errors import IdentityError

logger = logging.getLogger(__name__)

_CERT_MARKER = b"-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class MemberConfig:
    """Everything one SN's etcd member needs; the SN builds it from its own options."""

    name: str  # unique in the network, e.g. the SN's certificate name
    data_dir: Path  # the SN's data directory (the member lives in ``data_dir / "etcd"``)
    peer_host: str  # host or IP the other SNs reach this SN at
    peer_port: int  # the SN's p2p port (30303 in the product)
    client_port: int  # loopback only
    cert: Path
    key: Path
    capath: Path  # folder of trusted CA certificates (or one PEM file)
    network_id: str = "swarm"  # becomes etcd's initial cluster token
    listen_host: str = "0.0.0.0"
    peer_cert_allowed_cn: str | None = None
    heartbeat_ms: int = 100
    election_ms: int = 1000

    @property
    def peer_url(self) -> str:
        return f"https://{_host(self.peer_host)}:{self.peer_port}"

    @property
    def client_url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def member_dir(self) -> Path:
        return self.data_dir / "etcd"


@dataclass(frozen=True)
class JoinPlan:
    """What a joining member needs from the cluster: its id there and etcd's ``--initial-cluster`` value."""

    member_id: int
    initial_cluster: str


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _peer_crl(capath: Path) -> Path | None:
    """The CA's revocation list beside its certificate (``gen-cert --revoke`` writes ``ca-<i>-crl.pem``), if any."""
    folder = Path(capath) if Path(capath).is_dir() else Path(capath).parent
    found = sorted(folder.glob("*-crl.pem")) if folder.is_dir() else []
    return found[0] if found else None


def write_ca_bundle(capath: Path, dest: Path) -> Path:
    """Concatenate the PEM certificates of ``capath`` (a folder, or one file) into ``dest``; return ``dest``."""
    capath = Path(capath)
    if capath.is_dir():
        sources = sorted(p for p in capath.iterdir() if p.is_file())
    elif capath.is_file():
        sources = [capath]
    else:
        raise IdentityError(f"CA path {capath} does not exist; give the folder of the swarm's CA certificates")
    blobs = []
    for source in sources:
        data = source.read_bytes()
        if _CERT_MARKER in data:
            blobs.append(data if data.endswith(b"\n") else data + b"\n")
    if not blobs:
        raise IdentityError(f"no PEM certificate in the CA path {capath}")
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(b"".join(blobs))
    os.replace(tmp, dest)
    return dest


def _diagnosis(log_tail: str) -> str:
    """A hint for the usual reasons a member cannot start, from the end of its log."""
    text = log_tail.lower()
    if "bad certificate" in text or "x509:" in text:
        return (
            ": a peer certificate was refused (an SN's certificate must be issued by the swarm's CA, and its CA "
            "path must hold that CA)"
        )
    if "address already in use" in text:
        return ": its peer or client port is already in use"
    if "member count is unequal" in text or "cluster id mismatch" in text:
        return ": its data or join plan belongs to another network"
    return ""


class EtcdMember:
    """One supervised etcd process. Not thread-safe: the SN's start-up and shutdown code drive it."""

    def __init__(self, config: MemberConfig, binary: EtcdBinary | None = None) -> None:
        self.config = config
        self.binary = binary or find_etcd()
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # ------------------------------------------------------------------------------------------- paths

    @property
    def etcd_data_dir(self) -> Path:
        return self.config.member_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.config.member_dir / "etcd.log"

    @property
    def has_data(self) -> bool:
        """True once this member has been part of a cluster (etcd then restarts from its own data)."""
        return (self.etcd_data_dir / "member").is_dir()

    @property
    def client_url(self) -> str:
        return self.config.client_url

    @property
    def peer_url(self) -> str:
        return self.config.peer_url

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # ------------------------------------------------------------------------------------------- start

    def start(self, join: JoinPlan | None = None, *, timeout: float = 30.0) -> None:
        """Start etcd (see the module docstring for which way) and wait until its client port answers."""
        if self.running:
            raise ConsensusError(f"etcd member {self.config.name} is already running")
        config = self.config
        config.member_dir.mkdir(parents=True, exist_ok=True)
        self.etcd_data_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.etcd_data_dir, 0o700)
        bundle = write_ca_bundle(config.capath, config.member_dir / "peer-ca.pem")
        if self.has_data:
            how, cluster, state = "restarting", f"{config.name}={config.peer_url}", "existing"
        elif join is not None:
            how, cluster, state = "joining as a learner", join.initial_cluster, "existing"
        else:
            how, cluster, state = "starting a new network", f"{config.name}={config.peer_url}", "new"
        argv = self._argv(bundle, cluster, state)
        logger.info(
            "etcd %s (%s) member %s: %s; peer %s, client %s",
            self.binary.version_text,
            self.binary.path,
            config.name,
            how,
            config.peer_url,
            config.client_url,
        )
        self._log = open(self.log_path, "ab")
        self._process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self.wait_ready(timeout)
        except ConsensusError:
            self.stop(timeout=5.0)
            raise

    def _argv(self, bundle: Path, cluster: str, state: str) -> list[str]:
        config = self.config
        argv = [
            str(self.binary.path),
            "--name", config.name,
            "--data-dir", str(self.etcd_data_dir),
            "--listen-peer-urls", f"https://{_host(config.listen_host)}:{config.peer_port}",
            "--initial-advertise-peer-urls", config.peer_url,
            "--listen-client-urls", config.client_url,
            "--advertise-client-urls", config.client_url,
            "--initial-cluster", cluster,
            "--initial-cluster-state", state,
            "--initial-cluster-token", config.network_id,
            "--peer-cert-file", str(config.cert),
            "--peer-key-file", str(config.key),
            "--peer-trusted-ca-file", str(bundle),
            "--peer-client-cert-auth",
            # trust is the CA chain (and its CRL), as on every other port: NAT and Docker's port proxy make a peer's
            # source address differ from the addresses its certificate names
            "--experimental-peer-skip-client-san-verification",
            "--heartbeat-interval", str(config.heartbeat_ms),
            "--election-timeout", str(config.election_ms),
            "--pre-vote",
            "--experimental-initial-corrupt-check",
            "--logger", "zap",
            "--log-outputs", "stderr",
        ]  # fmt: skip
        if config.peer_cert_allowed_cn:
            argv += ["--peer-cert-allowed-cn", config.peer_cert_allowed_cn]
        crl = _peer_crl(config.capath)
        if crl is not None:  # a revoked SN cannot take part in the consensus either (read when the member starts)
            argv += ["--peer-crl-file", str(crl)]
        return argv

    def wait_ready(self, timeout: float) -> None:
        """Wait until the client port answers ``/version``; raise ``ConsensusError`` on exit or timeout."""
        deadline = time.monotonic() + timeout
        pause = 0.02
        while True:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                tail = self.log_tail()
                raise ConsensusError(
                    f"etcd member {self.config.name} exited while starting (exit {code}){_diagnosis(tail)}; end of "
                    f"{self.log_path}:\n{tail}"
                )
            if self._answers():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConsensusError(
                    f"etcd member {self.config.name} did not answer on {self.client_url} within {timeout:.0f} s; "
                    f"end of {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(min(pause, remaining))  # polling a child process: there is nothing to wait on
            pause = min(pause * 2, 0.25)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.client_url}/version", timeout=1.0) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    # -------------------------------------------------------------------------------------------- stop

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if etcd has not exited within ``timeout`` seconds."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("etcd member %s ignored SIGTERM for %.0f s; killing it", self.config.name, timeout)
                process.kill()
                process.wait(10.0)
        self._release()

    def kill(self) -> None:
        """SIGKILL (a crash, for tests and for a hung member)."""
        process = self._process
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10.0)
        self._release()

    def _release(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_bytes()[-64_000:].decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> EtcdMember:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
