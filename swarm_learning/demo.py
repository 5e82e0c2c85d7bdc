"""``python -m swarm_learning.demo``: a local swarm on handwritten digits, compared with two baselines.

Steps, each one function:

1. :func:`prepare_data`   split scikit-learn's digits non-IID across the sites (``examples/digits/prepare_data.py``);
2. :func:`run_swarm`      train the bundled example program as a swarm through ``swarm-learning run-local``;
3. :func:`run_baselines`  train the same program alone on each site (local-only) and on all the data
   (centralised), both with ``SWARM_LOOPBACK=True``;
4. :func:`build_summary`, :func:`print_report`, :func:`save_plot`  report per site in a table, in
   ``demo-summary.json`` and in a bar chart.

The demo exits non-zero when the swarm run fails (and, with ``--check``, when the swarm is not better than every site
alone or not within 3 points of the centralised model).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from swarm_learning.errors import SwarmLearningError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DIR = REPO_ROOT / "examples" / "digits"
PROGRAMS = {"pytorch": "digits_pyt.py", "keras": "digits_keras.py"}
DEFAULT_EPOCHS = 30  # the example programs' own default MAX_EPOCHS
DATA_SEED = 42
CENTRAL_TOLERANCE = 0.03  # the swarm should be within 3 points of the centralised model
SWARM_TIMEOUT_S = 1800.0
BASELINE_TIMEOUT_S = 900.0
_EPOCH_LINE = re.compile(r"\bepoch\s+(\d+)\s*/\s*(\d+)", re.IGNORECASE)


class DemoFailed(SwarmLearningError):
    """A step of the demo failed; the message says which and shows the end of its output."""

    code = "SL-1900"


@dataclass(frozen=True)
class DemoConfig:
    framework: str
    nodes: int
    workdir: Path
    summary_path: Path
    epochs: int = DEFAULT_EPOCHS
    parallel: int = 2
    skip_swarm: bool = False
    check: bool = False

    @property
    def program(self) -> Path:
        return EXAMPLE_DIR / PROGRAMS[self.framework]

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def swarm_dir(self) -> Path:
        return self.workdir / "swarm"

    def site_data(self, i: int) -> Path:
        return self.data_dir / f"site-{i}"


@dataclass(frozen=True)
class Job:
    """One standalone (loopback) run of the example program."""

    name: str
    data_dir: Path
    scratch_dir: Path


# ---------------------------------------------------------------------------------------------- 1. data


def _is_prepared(out: Path, nodes: int, seed: int) -> bool:
    try:
        manifest = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    folders = [f"site-{i}" for i in range(1, nodes + 1)] + ["all"]
    complete = all((out / d / f).is_file() for d in folders for f in ("train.npz", "test.npz"))
    return complete and manifest.get("nodes") == nodes and manifest.get("seed") == seed


def prepare_data(cfg: DemoConfig, console: Console) -> Path:
    """Write the non-IID split into ``<workdir>/data`` unless an identical one is already there."""
    if _is_prepared(cfg.data_dir, cfg.nodes, DATA_SEED):
        console.print(f"[bold]1. Data[/]: reusing the split in {cfg.data_dir}")
        return cfg.data_dir
    console.print(f"[bold]1. Data[/]: splitting scikit-learn's digits across {cfg.nodes} sites (non-IID)")
    cmd = [sys.executable, "-m", "examples.digits.prepare_data", "--out", str(cfg.data_dir)]
    cmd += ["--nodes", str(cfg.nodes), "--seed", str(DATA_SEED)]
    done = subprocess.run(
        cmd, cwd=REPO_ROOT, env=_child_env(), capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise DemoFailed(f"data preparation failed (exit {done.returncode}):\n{done.stderr.strip()}")
    console.print(done.stdout.rstrip())
    return cfg.data_dir


# ---------------------------------------------------------------------------------------------- 2. swarm


def run_local_command(cfg: DemoConfig) -> list[str]:
    cmd = [sys.executable, "-m", "swarm_learning.cli", "run-local", "--nodes", str(cfg.nodes)]
    cmd += ["--program", str(cfg.program)]
    for i in range(1, cfg.nodes + 1):
        cmd += ["--data-dir", str(cfg.site_data(i))]
    cmd += ["--workdir", str(cfg.swarm_dir), "--json-summary", str(cfg.swarm_dir / "summary.json")]
    cmd += ["--env", f"MAX_EPOCHS={cfg.epochs}", "--env", f"MIN_PEERS={cfg.nodes}"]
    return cmd + ["--timeout", f"{SWARM_TIMEOUT_S:.0f}"]


def run_swarm(cfg: DemoConfig, console: Console) -> tuple[dict[str, Any], list[float]]:
    """Run ``swarm-learning run-local`` (it streams its own progress); return its summary and site accuracies."""
    console.print(f"[bold]2. Swarm[/]: {cfg.nodes} sites training {cfg.program.name} together")
    cmd = run_local_command(cfg)
    log.debug("running %s", cmd)
    tail: deque[str] = deque(maxlen=20)
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=_child_env(), stderr=subprocess.PIPE, text=True)

    def on_line(line: str) -> None:  # pass run-local's messages through, remembering the last ones
        sys.stderr.write(line)
        tail.append(line.rstrip())

    code, timed_out = _follow(proc, proc.stderr, on_line, SWARM_TIMEOUT_S + 120)
    if timed_out:
        raise DemoFailed(f"run-local did not finish within {SWARM_TIMEOUT_S:.0f} s and was stopped")
    if code != 0:
        raise DemoFailed(f"swarm-learning run-local failed (exit {code}):\n" + "\n".join(tail))
    try:
        summary = json.loads((cfg.swarm_dir / "summary.json").read_text())
    except (OSError, ValueError) as exc:
        raise DemoFailed(f"run-local succeeded but its summary is unreadable: {exc}") from exc
    failed = [s.get("name", "?") for s in summary.get("sites", []) if s.get("exit_code") != 0]
    if failed:
        raise DemoFailed(f"run-local reports failed sites: {', '.join(failed)} (see their logs)")
    accuracies = [_read_accuracy(cfg.swarm_dir / f"site-{i}") for i in range(1, cfg.nodes + 1)]
    return summary, accuracies


# ---------------------------------------------------------------------------------------------- 3. baselines


def baseline_jobs(cfg: DemoConfig) -> list[Job]:
    jobs = [
        Job(f"local site-{i}", cfg.site_data(i), cfg.workdir / "local" / f"site-{i}")
        for i in range(1, cfg.nodes + 1)
    ]
    return jobs + [Job("centralised", cfg.data_dir / "all", cfg.workdir / "central")]


def run_baselines(cfg: DemoConfig, console: Console) -> tuple[list[float], float]:
    """Train alone per site and on all data (loopback); return (local accuracies, central accuracy)."""
    console.print(
        f"[bold]3. Baselines[/]: each site alone, and one model on all the data ({cfg.parallel} at a time)"
    )
    jobs = baseline_jobs(cfg)
    with (
        _ProgressReporter(console, [j.name for j in jobs], cfg.epochs) as report,
        ThreadPoolExecutor(max_workers=max(1, cfg.parallel)) as pool,
    ):
        futures = [pool.submit(run_program, cfg, job, report) for job in jobs]
        accuracies = [f.result() for f in futures]
    return accuracies[:-1], accuracies[-1]


def run_program(cfg: DemoConfig, job: Job, report: Callable[[str, int, int], None]) -> float:
    """Run the example program once with ``SWARM_LOOPBACK=True``; return its test accuracy."""
    job.scratch_dir.mkdir(parents=True, exist_ok=True)
    env = _child_env(
        DATA_DIR=str(job.data_dir),
        SCRATCH_DIR=str(job.scratch_dir),
        MODEL_DIR=str(cfg.program.parent),
        MAX_EPOCHS=str(cfg.epochs),
        MIN_PEERS="1",
        SWARM_LOOPBACK="True",
    )
    log_path = job.scratch_dir / "program.log"
    tail: deque[str] = deque(maxlen=20)
    report(job.name, 0, cfg.epochs)  # started
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, str(cfg.program)],
            cwd=job.scratch_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

        def on_line(line: str) -> None:
            log_file.write(line)
            tail.append(line.rstrip())
            match = _EPOCH_LINE.search(line)
            if match:
                report(job.name, int(match.group(1)), int(match.group(2)))

        code, timed_out = _follow(proc, proc.stdout, on_line, BASELINE_TIMEOUT_S)
    if timed_out:
        raise DemoFailed(f"{job.name} run did not finish within {BASELINE_TIMEOUT_S:.0f} s; see {log_path}")
    if code != 0:
        raise DemoFailed(f"{job.name} run failed (exit {code}); end of {log_path}:\n" + "\n".join(tail))
    report(job.name, cfg.epochs, cfg.epochs)
    return _read_accuracy(job.scratch_dir)


class _ProgressReporter:
    """Context manager yielding ``report(name, epoch, total)``: rich bars on a terminal, plain lines otherwise."""

    def __init__(self, console: Console, names: list[str], epochs: int) -> None:
        self._console = console
        self._names = names
        self._epochs = epochs
        self._progress: Progress | None = None
        self._tasks: dict[str, Any] = {}
        self._printed: dict[str, int] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Callable[[str, int, int], None]:
        if self._console.is_terminal:
            self._progress = Progress(
                TextColumn("{task.description:<14}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("epochs"),
                TimeElapsedColumn(),
                console=self._console,
            )
            self._progress.start()
            self._tasks = {
                n: self._progress.add_task(n, total=self._epochs, start=False) for n in self._names
            }
        return self._report

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _report(self, name: str, epoch: int, total: int) -> None:
        if self._progress is not None:
            task = self._tasks[name]
            with self._lock:
                if name not in self._printed:  # the clock starts with the run, not in the queue
                    self._printed[name] = 0
                    self._progress.start_task(task)
            self._progress.update(task, completed=epoch, total=total)
            return
        with self._lock:  # plain output: a line when a run starts, then one per quarter of its training
            if name not in self._printed:
                self._printed[name] = 0
                self._console.print(f"  {name}: started")
            step = max(1, total // 4)
            last = self._printed[name]
            if epoch >= last + step or (epoch == total and last != total):
                self._printed[name] = epoch
                self._console.print(f"  {name}: epoch {epoch}/{total}")


# ---------------------------------------------------------------------------------------------- 4. report


def build_summary(
    cfg: DemoConfig,
    swarm_summary: dict[str, Any],
    swarm_acc: list[float | None],
    local_acc: list[float],
    central_acc: float,
) -> dict[str, Any]:
    """The run-local summary, extended with each site's accuracies and the verdicts."""
    summary = dict(swarm_summary)
    sites = [dict(s) for s in summary.get("sites", [])]
    sites += [{"name": f"site-{i}"} for i in range(len(sites) + 1, cfg.nodes + 1)]
    for site, swarm, local in zip(sites, swarm_acc, local_acc):
        site["swarm_accuracy"] = swarm
        site["local_accuracy"] = local
        site["delta_vs_central"] = None if swarm is None else swarm - central_acc
    digests = [s.get("final_weights_sha256") for s in sites]
    swarm_values = [a for a in swarm_acc if a is not None]
    complete = len(swarm_values) == cfg.nodes
    summary.update(
        sites=sites,
        framework=cfg.framework,
        nodes=cfg.nodes,
        epochs=cfg.epochs,
        central_accuracy=central_acc,
        same_final_model=bool(digests) and None not in digests and len(set(digests)) == 1,
        acceptance={
            "swarm_beats_local": complete and all(s > lo for s, lo in zip(swarm_acc, local_acc)),  # type: ignore[operator]
            "within_3_points_of_central": complete
            and all(abs(s - central_acc) <= CENTRAL_TOLERANCE for s in swarm_values),
        },
    )
    summary["acceptance"]["passed"] = all(summary["acceptance"].values())
    return summary


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def print_report(summary: dict[str, Any], console: Console) -> None:
    central = summary["central_accuracy"]
    table = Table(
        title=f"Digits, {summary['framework']}, {summary['nodes']} sites: accuracy on the common test set"
    )
    for column in ("site", "swarm", "local only", "centralised", "Δ vs central", "weights sha256"):
        table.add_column(column, justify="left" if column in ("site", "weights sha256") else "right")
    for site in summary["sites"]:
        swarm, local = site.get("swarm_accuracy"), site.get("local_accuracy")
        delta = site.get("delta_vs_central")
        style = "green" if swarm is not None and local is not None and swarm > local else "red"
        table.add_row(
            str(site.get("name", "?")),
            f"[{style}]{_pct(swarm)}[/]",
            _pct(local),
            _pct(central),
            "-" if delta is None else f"{100 * delta:+.1f} pt",
            (site.get("final_weights_sha256") or "-")[:12],
        )
    console.print(table)
    console.print(f"same final model on all sites: {'yes' if summary['same_final_model'] else 'no'}")
    verdict = summary["acceptance"]
    console.print(
        f"swarm better than every site alone: {'yes' if verdict['swarm_beats_local'] else 'no'}; "
        f"within {100 * CENTRAL_TOLERANCE:.0f} points of centralised: "
        f"{'yes' if verdict['within_3_points_of_central'] else 'no'}"
    )


