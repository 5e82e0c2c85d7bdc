"""Three sites on three addresses (network namespaces): each runs its own SN, SL and ML program, and training ends
with the same model everywhere while an SN dies (issue 3, acceptance item 1).

Site 1's SN is the sentinel; sites 2 and 3 join through it. Every SL talks to its own site's SN, and the test
reaches the SNs only from inside a site (the host namespace has no route to them): it runs small probes there with
``ip netns exec``. Waits are bounded; every process is killed and every namespace removed at the end; a failure
prints the end of every process's log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from swarm_learning import DEFAULT_TRAINING_CONTRACT
from tests.conftest import CertFactory
from tests.integration import netns
from tests.integration.harness import PROGRAMS, REPO, spawn, wait_for_port_file

pytestmark = pytest.mark.acceptance_sn_network

SN_API_PORT, SN_P2P_PORT, SL_FS_PORT = 30304, 30303, 30305  # each namespace has its own ports
START_WAIT = 90.0
TRAINING_WAIT = 240.0
ML_ENV = {"MAX_EPOCHS": "2", "BATCHES_PER_EPOCH": "12", "SYNC_FREQUENCY": "2", "MIN_PEERS": "2"}
SL_ENV = {
    "SL_HEARTBEAT_SECONDS": "2",
    "SL_PEER_STALE_SECONDS": "15",
    "SL_WAIT_FOR_FULL_QUORUM_SECONDS": "15",  # a round waits this long for a site whose SN is restarting
    "SL_LEADER_FAILURE_BASE_TIMEOUT": "20",
}

# Runs inside a site's namespace: waits (bounded) for a condition on the SN API and prints one JSON line.
#   training ADDR AT_LEAST_ROUND AT_LEAST_MEMBERS  -> current_round > AT_LEAST_ROUND and that many members joined
#   heads ADDR [ADDR ...]                          -> every SN has the same height and head hash
_PROBE = r"""
import json, sys, time
from swarm_learning.errors import SwarmLearningError
from swarm_learning.sn_client import SNClient
from swarm_learning.tls import TLSIdentity

cert, key, capath, training, limit, what, *args = sys.argv[1:]
identity = TLSIdentity.from_options(cert, key, capath)
deadline = time.monotonic() + float(limit)

def client(address):
    host, _, port = address.rpartition(":")
    return SNClient(host, int(port), identity, retry_seconds=5, failover_after=600)

def done(ok, **view):
    print(json.dumps({"ok": ok, **view}))
    sys.exit(0 if ok else 1)

if what == "training":
    sn, at_least_round, at_least_members = client(args[0]), int(args[1]), int(args[2])
    last = {}
    while True:
        try:
            t = sn.training(training)
            last = {"round": t.current_round, "members": len(t.members), "over": t.over, "height": t.height}
            if t.current_round > at_least_round and len(t.members) >= at_least_members:
                done(True, **last)
            height = t.height
        except SwarmLearningError as exc:
            last, height = {**last, "error": str(exc)}, 0
        if time.monotonic() > deadline:
            done(False, **last)
        try:
            sn.wait_for_change(height, min(2.0, max(0.1, deadline - time.monotonic())))
        except SwarmLearningError:
            pass
elif what == "heads":
    clients = {address: client(address) for address in args}
    seen = {}
    while True:
        try:
            views_now = {a: c.network() for a, c in clients.items()}
            seen = {a: [v.height, v.head_hash] for a, v in views_now.items()}
        except SwarmLearningError as exc:
            seen = {"error": str(exc)}
        views = {tuple(v) for k, v in seen.items() if k != "error"}
        if len(views) == 1 and "error" not in seen:
            t = clients[args[0]].training(training)
            done(True, heads=seen, round=t.current_round, over=t.over)
        if time.monotonic() > deadline:
            done(False, heads=seen)
        try:
            clients[args[0]].wait_for_change(max((v[0] for v in views), default=0), 0.5)
        except SwarmLearningError:
            pass
