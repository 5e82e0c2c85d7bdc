"""Sync-round time for 2, 3 and 4 nodes at 1M, 10M and 50M float32 parameters, next to the time the same bytes
take over one TLS loopback stream, measured in the same run.

A round moves every non-leader's weights to the leader and the merged weights back: 2 × (n − 1) model-sized
transfers. The in-run bound is the time one TLS stream (Python ssl sockets, the same certificates) needs for those
bytes; the ratio says how much the round costs on top (chain transactions, merge, disk, evaluation hand-off).

    python -m benchmarks.bench_sync [--nodes 2 3 4] [--params 1000000 10000000 50000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from certs.gen_cert import generate
from swarm_learning.progress import ProgressView
from swarm_learning.runlocal import LocalSwarm, RunLocalOptions
from swarm_learning.tls import TLSIdentity

PROGRAM = Path(__file__).with_name("sync_program.py")


def tls_stream_seconds(nbytes: int, certs: Path) -> float:
    """Time to push ``nbytes`` through one mutually authenticated TLS connection on loopback."""
    server_id = TLSIdentity.from_options(certs / "sn-1-cert.pem", certs / "sn-1-key.pem", certs / "ca" / "capath")
    client_id = TLSIdentity.from_options(certs / "swci-1-cert.pem", certs / "swci-1-key.pem", certs / "ca" / "capath")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    chunk = b"\0" * (1 << 20)

    def serve() -> None:
        conn, _ = listener.accept()
        with server_id.server_context().wrap_socket(conn, server_side=True) as tls:
            left = nbytes
            while left > 0:
                n = tls.send(chunk[: min(len(chunk), left)])
                left -= n

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with socket.create_connection(("127.0.0.1", port)) as raw, client_id.client_context().wrap_socket(raw) as tls:
        started = time.perf_counter()
        got = 0
        buf = bytearray(1 << 20)
        while got < nbytes:
            n = tls.recv_into(buf)
            if n == 0:
                break
            got += n
        elapsed = time.perf_counter() - started
    thread.join(10)
    listener.close()
    return elapsed


def sync_swarm(nodes: int, params: int, rounds: int, workdir: Path, timeout_s: float = 1800) -> LocalSwarm:
    """A local swarm of ``nodes`` sites whose ML side is ``sync_program.py`` (``params`` float32 weights)."""
    return LocalSwarm(
        RunLocalOptions(
            nodes=nodes,
            program=PROGRAM,
            data_dirs=(),
            workdir=workdir,
            json_summary=None,
            timeout_s=timeout_s,
            env={"PARAMS": str(params), "ROUNDS": str(rounds), "MIN_PEERS": str(nodes)},
        )
    )


def one_config(nodes: int, params: int, rounds: int, workdir: Path) -> dict[str, float]:
    swarm = sync_swarm(nodes, params, rounds, workdir)
    try:
        swarm.start()
        ok, _ = swarm.wait(ProgressView(Console(quiet=True)))
        if not ok:
            raise SystemExit(f"benchmark swarm failed; logs in {workdir}")
    finally:
        swarm.stop()
    per_site = [json.loads((s.dir / "timings.json").read_text())["round_seconds"] for s in swarm.sites]
    round_times = [max(t[i] for t in per_site) for i in range(rounds)]
    model_bytes = params * 4
    stream = tls_stream_seconds(2 * (nodes - 1) * model_bytes, workdir / "cert")
    return {
        "nodes": nodes,
        "params": params,
        "round_s": statistics.median(round_times),
        "tls_bound_s": stream,
        "model_mb": model_bytes / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--params", type=int, nargs="+", default=[1_000_000, 10_000_000, 50_000_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sync.json"))
    args = parser.parse_args()
    console = Console()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        generate(Path(tmp) / "cert", ["sn-1", "swci-1"])
        for params in args.params:
            for nodes in args.nodes:
                work = Path(tmp)
                console.print(f"[bold]{nodes} nodes × {params / 1e6:g}M params[/] … ", end="")
                row = one_config(nodes, params, args.rounds, work)
                results.append(row)
                console.print(
                    f"round {row['round_s']:.2f}s, TLS stream bound {row['tls_bound_s']:.2f}s "
                    f"(× {row['round_s'] / row['tls_bound_s']:.1f})"
                )
    table = Table(
        title=f"Sync round (median of {args.rounds}) vs one TLS loopback stream — {platform.processor() or platform.machine()}"
    )
    for col in ("nodes", "params", "model MB", "round s", "TLS bound s", "round / bound"):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(
            str(r["nodes"]),
            f"{r['params'] / 1e6:g}M",
            f"{r['model_mb']:.0f}",
            f"{r['round_s']:.2f}",
            f"{r['tls_bound_s']:.3f}",
            f"{r['round_s'] / r['tls_bound_s']:.1f}",
        )
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": platform.platform(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