def save_plot(summary: dict[str, Any], path: Path) -> Path:
    """A grouped bar chart: swarm, local-only and centralised accuracy per site."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [str(s.get("name", f"site-{i}")) for i, s in enumerate(summary["sites"], start=1)]
    series = {
        "swarm": [s.get("swarm_accuracy") or 0.0 for s in summary["sites"]],
        "local only": [s.get("local_accuracy") or 0.0 for s in summary["sites"]],
        "centralised": [summary["central_accuracy"]] * len(names),
    }
    colours = {"swarm": "#1f77b4", "local only": "#ff7f0e", "centralised": "#7f7f7f"}
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(names), 4.2), dpi=110)
    width = 0.26
    for k, (label, values) in enumerate(series.items()):
        xs = [i + (k - 1) * width for i in range(len(names))]
        bars = ax.bar(xs, values, width, label=label, color=colours[label])
        ax.bar_label(bars, labels=[f"{100 * v:.1f}" if v else "-" for v in values], fontsize=7, padding=2)
    lowest = min([v for values in series.values() for v in values if v] or [0.5])
    ax.set_ylim(max(0.0, lowest - 0.1), 1.06)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Digits ({summary['framework']}): swarm vs. each site alone vs. centralised", fontsize=9)
    ax.legend(loc="upper center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------- helpers


def _child_env(**extra: str) -> dict[str, str]:
    """The current environment, with the repository importable (``swarmlearning``, ``examples``) and ``extra``."""
    env = dict(os.environ)
    paths = [str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra)
    return env


def _follow(
    proc: subprocess.Popen[str], stream: IO[str] | None, on_line: Callable[[str], None], timeout_s: float
) -> tuple[int, bool]:
    """Feed each line of ``stream`` to ``on_line`` until the process ends; stop it after ``timeout_s``.

    Returns (exit code, whether it had to be stopped)."""
    stopped = threading.Event()

    def stop() -> None:
        stopped.set()
        proc.terminate()  # lets run-local shut its nodes down

    timer = threading.Timer(timeout_s, stop)
    timer.daemon = True
    timer.start()
    try:
        if stream is not None:
            for line in stream:
                on_line(line)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    finally:
        timer.cancel()
    return code, stopped.is_set()


def _read_accuracy(scratch_dir: Path) -> float:
    path = scratch_dir / "result.json"
    try:
        return float(json.loads(path.read_text())["test_accuracy"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DemoFailed(f"no usable test accuracy in {path}: {exc}") from exc


def run_demo(cfg: DemoConfig, console: Console) -> dict[str, Any]:
    """All steps; returns the summary written to ``cfg.summary_path``."""
    if not cfg.program.is_file():
        raise DemoFailed(
            f"example program {cfg.program} not found: run the demo from a checkout of the repository"
        )
    prepare_data(cfg, console)
    if cfg.skip_swarm:
        swarm_summary: dict[str, Any] = {"sites": [], "rounds": None, "wall_seconds": None, "skipped": True}
        swarm_acc: list[float | None] = [None] * cfg.nodes
    else:
        swarm_summary, measured = run_swarm(cfg, console)
        swarm_acc = list(measured)
    local_acc, central_acc = run_baselines(cfg, console)
    summary = build_summary(cfg, swarm_summary, swarm_acc, local_acc, central_acc)
    console.print("[bold]4. Results[/]")
    print_report(summary, console)
    plot = save_plot(summary, cfg.workdir / "accuracy.png")
    cfg.summary_path.parent.mkdir(parents=True, exist_ok=True)
    cfg.summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    console.print(f"summary: {cfg.summary_path}   chart: {plot}")
    return summary


def parse_args(argv: Sequence[str] | None) -> DemoConfig:
    parser = argparse.ArgumentParser(
        prog="python -m swarm_learning.demo",
        description="Train the digits example as a local swarm and compare it with local-only and centralised training.",
    )
    parser.add_argument("--framework", choices=sorted(PROGRAMS), default="pytorch")
    parser.add_argument("--nodes", type=int, default=3, help="number of sites (default 3)")
    parser.add_argument("--workdir", type=Path, default=Path("demo-work"))
    parser.add_argument("--summary", type=Path, default=Path("demo-summary.json"))
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="MAX_EPOCHS for every run")
    parser.add_argument("--parallel", type=int, default=2, help="baseline runs at a time (default 2)")
    parser.add_argument("--check", action="store_true", help="exit 2 unless the acceptance criteria hold")
    parser.add_argument("--skip-swarm", action="store_true", help=argparse.SUPPRESS)  # developers only
    args = parser.parse_args(argv)
    if not 1 <= args.nodes <= 10:
        parser.error("--nodes must be between 1 and 10")
    return DemoConfig(
        framework=args.framework,
        nodes=args.nodes,
        workdir=args.workdir.resolve(),
        summary_path=args.summary.resolve(),
        epochs=args.epochs,
        parallel=args.parallel,
        skip_swarm=args.skip_swarm,
        check=args.check,
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    cfg = parse_args(argv)
    console = Console()
    try:
        summary = run_demo(cfg, console)
    except DemoFailed as exc:
        console.print(f"[bold red]demo failed:[/] {exc}", markup=True, highlight=False)
        return 1
    if cfg.check and not summary["acceptance"]["passed"]:
        console.print("[bold red]acceptance criteria not met[/]")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
