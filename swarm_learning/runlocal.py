"""``swarm-learning run-local``: a whole swarm on this machine, as plain processes, on the embedded defaults.

Starts a sentinel SN, then for each site ``i`` an SL node and the user's program as its ML twin, shows live
progress, waits for every program, stops everything it started and writes a JSON summary.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certs.gen_cert import generate
from licensing.community import community_license
from licensing.launcher import LicenseServerProcess, start_license_server_process
from swarm_learning import DEFAULT_TRAINING_CONTRACT
from swarm_learning.errors import ConfigurationError, SwarmLearningError
from swarm_learning.progress import ProgressView, SiteProgress
from swarm_learning.sn_client import SNClient
from swarm_learning.tls import TLSIdentity


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)
        except ProcessLookupError:
            pass


@dataclass
class Site:
    index: int
    dir: Path
    socket: Path
    sl: Proc | None = None
    ml: Proc | None = None
    exit_code: int | None = None

    @property
    def name(self) -> str:
        return f"site-{self.index}"

    @property
    def identity(self) -> str:
        return f"sl-{self.index}"


@dataclass(frozen=True)
class RunLocalOptions:
    nodes: int
    program: Path
    data_dirs: tuple[Path, ...]
    env: dict[str, str]
    workdir: Path
    json_summary: Path | None
    timeout_s: float = 3600.0
    training: str = DEFAULT_TRAINING_CONTRACT
    extra_sl_env: dict[str, str] = field(default_factory=dict)


def parse_env(pairs: tuple[str, ...]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigurationError(f"--env {pair!r} is not KEY=VALUE")
        env[key] = value
    return env


def _short_socket_root(workdir: Path) -> Path:
    """Unix socket paths are limited to 107 bytes; deep work folders get their sockets under /tmp."""
    if len(str(workdir / "site-999" / "channel" / "sl.sock")) <= 100:
        return workdir
    digest = hashlib.sha1(str(workdir).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"swarm-{digest}"


def _wait_for_file(path: Path, proc: Proc, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return int(path.read_text().strip())
        if not proc.alive():
            raise SwarmLearningError(
                f"{proc.name} exited with code {proc.popen.returncode} while starting; "
                f"see {proc.log}:\n{_tail(proc.log)}"
            )
        time.sleep(0.1)  # bounded wait for a child process to report its port
    raise SwarmLearningError(f"{proc.name} did not start within {timeout:.0f}s; see {proc.log}")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class LocalSwarm:
    def __init__(self, options: RunLocalOptions) -> None:
        o = options
        if o.nodes < 1:
            raise ConfigurationError("--nodes must be at least 1")
        if not o.program.is_file():
            raise ConfigurationError(f"--program {o.program} is not a file")
        if o.data_dirs and len(o.data_dirs) != o.nodes:
            raise ConfigurationError(f"give one --data-dir per site: {len(o.data_dirs)} for {o.nodes} nodes")
        for d in o.data_dirs:
            if not d.is_dir():
                raise ConfigurationError(f"--data-dir {d} is not a folder")
        self.o = o
        self.workdir = o.workdir.absolute()
        sockets = _short_socket_root(self.workdir)
        self.sites = [
            Site(i, self.workdir / f"site-{i}", sockets / f"site-{i}" / "channel" / "sl.sock")
            for i in range(1, o.nodes + 1)
        ]
        self.min_peers = self._min_peers()
        self.sn: Proc | None = None
        self.sn_port = 0
        self.cert_dir = self.workdir / "cert"
        self.license_server: LicenseServerProcess | None = None

    def _min_peers(self) -> int:
        raw = self.o.env.get("MIN_PEERS", str(self.o.nodes))
        try:
            return max(1, int(raw))
        except ValueError:
            raise ConfigurationError(f"--env MIN_PEERS={raw!r} is not an integer") from None

    # -- start -------------------------------------------------------------------------------------------------
    def _spawn(
        self, name: str, argv: list[str], log: Path, env: dict[str, str], cwd: Path, append: bool = False
    ) -> Proc:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab" if append else "wb") as out:
            popen = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
            )
        return Proc(name, popen, log)

    def _identity_args(self, name: str) -> list[str]:
        return [
            "--cert",
            str(self.cert_dir / f"{name}-cert.pem"),
            "--key",
            str(self.cert_dir / f"{name}-key.pem"),
            "--capath",
            str(self.cert_dir / "ca" / "capath"),
        ]

    def _tls_identity(self, name: str) -> TLSIdentity:
        """The identity of component ``name`` from this run's certificates (what ``_identity_args`` passes on)."""
        return TLSIdentity.from_options(
            self.cert_dir / f"{name}-cert.pem", self.cert_dir / f"{name}-key.pem", self.cert_dir / "ca" / "capath"
        )

    def _apls_args(self) -> list[str]:
        if self.license_server is None:
            return []
        return ["--apls-ip", "127.0.0.1", "--apls-port", str(self.license_server.port)]

    def _start_license_server(self) -> None:
        """A license server in the loop, as on a real site, with a community license made for this machine."""
        folder = self.workdir / "license-server"
        issuer, license_file = community_license(folder)
        self.license_server = start_license_server_process(
            folder / "data", self._tls_identity("license-1"), [issuer], licenses=[license_file], log_file=folder / "license-server.log"
        )

    def _start_sn(self, port: int, append_log: bool = False) -> int:
        sn_dir = self.workdir / "sn-1"
        port_file = sn_dir / "api-port"
        port_file.unlink(missing_ok=True)
        self.sn = self._spawn(
            "SN sn-1",
            [
                sys.executable,
                "-m",
                "sn.cli",
                "--sentinel",
                "--host-ip",
                "127.0.0.1",
                "--bind",
                "127.0.0.1",
                "--sn-api-port",
                str(port),
                "--data-dir",
                str(sn_dir / "data"),
                "--port-file",
                str(port_file),
                *self._identity_args("sn-1"),
                *self._apls_args(),
            ],
            sn_dir / "sn.log",
            {**os.environ, "PYTHONUNBUFFERED": "1"},
            self.workdir,
            append_log,
        )
        return _wait_for_file(port_file, self.sn, 120)

    def restart_sn(self) -> None:
        """Start the SN again on the same port and data folder (after it stopped or crashed)."""
        if self.sn is not None:
            self.sn.stop()
        self._start_sn(self.sn_port, append_log=True)

    def start(self) -> None:
        self.start_network()
        self.start_nodes()
        self.start_programs()

    def start_network(self) -> None:
        """Certificates, a license server and the sentinel SN on a new chain."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        names = ["sn-1", "swci-1", "license-1"] + [s.identity for s in self.sites]
        missing = [n for n in names if not (self.cert_dir / f"{n}-cert.pem").exists()]
        if missing:
            generate(self.cert_dir, missing)
        # every run starts a new swarm network: a chain left by an earlier run would hold a finished training
        shutil.rmtree(self.workdir / "sn-1" / "data", ignore_errors=True)
        for site in self.sites:
            shutil.rmtree(site.dir / "sl", ignore_errors=True)
        self._start_license_server()
        self.sn_port = self._start_sn(0)

    def start_nodes(self) -> None:
        """One SL per site, each registered with the SN and serving."""
        sl_env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.o.extra_sl_env}
        for site in self.sites:
            site.dir.mkdir(parents=True, exist_ok=True)
            pf = site.dir / "sl" / "fs-port"
            pf.unlink(missing_ok=True)
            (site.dir / "sl" / "status.json").unlink(missing_ok=True)
            site.sl = self._spawn(
                f"SL {site.identity}",
                [
                    sys.executable,
                    "-m",
                    "sl.cli",
                    "--host-ip",
                    "127.0.0.1",
                    "--bind",
                    "127.0.0.1",
                    "--sn-ip",
                    "127.0.0.1",
                    "--sn-api-port",
                    str(self.sn_port),
                    "--sl-fs-port",
                    "0",
                    "--socket",
                    str(site.socket),
                    "--data-dir",
                    str(site.dir / "sl"),
                    "--port-file",
                    str(pf),
                    *self._identity_args(site.identity),
                    *self._apls_args(),
                ],
                site.dir / "sl.log",
                sl_env,
                site.dir,
            )
        for site in self.sites:
            assert site.sl is not None
            _wait_for_file(site.dir / "sl" / "fs-port", site.sl, 120)

    def start_programs(self) -> None:
        """One ML program per site, each talking to its own SL."""
        base_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        program = self.o.program.absolute()
        for site in self.sites:
            env = {
                **base_env,
                "SCRATCH_DIR": str(site.dir),
                "MODEL_DIR": str(program.parent),
                "SWARM_SL_SOCKET": str(site.socket),
                "MIN_PEERS": str(self.min_peers),
                **self.o.env,
            }
            if self.o.data_dirs:
                env["DATA_DIR"] = str(self.o.data_dirs[site.index - 1].absolute())
            site.ml = self._spawn(f"ML {site.name}", [sys.executable, str(program)], site.dir / "ml.log", env, site.dir)

    # -- watch -------------------------------------------------------------------------------------------------
    def monitor_client(self) -> SNClient:
        return self.client_as("swci-1")

    def client_as(self, component: str) -> SNClient:
        """An SN API client that presents the certificate of ``component`` (``swci-1``, ``sl-2``, ...)."""
        return SNClient("127.0.0.1", self.sn_port, self._tls_identity(component), retry_seconds=5)

    def wait(self, view: ProgressView) -> tuple[bool, int]:
        """Wait for every ML program; returns (all succeeded, rounds merged)."""
        deadline = time.monotonic() + self.o.timeout_s
        client = self.monitor_client()
        rounds = 0
        reported: set[str] = set()
        try:
            while True:
                for site in self.sites:
                    assert site.ml is not None
                    if site.exit_code is None and not site.ml.alive():
                        site.exit_code = site.ml.popen.returncode
                try:
                    training = client.training(self.o.training)
                    rounds = max(0, training.current_round - 1)
                    members = {m.identity: m for m in training.members}
                except SwarmLearningError:
                    members = {}
                view.update(
                    rounds,
                    [
                        SiteProgress(
                            s.name,
                            "done" if s.exit_code == 0 else "failed" if s.exit_code else "training",
                            members.get(s.identity),
                        )
                        for s in self.sites
                    ],
                )
                for s in self.sites:
                    assert s.ml is not None and s.sl is not None
                    if s.exit_code not in (None, 0) and s.name not in reported:
                        reported.add(s.name)
                        view.message(
                            f"{s.name}: ML program exited with {s.exit_code}; last lines of {s.ml.log}:\n"
                            f"{_tail(s.ml.log)}"
                        )
                    if s.exit_code is None and not s.sl.alive() and s.name not in reported:
                        reported.add(s.name)
                        view.message(
                            f"{s.name}: SL node exited with {s.sl.popen.returncode} while its program ran; "
                            f"see {s.sl.log}:\n{_tail(s.sl.log)}"
                        )
                        s.ml.stop()
                running = [s for s in self.sites if s.exit_code is None]
                if not running:
                    return all(s.exit_code == 0 for s in self.sites), rounds
                failed = [s for s in self.sites if s.exit_code not in (None, 0)]
                succeeded = [s for s in self.sites if s.exit_code == 0]
                # a site only ends successfully once the swarm training is over: the others are wrapping up
                if failed and not succeeded and len(running) < self.min_peers:
                    view.message(
                        f"run-local: {len(failed)} site(s) failed; the {len(running)} still running cannot "
                        f"reach MIN_PEERS={self.min_peers}, stopping the swarm"
                    )
                    return False, rounds
                if time.monotonic() > deadline:
                    view.message(f"run-local: timed out after {self.o.timeout_s:.0f}s")
                    return False, rounds
                time.sleep(0.5)  # refresh period of the live progress view
        finally:
            client.close()

    def stop(self) -> None:
        for site in self.sites:
            for proc in (site.ml, site.sl):
                if proc is not None:
                    proc.stop()
        if self.sn is not None:
            self.sn.stop()
        if self.license_server is not None:
            self.license_server.stop()

    def site_digest(self, site: Site) -> str | None:
        status = site.dir / "sl" / "status.json"
        try:
            return json.loads(status.read_text()).get("final_weights_sha256")
        except (OSError, json.JSONDecodeError):
            return None


def run_local(options: RunLocalOptions, view: ProgressView) -> int:
    started = time.monotonic()
    swarm = LocalSwarm(options)
    ok, rounds = False, 0
    try:
        swarm.start()
        view.message(
            f"swarm of {options.nodes} sites started: SN API on 127.0.0.1:{swarm.sn_port}, "
            f"logs in {swarm.workdir}/site-<i>/"
        )
        ok, rounds = swarm.wait(view)
    except SwarmLearningError as exc:
        view.message(f"run-local: {exc}")
    finally:
        swarm.stop()
        view.close()
    summary: dict[str, Any] = {
        "sites": [
            {
                "name": s.name,
                "exit_code": s.exit_code if s.exit_code is not None else -1,
                "final_weights_sha256": swarm.site_digest(s),
                "log": str(s.dir / "ml.log"),
            }
            for s in swarm.sites
        ],
        "rounds": rounds,
        "wall_seconds": round(time.monotonic() - started, 2),
    }
    if options.json_summary is not None:
        options.json_summary.parent.mkdir(parents=True, exist_ok=True)
        options.json_summary.write_text(json.dumps(summary, indent=2))
    view.summary(summary)
    return 0 if ok and all(s.exit_code == 0 for s in swarm.sites) else 1
