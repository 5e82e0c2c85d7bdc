"""Merge throughput: GB/s of input models merged by each method, next to a plain BLAS weighted mean.

    python -m benchmarks.bench_merge [--params 10000000] [--nodes 2 3 4 8] [--repeat 3]
                                     [--methods mean coordmedian geomedian] [--out benchmarks/results/merge.json]

For each node count ``n`` it builds ``n`` float32 models of ``--params`` parameters (1024x1024 layers with
biases, like a dense network; each model = a shared base + per-node noise) and integer weightages 1..100,
then times each merge method against ``(w / sum(w)) @ stacked`` on the same data stacked into an (n, P)
float32 matrix (one BLAS gemv: the floor a weighted mean could reach). Throughput is ``n * model bytes /
best time``. The method and BLAS alternate within each repetition so both see the same machine load, each
timed call after a 0.25 s pause (see :func:`timed`). Building the stacked matrix is not timed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from swarm_learning.merge import MERGE_METHODS, get_merge_method

_LAYER = 1024
_SETTLE_S = 0.25


@dataclass
class Result:
    method: str
    nodes: int
    params: int
    input_bytes: int
    times_s: list[float] = field(default_factory=list)
    blas_times_s: list[float] = field(default_factory=list)

    @property
    def gbps(self) -> float:
        return self.input_bytes / min(self.times_s) / 1e9

    @property
    def blas_gbps(self) -> float:
        return self.input_bytes / min(self.blas_times_s) / 1e9

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "best_s": min(self.times_s),
            "gbps": round(self.gbps, 3),
            "blas_best_s": min(self.blas_times_s),
            "blas_gbps": round(self.blas_gbps, 3),
            "ratio_to_blas": round(self.gbps / self.blas_gbps, 3),
        }


def make_models(params: int, nodes: int, seed: int) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
    """``nodes`` models as dicts of tensor views into one flat float32 vector each, and those vectors."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(params, dtype=np.float32)
    flats = np.empty((nodes, params), dtype=np.float32)
    for row in flats:
        row[...] = rng.standard_normal(params, dtype=np.float32)
        row *= 0.05
        row += base
    shapes = layer_shapes(params)
    models = []
    for row in flats:
        model, offset = {}, 0
        for name, shape in shapes:
            size = int(np.prod(shape))
            model[name] = row[offset : offset + size].reshape(shape)
            offset += size
        models.append(model)
    return models, flats


def layer_shapes(params: int) -> list[tuple[str, tuple[int, ...]]]:
    """Dense layers (weight + bias) of width 1024 filling exactly ``params`` parameters."""
    shapes: list[tuple[str, tuple[int, ...]]] = []
    left, k = params, 0
    while left > 0:
        rows = min(_LAYER, max(1, (left - _LAYER) // _LAYER)) if left > 2 * _LAYER else 0
        if rows:
            shapes += [(f"layer{k}.weight", (rows, _LAYER)), (f"layer{k}.bias", (_LAYER,))]
            left -= rows * _LAYER + _LAYER
        else:
            shapes.append((f"head{k}.weight", (left,)))
            left = 0
        k += 1
    return shapes


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Time one call, after a pause that lets OpenBLAS's worker threads stop spinning (they busy-wait
    ~0.1 s after each BLAS call, which on 2 cores would steal a core from whatever runs next)."""
    time.sleep(_SETTLE_S)
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def bench_nodes(params: int, nodes: int, methods: list[str], repeat: int, seed: int) -> list[Result]:
    models, stacked = make_models(params, nodes, seed + nodes)
    weights = np.random.default_rng(seed).integers(1, 101, size=nodes)
    coefficients = (weights / weights.sum()).astype(np.float32)
    results = []
    as_list = [int(w) for w in weights]
    for name in methods:
        merge = get_merge_method(name).merge
        result = Result(name, nodes, params, input_bytes=stacked.nbytes)
        for rep in range(repeat):
            method_s, merged = timed(lambda: merge(models, as_list))  # noqa: B023 (called at once)
            blas_s, reference = timed(lambda: coefficients @ stacked)
            result.blas_times_s.append(blas_s)
            result.times_s.append(method_s)
            if name == "mean" and rep == 0:
                got = np.concatenate([t.reshape(-1) for t in merged.values()])
                np.testing.assert_allclose(got, reference, rtol=1e-4, atol=1e-5)
            print(
                f"  n={nodes} {name:<11} rep {rep + 1}/{repeat}: {method_s:8.4f} s "
                f"{stacked.nbytes / method_s / 1e9:7.2f} GB/s   BLAS {blas_s:7.4f} s "
                f"{stacked.nbytes / blas_s / 1e9:6.2f} GB/s",
                flush=True,
            )
            del merged, reference
        results.append(result)
    return results


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "loadavg_at_start": os.getloadavg(),
    }
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: p.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for p in threadpool_info()
            if p.get("user_api") == "blas"
        ]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    return info


def print_table(results: list[Result]) -> None:
    header = ("method", "nodes", "input MB", "best s", "GB/s", "BLAS GB/s", "ratio")
    rows = [
        (
            r.method,
            str(r.nodes),
            f"{r.input_bytes / 1e6:.0f}",
            f"{min(r.times_s):.4f}",
            f"{r.gbps:.2f}",
            f"{r.blas_gbps:.2f}",
            f"{r.gbps / r.blas_gbps:.2f}",
        )
        for r in results
    ]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
        for row in (header, *rows):
            print("  ".join(cell.rjust(width) for cell, width in zip(row, widths)))
        return
    table = Table(title="Merge throughput (input GB/s, best of repeats)")
    for h in header:
        table.add_column(h, justify="left" if h == "method" else "right")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_merge", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--params", type=int, default=10_000_000, help="parameters per model")
    parser.add_argument("--nodes", type=int, nargs="+", default=[2, 3, 4, 8], help="participant counts")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per method and count (best kept)")
    parser.add_argument("--methods", nargs="+", default=list(MERGE_METHODS), choices=MERGE_METHODS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/merge.json"))
    args = parser.parse_args(argv)
    if args.params < 1 or args.repeat < 1 or min(args.nodes) < 1:
        parser.error("--params, --repeat and --nodes must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info()
    print(f"merge benchmark: {args.params:,} float32 params/model, nodes {args.nodes}, best of {args.repeat}")
    print(
        f"machine: {machine['cpu']}, {machine['cores']} cores, numpy {machine['numpy']}, BLAS {machine['blas']}"
    )
    started = time.perf_counter()
    results: list[Result] = []
    for nodes in args.nodes:
        results += bench_nodes(args.params, nodes, args.methods, args.repeat, args.seed)
    machine["loadavg_at_end"] = os.getloadavg()
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "command": " ".join(["python -m benchmarks.bench_merge", *sys.argv[1:]]),
        "machine": machine,
        "config": {"params": args.params, "nodes": args.nodes, "repeat": args.repeat, "seed": args.seed},
        "wall_s": round(time.perf_counter() - started, 1),
        "results": [r.as_json() for r in results],
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"results written to {args.out} ({payload['wall_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