"""


@dataclass
class SiteNode:
    """One site: its namespace, folders, certificates and the SN / SL / ML processes started in it."""

    site: netns.Site
    dir: Path
    socket: Path
    certs: CertFactory
    sentinel: netns.Site | None  # the site whose SN this one joins through (None: this SN is the sentinel)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def index(self) -> int:
        return self.site.index

    @property
    def address(self) -> str:
        return self.site.address

    @property
    def sn_address(self) -> str:
        return f"{self.address}:{SN_API_PORT}"

    @property
    def sn_data(self) -> Path:
        return self.dir / "sn" / "data"

    def log(self, what: str) -> Path:
        return self.dir / f"{what}.log"

    def identity(self, name: str) -> list[str]:
        p = self.certs.paths(name)
        return ["--cert", str(p.cert), "--key", str(p.key), "--capath", str(p.capath)]

    def _start(self, what: str, command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        popen = spawn(self.site.argv(*command), self.log(what), {"PYTHONUNBUFFERED": "1", **(env or {})})
        self.procs[what] = popen
        return popen

    # -- SN ------------------------------------------------------------------------------------------------------
    def start_sn(self) -> None:
        port_file = self.dir / "sn" / "api-port"
        port_file.unlink(missing_ok=True)
        role = (
            ["--sentinel"]
            if self.sentinel is None
            else ["--sentinel-ip", self.sentinel.address, "--sentinel-api-port", str(SN_API_PORT)]
        )
        self._start(
            "sn",
            [
                sys.executable, "-m", "sn.cli", *role,
                "--host-ip", self.address, "--bind", self.address,
                "--sn-api-port", str(SN_API_PORT), "--sn-p2p-port", str(SN_P2P_PORT),
                "--data-dir", str(self.sn_data), "--port-file", str(port_file), "--join-timeout", "60",
                *self.identity(f"sn-{self.index}"),
            ],
        )  # fmt: skip

    def wait_sn(self) -> None:
        wait_for_port_file(self.dir / "sn" / "api-port", self.procs["sn"], self.log("sn"), timeout=START_WAIT)

    def crash_sn(self) -> None:
        """SIGKILL the SN's process group and its etcd member, as when the site loses power."""
        popen = self.procs["sn"]
        os.killpg(popen.pid, signal.SIGKILL)
        popen.wait(10)
        self._kill_etcd()

    def _kill_etcd(self) -> None:
        try:
            pid = int((self.sn_data / "etcd.pid").read_text())
            if str(self.sn_data).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass  # no etcd member running

    # -- SL and ML -----------------------------------------------------------------------------------------------
    def start_sl(self) -> None:
        (self.dir / "sl" / "fs-port").unlink(missing_ok=True)
        self._start(
            "sl",
            [
                sys.executable, "-m", "sl.cli",
                "--host-ip", self.address, "--bind", self.address,
                "--sn-ip", self.address, "--sn-api-port", str(SN_API_PORT), "--sl-fs-port", str(SL_FS_PORT),
                "--socket", str(self.socket), "--data-dir", str(self.dir / "sl"),
                "--port-file", str(self.dir / "sl" / "fs-port"),
                *self.identity(f"sl-{self.index}"),
            ],
            SL_ENV,
        )  # fmt: skip

    def wait_sl(self) -> None:
        wait_for_port_file(self.dir / "sl" / "fs-port", self.procs["sl"], self.log("sl"), timeout=START_WAIT)

    def start_ml(self) -> None:
        env = {
            **ML_ENV,
            "SCRATCH_DIR": str(self.dir / "scratch"),
            "MODEL_DIR": str(PROGRAMS),
            "SWARM_SL_SOCKET": str(self.socket),
        }
        self._start("ml", [sys.executable, str(PROGRAMS / "tiny_torch.py")], env)

    def final_digest(self) -> str | None:
        try:
            return json.loads((self.dir / "sl" / "status.json").read_text()).get("final_weights_sha256")
        except (OSError, json.JSONDecodeError):
            return None

    def stop(self, *names: str) -> None:
        for name in names or ("ml", "sl", "sn"):
            popen = self.procs.get(name)
            if popen is not None and popen.poll() is None:
                try:
                    os.killpg(popen.pid, signal.SIGTERM)
                    popen.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(popen.pid, signal.SIGKILL)
                    popen.wait(5)
                except ProcessLookupError:
                    pass
        if not names or "sn" in names:
            self._kill_etcd()

    def tails(self, lines: int = 40) -> str:
        parts = []
        for log in [self.log("sn"), self.sn_data / "etcd" / "etcd.log", self.log("sl"), self.log("ml")]:
            if log.exists():
                text = "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
                parts.append(f"==== site {self.index}: {log}\n{text}")
        return "\n".join(parts)

    # -- looking at the SN API from inside this site -------------------------------------------------------------
    def probe(self, what: str, *args: str, limit: float) -> dict:
        p = self.certs.paths("swci-1")
        argv = self.site.argv(
            sys.executable, "-c", _PROBE, str(p.cert), str(p.key), str(p.capath), DEFAULT_TRAINING_CONTRACT,
            str(limit), what, *args,
        )  # fmt: skip
        result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=limit + 60, check=False)
        lines = result.stdout.strip().splitlines()
        view = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {"ok": False}
        if not view.get("ok"):
            raise AssertionError(f"probe {what} {args} from site {self.index} failed: {result.stdout}{result.stderr}")
        return view

    def chain_verify(self, addresses: list[str]) -> tuple[int, str]:
        p = self.certs.paths("swci-1")
        argv = self.site.argv(
            sys.executable, "-m", "swarm_learning.cli", "chain", "verify", "--no-history", "--timeout", "10",
            "--cert", str(p.cert), "--key", str(p.key), "--capath", str(p.capath),
            *[arg for a in addresses for arg in ("--sn", a)],
        )  # fmt: skip
        result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
        return result.returncode, result.stdout + result.stderr


