"""SN network cost: API write latency and throughput with 1, 3 and 5 SNs, and chain transactions per sync round.

Part 1 starts a real Swarm Network per size on loopback (a sentinel SN, then SNs that join through it; the first
three vote in etcd, later ones are learners that forward writes to a voter), registers SL identities, and times
``heartbeat`` calls (a real contract transaction: etcd commit, then executed by every SN's EVM) sent round-robin
through all SNs: p50/p99 one at a time, and writes/s with several threads (one identity per thread).

Part 2 runs a real small swarm per node count with run-local's machinery (``benchmarks/sync_program.py``) and counts
the contract operations on the chain per merged round from the SN's ``/history``.

    python -m benchmarks.bench_sn_network [--sns 1 3 5] [--writes 300] [--concurrency 1 8] [--nodes 2 3 4]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from benchmarks.bench_sync import sync_swarm
from certs.gen_cert import generate
from swarm_learning.errors import SwarmLearningError
from swarm_learning.progress import ProgressView
from swarm_learning.runlocal import LocalSwarm, Proc
from swarm_learning.sn_client import SNClient
from swarm_learning.tls import TLSIdentity

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 90.0  # per SN: start, join, catch up
JOIN_TIMEOUT = 30  # seconds an SN keeps retrying its join before it exits
PHASE_TIMEOUT = 120.0  # per timed write phase
WARMUP_WRITES = 10
console = Console(width=150)


# -- part 1: a network of N SN processes -----------------------------------------------------------------------------


class NetworkNotFormed(RuntimeError):
    """An SN of the benchmark's network exited before it was ready (e.g. its join was refused)."""


@dataclass
class SNDaemon:
    """One ``swarm-sn`` process; ``join_port`` is the API port of the SN it joins through (None: the sentinel)."""

    name: str
    root: Path
    certs: Path
    join_port: int | None
    proc: Proc | None = None
    port: int = 0

    @property
    def data_dir(self) -> Path:
        return self.root / self.name / "data"

    @property
    def log(self) -> Path:
        return self.root / self.name / "sn.log"

    @property
    def port_file(self) -> Path:
        return self.root / self.name / "api-port"

    def start(self) -> None:
        role = (
            ["--sentinel"]
            if self.join_port is None
            else ["--sentinel-ip", "127.0.0.1", "--sentinel-api-port", str(self.join_port)]
        )
        argv = [
            sys.executable, "-m", "sn.cli", *role,
            "--host-ip", "127.0.0.1", "--bind", "127.0.0.1", "--sn-api-port", "0", "--sn-p2p-port", "0",
            "--data-dir", str(self.data_dir), "--port-file", str(self.port_file), "--join-timeout", str(JOIN_TIMEOUT),
            "--cert", str(self.certs / f"{self.name}-cert.pem"), "--key", str(self.certs / f"{self.name}-key.pem"),
            "--capath", str(self.certs / "ca" / "capath"),
        ]  # fmt: skip
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as out:
            popen = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        self.proc = Proc(self.name, popen, self.log)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> int:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.port_file.exists() and self.port_file.read_text().strip():
                self.port = int(self.port_file.read_text())
                return self.port
            if not self.proc.alive():
                errors = [line for line in self.log.read_text(errors="replace").splitlines() if " ERROR " in line]
                reason = errors[-1].split(" : ")[-1] if errors else "no ERROR line in its log"
                raise NetworkNotFormed(f"{self.name} exited with {self.proc.popen.returncode}: {reason}")
            time.sleep(0.05)  # polling another process's port file: nothing to block on
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s; log: {self.log}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(timeout=20)
        end_etcd_member(self.data_dir)


def end_etcd_member(data_dir: Path) -> None:
    """Kill the SN's etcd member (it runs in its own session) if it outlived its SN."""
    try:
        pid = int((data_dir / "etcd.pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    if str(data_dir).encode() in cmdline:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def identity(certs: Path, name: str) -> TLSIdentity:
    return TLSIdentity.from_options(certs / f"{name}-cert.pem", certs / f"{name}-key.pem", certs / "ca" / "capath")


def client(certs: Path, name: str, port: int) -> SNClient:
    return SNClient("127.0.0.1", port, identity(certs, name), retry_seconds=10.0)


def wait_converged(sns: list[SNDaemon], certs: Path, timeout: float = 60.0) -> int:
    """Bounded wait until every SN reports the same head; returns the height."""
    clients = [client(certs, "swci-1", sn.port) for sn in sns]
    deadline = time.monotonic() + timeout
    try:
        while True:
            heads = [c.info() for c in clients]
            if len({(h.height, h.head_hash) for h in heads}) == 1:
                return heads[0].height
            if time.monotonic() > deadline:
                raise RuntimeError(f"SNs did not converge: {[(h.height, h.head_hash[:10]) for h in heads]}")
            # long poll on the lowest SN: returns as soon as it applies a block
            low = min(range(len(heads)), key=lambda i: heads[i].height)
            clients[low].wait_for_change(heads[low].height, 0.5)
    finally:
        for c in clients:
            c.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    lo = int(rank)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


@dataclass
class PhaseResult:
    concurrency: int
    writes: int
    errors: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    by_role_ms: dict[str, list[float]] = field(repr=False)
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def summary(self) -> dict[str, Any]:
        lat = self.latencies_ms
        return {
            "concurrency": self.concurrency,
            "writes": self.writes,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "writes_per_s": round(self.writes / self.seconds, 2) if self.seconds else 0.0,
            "p50_ms": round(percentile(lat, 50), 2) if lat else None,
            "p99_ms": round(percentile(lat, 99), 2) if lat else None,
            "mean_ms": round(statistics.fmean(lat), 2) if lat else None,
            "p50_ms_by_role": {r: round(percentile(v, 50), 2) for r, v in self.by_role_ms.items() if v},
            "loadavg_after": [round(x, 2) for x in self.load],
        }


class RetryCounter(logging.Handler):
    """Counts the SN client's retries in a phase, warm-up included (it logs a warning before each one)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reasons: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        self.reasons["nonce conflict" if "nonce conflict" in text else "other"] += 1


def plan_routes(sns: list[SNDaemon], concurrency: int, cross: bool) -> list[list[tuple[str, SNDaemon]]]:
    """Per thread, the (identity, SN) pairs it cycles through.

    Default (like real SLs, each talks to one SN): with one thread, identity ``sl-k`` writes through SN k, the
    thread cycling over all SNs; with several threads, thread t writes as ``sl-t`` through SN ``t mod N``.
    ``cross``: every identity cycles over all SNs (consecutive writes of one identity through different SNs).
    """
    n = len(sns)
    if cross:
        return [[(f"sl-{t + 1}", sns[(t + i) % n]) for i in range(n)] for t in range(concurrency)]
    if concurrency == 1:
        return [[(f"sl-{k + 1}", sns[k]) for k in range(n)]]
    return [[(f"sl-{t + 1}", sns[t % n])] for t in range(concurrency)]


def timed_writes(
    routes: list[list[tuple[str, SNDaemon]]], roles: dict[int, str], certs: Path, total: int
) -> PhaseResult:
    """``total`` heartbeats over ``len(routes)`` threads, each cycling over its (identity, SN) pairs."""
    threads_n = len(routes)
    share = [total // threads_n + (1 if t < total % threads_n else 0) for t in range(threads_n)]
    latencies: list[list[float]] = [[] for _ in routes]
    roles_seen: list[list[str]] = [[] for _ in routes]
    errors = [0] * threads_n
    done = [0]
    lock = threading.Lock()
    barrier = threading.Barrier(threads_n + 1)
    deadline = time.monotonic() + PHASE_TIMEOUT

    def run(t: int) -> None:
        clients = [client(certs, name, sn.port) for name, sn in routes[t]]
        try:
            try:  # warm-up, untimed: opens every connection
                for i in range(max(len(clients), WARMUP_WRITES // threads_n + 1)):
                    clients[i % len(clients)].heartbeat()
            except BaseException:
                barrier.abort()
                raise
            barrier.wait(60)
            for i in range(share[t]):
                if time.monotonic() > deadline:
                    break
                k = i % len(clients)
                started = time.perf_counter()
                try:
                    clients[k].heartbeat()
                except SwarmLearningError as exc:
                    errors[t] += 1
                    console.print(f"  [red]write through {routes[t][k][1].name} failed:[/] {exc}")
                    continue
                latencies[t].append(1000 * (time.perf_counter() - started))
                roles_seen[t].append(roles[routes[t][k][1].port])
                with lock:
                    done[0] += 1
                    if done[0] % 100 == 0:
                        console.print(f"  … {done[0]}/{total} writes", highlight=False)
        finally:
            for c in clients:
                c.close()

    threads = [threading.Thread(target=run, args=(t,), daemon=True) for t in range(threads_n)]
    for th in threads:
        th.start()
    barrier.wait(120)
    started = time.perf_counter()
    for th in threads:
        th.join(PHASE_TIMEOUT + 30)
    seconds = time.perf_counter() - started
    flat = [x for lat in latencies for x in lat]
    by_role: dict[str, list[float]] = {}
    for lat, rs in zip(latencies, roles_seen):
        for x, r in zip(lat, rs):
            by_role.setdefault(r, []).append(x)
    return PhaseResult(threads_n, len(flat), sum(errors), seconds, flat, by_role, os.getloadavg())


def one_network(
    size: int, writes: int, concurrencies: list[int], cross: bool, root: Path, certs: Path
) -> dict[str, Any]:
    sns = [SNDaemon(f"sn-{i}", root / f"net-{size}", certs, None) for i in range(1, size + 1)]
    try:
        started = time.monotonic()
        sns[0].start()
        sns[0].wait_ready()
        for sn in sns[1:]:
            sn.join_port = sns[0].port
            sn.start()
            try:
                sn.wait_ready()
            except NetworkNotFormed as exc:
                console.print(f"[bold]{size} SN(s)[/]: [red]the network could not be formed[/]: {exc}")
                return {"sns": size, "error": str(exc)}
        formed_s = time.monotonic() - started
        monitor = client(certs, "swci-1", sns[0].port)  # a voter: it knows every member's role
        try:
            view = monitor.network()
        finally:
            monitor.close()
        voter_apis = {m.api for m in view.members if m.voter}
        roles = {sn.port: "voter" if f"127.0.0.1:{sn.port}" in voter_apis else "learner" for sn in sns}
        console.print(
            f"[bold]{size} SN(s)[/] formed in {formed_s:.1f}s: {len(voter_apis)} voter(s), "
            f"{size - len(voter_apis)} learner(s), leader {view.leader}"
        )
        writers = [f"sl-{t}" for t in range(1, max(max(concurrencies), size) + 1)]
        for t, name in enumerate(writers):
            c = client(certs, name, sns[t % size].port)
            try:
                c.register("sl", "127.0.0.1", 31000 + t)
            finally:
                c.close()
        wait_converged(sns, certs)
        phases = []
        for conc in concurrencies:
            retries = RetryCounter()
            client_log = logging.getLogger("swarm_learning.sn_client")
            client_log.addHandler(retries)
            client_log.setLevel(logging.WARNING)
            client_log.propagate = False
            try:
                result = timed_writes(plan_routes(sns, conc, cross), roles, certs, writes)
            finally:
                client_log.removeHandler(retries)
                client_log.propagate = True
            row = result.summary()
            row["retries"] = dict(retries.reasons)
            phases.append(row)
            console.print(
                f"  concurrency {conc}: {row['writes']} writes in {row['seconds']:.1f}s = "
                f"{row['writes_per_s']:.1f}/s, p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, "
                f"errors {row['errors']}, retries {sum(retries.reasons.values())} (load {row['loadavg_after'][0]})",
                highlight=False,
            )
        height = wait_converged(sns, certs)
        console.print(f"  all {size} SN(s) agree at height {height}")
        return {
            "sns": size,
            "voters": len(voter_apis),
            "learners": size - len(voter_apis),
            "formed_s": round(formed_s, 2),
            "height": height,
            "phases": phases,
        }
    except BaseException:
        for sn in sns:
            if sn.log.exists():
                console.print(f"--- {sn.name} log tail ---\n{sn.log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        for sn in reversed(sns):
            sn.stop()


# -- part 2: chain transactions per sync round ----------------------------------------------------------------------


def read_history(swarm: LocalSwarm, heartbeats: bool) -> list[dict[str, Any]]:
    ident = identity(swarm.cert_dir, "swci-1")
    resp = httpx.get(
        f"https://127.0.0.1:{swarm.sn_port}/history",
        params={"heartbeats": heartbeats},
        verify=ident.client_context(),
        timeout=30,
    )
    resp.raise_for_status()
    return list(resp.json())


def count_per_round(ops: list[dict[str, Any]], training: str) -> dict[str, Any]:
    """Operations per merged round: those that name a round are counted in it; progress reports (which name no
    round) are spread evenly; the rest is fixed cost (deploy, registration, joining, finishing)."""
    mine = [op for op in ops if op["what"] != "heartbeat"]
    per_round: dict[int, Counter[str]] = {}
    untied: Counter[str] = Counter()
    for op in mine:
        number = op["args"].get("round")
        if isinstance(number, int) and op["args"].get("name", training) == training:
            per_round.setdefault(number, Counter())[op["what"]] += 1
        else:
            untied[op["what"]] += 1
    merged = sorted(r for r, c in per_round.items() if c.get("publishMerge"))
    progress = untied.pop("reportProgress", 0)
    totals = [sum(per_round[r].values()) + progress / len(merged) for r in merged] if merged else []
    kinds: Counter[str] = Counter()
    for r in merged:
        kinds.update(per_round[r])
    per_round_kinds = {k: v / len(merged) for k, v in kinds.items()} if merged else {}
    if merged:
        per_round_kinds["reportProgress"] = progress / len(merged)
    return {
        "merged_rounds": len(merged),
        "per_round_total": totals,
        "per_round_by_kind": per_round_kinds,
        "fixed": dict(untied),
        "all_operations": len(mine),
    }


def one_swarm(nodes: int, rounds: int, params: int, workdir: Path) -> dict[str, Any]:
    swarm = sync_swarm(nodes, params, rounds, workdir, timeout_s=300)
    started = time.monotonic()
    try:
        swarm.start()
        ok, _ = swarm.wait(ProgressView(Console(quiet=True)))
        wall = time.monotonic() - started
        if not ok:
            raise RuntimeError(f"benchmark swarm of {nodes} failed; logs in {workdir}")
        ops = read_history(swarm, heartbeats=True)
    finally:
        swarm.stop()
        end_etcd_member(workdir / "sn-1" / "data")
    counts = count_per_round(ops, swarm.o.training)
    beats = [op for op in ops if op["what"] == "heartbeat"]
    counts.update(nodes=nodes, wall_s=round(wall, 2), heartbeats=len(beats))
    return counts


# -- main -------------------------------------------------------------------------------------------------------------


def summary_tables(networks: list[dict[str, Any]], swarms: list[dict[str, Any]]) -> tuple[Table, Table]:
    t1 = Table(title="SN API write (heartbeat transaction), round-robin over all SNs")
    for col in ("SNs", "voters", "learners", "p50 ms (c=1)", "p99 ms (c=1)", "writes/s (c=1)",
                "writes/s (c=max)", "p50 ms (c=max)", "p99 ms (c=max)"):  # fmt: skip
        t1.add_column(col, justify="right")
    for net in networks:
        if "error" in net:
            t1.add_row(str(net["sns"]), "—", "—", "not formed", "", "", "", "", "")
            continue
        first, last = net["phases"][0], net["phases"][-1]
        t1.add_row(
            str(net["sns"]), str(net["voters"]), str(net["learners"]),
            f"{first['p50_ms']:.1f}", f"{first['p99_ms']:.1f}", f"{first['writes_per_s']:.1f}",
            f"{last['writes_per_s']:.1f}", f"{last['p50_ms']:.1f}", f"{last['p99_ms']:.1f}",
        )  # fmt: skip
    t2 = Table(title="Chain transactions per merged sync round (heartbeats excluded)")
    for col in ("nodes", "rounds", "tx/round", "checkIn", "closeRound", "publishMerge", "reportProgress",
                "2n+2", "fixed (setup+finish)", "heartbeats", "wall s"):  # fmt: skip
        t2.add_column(col, justify="right")
    for s in swarms:
        k = s["per_round_by_kind"]
        per = s["per_round_total"]
        t2.add_row(
            str(s["nodes"]), str(s["merged_rounds"]),
            f"{min(per):g}" if min(per) == max(per) else f"{min(per):g}–{max(per):g}",
            f"{k.get('checkIn', 0):g}", f"{k.get('closeRound', 0):g}", f"{k.get('publishMerge', 0):g}",
            f"{k.get('reportProgress', 0):g}", str(2 * s["nodes"] + 2),
            str(sum(s["fixed"].values())), str(s["heartbeats"]), f"{s['wall_s']:.1f}",
        )  # fmt: skip
    return t1, t2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sns", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--writes", type=int, default=300, help="timed writes per network size and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument(
        "--cross", action="store_true", help="each identity writes through every SN in turn (default: one SN each)"
    )
    parser.add_argument("--nodes", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of sync_program (it merges rounds+2)")
    parser.add_argument("--params", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sn_network.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the SN client's retry warnings are counted, not printed
    started = time.monotonic()
    networks: list[dict[str, Any]] = []
    swarms: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-sn-") as tmp:
        certs = Path(tmp) / "cert"
        names = [f"sn-{i}" for i in range(1, max(args.sns) + 1)]
        names += ["swci-1"] + [f"sl-{t}" for t in range(1, max(*args.concurrency, *args.sns) + 1)]
        generate(certs, names)
        console.print(f"[bold]Part 1[/]: SN API writes, {args.writes} per concurrency {args.concurrency}")
        for size in args.sns:
            networks.append(one_network(size, args.writes, args.concurrency, args.cross, Path(tmp), certs))
        console.print(f"[bold]Part 2[/]: chain transactions per round, {args.params} params, nodes {args.nodes}")
        for nodes in args.nodes:
            row = one_swarm(nodes, args.rounds, args.params, Path(tmp) / f"swarm-{nodes}")
            swarms.append(row)
            console.print(
                f"  {nodes} nodes: {row['merged_rounds']} merged rounds, per round {row['per_round_total']}, "
                f"by kind {row['per_round_by_kind']}, fixed {row['fixed']}, heartbeats {row['heartbeats']} "
                f"in {row['wall_s']:.1f}s",
                highlight=False,
            )
    for table in summary_tables(networks, swarms):
        console.print(table)
    total = time.monotonic() - started
    console.print(f"total {total:.0f}s, load average {os.getloadavg()}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "loadavg_end": os.getloadavg(),
                "total_s": round(total, 1),
                "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                "networks": networks,
                "swarms": swarms,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