@contextmanager
def three_sites(tmp_path: Path) -> Iterator[list[SiteNode]]:
    """Three namespaces with certificates for their addresses; every process stopped and logs shown on failure."""
    netns.require_netns()
    sockets = Path(tempfile.mkdtemp(prefix="swt-"))  # Unix socket paths must stay short
    with netns.sites(3) as sites:
        certs = CertFactory(tmp_path / "cert")
        for site in sites:  # etcd checks a peer certificate's addresses against where the peer connects from
            hosts = ("localhost", "127.0.0.1", site.address)
            certs.paths(f"sn-{site.index}", hosts=hosts)
            certs.paths(f"sl-{site.index}", hosts=hosts)
        certs.paths("swci-1")
        nodes = [
            SiteNode(s, tmp_path / f"site-{s.index}", sockets / f"s{s.index}" / "sl.sock", certs,
                     None if s.index == 1 else sites[0])
            for s in sites
        ]  # fmt: skip
        try:
            yield nodes
        except BaseException:
            print("\n".join(node.tails() for node in nodes))
            raise
        finally:
            for node in nodes:
                node.stop()
            for path in sorted(sockets.rglob("*"), reverse=True):
                path.rmdir() if path.is_dir() else path.unlink()
            sockets.rmdir()


def start_network(nodes: list[SiteNode]) -> None:
    for node in nodes:  # a joiner needs the SN it joins through, and joins one at a time
        node.start_sn()
        node.wait_sn()


def start_training(nodes: list[SiteNode]) -> None:
    for node in nodes:
        node.start_sl()
    for node in nodes:
        node.wait_sl()
    for node in nodes:
        node.start_ml()


def wait_for_programs(nodes: list[SiteNode]) -> dict[int, int | None]:
    """Wait (bounded) for every site's ML program to exit; return each site's exit code (None: still running)."""
    deadline = time.monotonic() + TRAINING_WAIT
    codes: dict[int, int | None] = {}
    for node in nodes:
        try:
            codes[node.index] = node.procs["ml"].wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            codes[node.index] = None
    return codes


def assert_same_final_model(nodes: list[SiteNode]) -> str:
    codes = wait_for_programs(nodes)
    assert codes == {node.index: 0 for node in nodes}, f"ML exit codes (None = still running): {codes}"
    digests = {node.index: node.final_digest() for node in nodes}
    assert None not in digests.values() and len(set(digests.values())) == 1, f"final weights differ: {digests}"
    for node in nodes:  # the chain is quiet from here on: its heads can be compared
        node.stop("ml", "sl")
    return next(iter(digests.values()))  # type: ignore[return-value]


def test_training_ends_with_one_model_on_three_sites_while_a_joined_sn_is_killed_and_restarted(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    with three_sites(tmp_path) as nodes:
        start_network(nodes)
        network_up = time.monotonic() - started
        start_training(nodes)
        site1, victim = nodes[0], nodes[2]
        running = site1.probe("training", site1.sn_address, "2", "3", limit=START_WAIT + TRAINING_WAIT / 2)
        killed_at = time.monotonic()
        victim.crash_sn()
        victim.start_sn()
        victim.wait_sn()
        back_in = time.monotonic() - killed_at

        digest = assert_same_final_model(nodes)

        addresses = [node.sn_address for node in nodes]
        final = site1.probe("heads", *addresses, limit=60)
        code, output = site1.chain_verify(addresses)
        assert code == 0 and "OK: 3 of 3 SNs agree" in output, output
        assert "restarting member sn-3" in victim.log("sn").read_text()  # it came back from its data, no rejoin
        assert final["over"] and final["round"] > running["round"] + 1  # rounds were merged after the crash
        print(
            f"\nscenario A (SN of site 3 killed at round {running['round']} and restarted in {back_in:.1f} s): "
            f"network up in {network_up:.1f} s, {final['round'] - 1} rounds, total {time.monotonic() - started:.1f} s, "
            f"final model {digest[:12]} on 3 sites, head {next(iter(final['heads'].values()))} on 3 SNs"
        )


def test_training_ends_with_one_model_on_three_sites_after_the_sentinel_sn_is_killed(tmp_path: Path) -> None:
    started = time.monotonic()
    with three_sites(tmp_path) as nodes:
        start_network(nodes)
        network_up = time.monotonic() - started
        start_training(nodes)
        sentinel, site2 = nodes[0], nodes[1]
        joined = site2.probe("training", site2.sn_address, "0", "3", limit=START_WAIT + TRAINING_WAIT / 2)
        sentinel.crash_sn()  # and it stays down
        killed_at = time.monotonic()

        digest = assert_same_final_model(nodes)
        trained = time.monotonic() - killed_at

        survivors = [node.sn_address for node in nodes[1:]]
        final = site2.probe("heads", *survivors, limit=60)
        code, output = site2.chain_verify(survivors)
        assert code == 0 and "OK: 2 of 2 SNs agree" in output, output
        assert final["over"]
        print(
            f"\nscenario B (sentinel SN killed at round {joined['round']}, stays down): network up in "
            f"{network_up:.1f} s, training finished {trained:.1f} s later after {final['round'] - 1} rounds, "
            f"total {time.monotonic() - started:.1f} s, final model {digest[:12]} on 3 sites, "
            f"head {next(iter(final['heads'].values()))} on the 2 surviving SNs"
        )
