"""``python -m examples.digits.swop_demo``: the digits example's automated run on one machine.

Two SWOPs (the example's ``swop/swop1_profile.yaml`` and ``swop2_profile.yaml``, two SL nodes each, ``PROCESS``
executor) and one SWCI init script (``swci/swci-init-swop``) build the user environment and train ``digits_pyt.py``
as a swarm of four SL/ML pairs; each SL node's trained model ends in its private folder, under ``scratch/``.

Steps, one function each:

1. :func:`make_workspace`  certificates of one CA (``sn-1``, ``swci-1``, ``swop-1``, ``swop-2``, ``sl-1`` ..
   ``sl-4``), the non-IID digits split for 4 nodes (``prepare_data.py``), and the example's profiles, task
   definitions and init script with their placeholders filled in (:func:`placeholders` lists them);
2. :func:`start_sn` and :func:`start_swops`: one sentinel SN on a free port, two ``python -m swop.cli``; the demo
   waits until both SWOPs listen on their task runner;
3. :func:`run_swci`  the real ``swci`` CLI (``python -m swci.shell``) runs the init script, its output streamed live;
4. :func:`collect`, :func:`print_summary`  one row per SL node: accuracy from the program's ``result.json``, the model
   file in the node's scratch folder and its sha256 (all four must be equal); ``summary.json`` in the workspace.

Exit code 0 when everything succeeded, 1 when a step or a check failed, 130 when interrupted. Every process the demo
started is stopped in the end (Ctrl-C and SIGTERM included); SL and ML processes are stopped by their SWOP.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import posixpath
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from certs.gen_cert import CertPaths, issue
from examples.digits.prepare_data import format_histogram, is_prepared, prepare
from swarm_learning.errors import SwarmLearningError
from swarm_learning.runlocal import Proc
from swarm_learning.sn_client import SNClient
from swarm_learning.tls import TLSIdentity
from swci.language import parse_script
from swop.schema import RunSwarmBody, SlNodeDef, SwopProfile, load_profile, load_task

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = Path(__file__).resolve().parent
SWOPS = ("swop-1", "swop-2")
PROFILES = {"swop-1": "swop1_profile.yaml", "swop-2": "swop2_profile.yaml"}
SL_CERTS = ("sl-1", "sl-2", "sl-3", "sl-4")
CERT_NAMES = ("sn-1", "swci-1", *SWOPS, *SL_CERTS)
INIT_SCRIPT = "swci-init-swop"
TASKDEFS = ("user_env_pyt_build_task.yaml", "swarm_digits_task.yaml")
RUN_TASKDEF = "swarm_digits_task.yaml"
MODEL_FILE = "digits_pyt.pt"
NODES = 4
DATA_SEED = 42
DEFAULT_EPOCHS = 30  # digits_pyt.py's own default: the swarm ends near the centralised model's accuracy
SN_HOST = "127.0.0.1"
START_TIMEOUT_S = 90.0
_LEFTOVER = re.compile(r"<[A-Z][A-Z-]*>")
_PROMPT = re.compile(r"^SWCI:\d+ > (.*)$")


class DemoFailed(SwarmLearningError):
    """A step of the demo failed; the message says which and where to look."""

    code = "SL-1901"


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: stop everything and exit 130."""


@dataclass(frozen=True)
class DemoConfig:
    workdir: Path
    epochs: int = DEFAULT_EPOCHS
    timeout_s: float = 900.0

    @property
    def cert_dir(self) -> Path:
        return self.workdir / "cert"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def swci_dir(self) -> Path:
        return self.workdir / "swci"

    def swop_dir(self, swop: str) -> Path:
        return self.workdir / swop


@dataclass
class Site:
    """One SWOP of the run: its profile (placeholders filled in) and where it works."""

    swop: str
    usr_dir: Path
    profile: SwopProfile
    proc: Proc | None = None

    @property
    def state_dir(self) -> Path:
        return self.usr_dir / "state"


@dataclass
class NodeResult:
    """One SL/ML pair's outcome, for the summary table."""

    swop: str
    worker: str
    sl_cert: str
    scratch: str
    status: str = "-"
    accuracy: float | None = None
    model: str | None = None
    sha256: str | None = None


@dataclass
class Summary:
    ok: bool
    swci_exit_code: int | None
    waits: list[dict[str, str]]
    task_runner: dict[str, Any]
    nodes: list[NodeResult] = field(default_factory=list)
    same_model: bool = False
    problems: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0


# ---------------------------------------------------------------------------------------------- 1. workspace


def placeholders(cfg: DemoConfig, sn_port: int | None) -> list[tuple[str, str]]:
    """The example files' placeholders and their values, longest first (``<PROJECT>`` starts several of them).

    The workspace stands for ``<PROJECT>/workspace/digits``, the example's folder in the product's layout: the
    profiles' private data folders ``<PROJECT>/workspace/digits/data/site-<i>`` are the workspace's ``data/site-<i>``.
    """
    values = [
        ("<PROJECT>/workspace/digits", str(cfg.workdir)),
        ("<PROJECT-CERTS>", str(cfg.cert_dir)),
        ("<PROJECT-MODEL>", str(EXAMPLE)),
        ("<PROJECT>", str(REPO)),
    ]
    return values + ([("<SN-IP>", SN_HOST), ("<SN-PORT>", str(sn_port))] if sn_port is not None else [])


def fill(text: str, values: list[tuple[str, str]], name: str) -> str:
    """``text`` with the placeholders replaced outside comment lines (comments keep explaining them)."""
    lines = []
    for line in text.splitlines(keepends=True):
        if not line.lstrip().startswith("#"):
            for key, value in values:
                line = line.replace(key, value)
            left = sorted(set(_LEFTOVER.findall(line)))
            if left:
                raise DemoFailed(f"{name}: placeholders the demo does not know: {', '.join(left)}")
        lines.append(line)
    return "".join(lines)


def set_epochs(task_text: str, epochs: int) -> str:
    """The RUN_SWARM task definition with ``MAX_EPOCHS`` set to ``epochs``."""
    text, count = re.subn(r"(?m)^(\s*-\s*MAX_EPOCHS\s*:\s*)\S+\s*$", rf"\g<1>{epochs}", task_text)
    if count != 1:
        raise DemoFailed(f"{RUN_TASKDEF} should set MAX_EPOCHS once in its Envvars, found {count}")
    return text


def issue_certificates(cert_dir: Path) -> dict[str, CertPaths]:
    return {name: issue(cert_dir, name) for name in CERT_NAMES}


def prepare_data(cfg: DemoConfig, console: Console) -> None:
    if is_prepared(cfg.data_dir, NODES, DATA_SEED):
        console.print(f"  data: reusing the split in {cfg.data_dir}")
        return
    manifest = prepare(cfg.data_dir, NODES, DATA_SEED)
    console.print(f"  data: scikit-learn's digits split non-IID over {NODES} SL nodes in {cfg.data_dir}")
    console.print(format_histogram(manifest), highlight=False)


def clean_runtime(cfg: DemoConfig) -> None:
    """Remove what an earlier run left (SN chain, SWOP state, SWCI files, models); keep certificates and data."""
    for folder in (cfg.workdir / "sn", cfg.swci_dir, *(cfg.swop_dir(s) for s in SWOPS)):
        shutil.rmtree(folder, ignore_errors=True)
    for scratch in cfg.data_dir.glob("site-*/scratch"):
        shutil.rmtree(scratch, ignore_errors=True)
    for name in ("swci.log", "summary.json"):
        (cfg.workdir / name).unlink(missing_ok=True)


def make_workspace(cfg: DemoConfig, console: Console) -> list[Site]:
    """Certificates, data, the task definitions and both SWOPs' profiles; returns the two sites."""
    console.print(f"[bold]1. Workspace[/] {cfg.workdir}")
    issue_certificates(cfg.cert_dir)
    console.print(f"  certificates of one CA in {cfg.cert_dir}: {', '.join(CERT_NAMES)}")
    prepare_data(cfg, console)
    values = placeholders(cfg, None)
    (cfg.swci_dir / "taskdefs").mkdir(parents=True, exist_ok=True)
    for name in TASKDEFS:
        text = fill((EXAMPLE / "swci" / "taskdefs" / name).read_text(), values, name)
        text = set_epochs(text, cfg.epochs) if name == RUN_TASKDEF else text
        load_task(text)  # fails here, naming the field, rather than on chain
        (cfg.swci_dir / "taskdefs" / name).write_text(text)
    console.print(f"  task definitions in {cfg.swci_dir / 'taskdefs'} (MAX_EPOCHS {cfg.epochs})")
    sites = []
    for swop in SWOPS:
        usr = cfg.swop_dir(swop)
        usr.mkdir(parents=True, exist_ok=True)
        text = fill((EXAMPLE / "swop" / PROFILES[swop]).read_text(), values, PROFILES[swop])
        profile = load_profile(text)
        for node in profile.sl_nodes:
            if node.privatedata is None or not Path(node.privatedata.src).is_dir():
                raise DemoFailed(f"{PROFILES[swop]}: node {node.idx} has no private data folder the demo prepared")
        (usr / PROFILES[swop]).write_text(text)
        sites.append(Site(swop, usr, profile))
    console.print(f"  SWOP profiles in {cfg.swop_dir(SWOPS[0]).parent}/swop-<n>/")
    return sites


def write_init_script(cfg: DemoConfig, sn_port: int) -> Path:
    """SWCI's init script with the SN's address filled in (parsed here: a malformed line would run nothing)."""
    script = fill((EXAMPLE / "swci" / INIT_SCRIPT).read_text(), placeholders(cfg, sn_port), INIT_SCRIPT)
    parse_script(script)
    path = cfg.swci_dir / INIT_SCRIPT
    path.write_text(script)
    return path


# ---------------------------------------------------------------------------------------------- 2. SN and SWOPs


def _identity_args(cfg: DemoConfig, name: str) -> list[str]:
    return [
        "--cert", str(cfg.cert_dir / f"{name}-cert.pem"),
        "--key", str(cfg.cert_dir / f"{name}-key.pem"),
        "--capath", str(cfg.cert_dir / "ca" / "capath"),
    ]  # fmt: skip


def _spawn(name: str, argv: list[str], log: Path, stdout: int | None = None) -> Proc:
    """A child in its own session (so Ctrl-C reaches only the demo, which stops it) with its output in ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(
        dict.fromkeys([str(REPO), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))])
    )
    with open(log, "ab") as out:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=stdout if stdout is not None else out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=env,
            start_new_session=True,
        )
    return Proc(name, popen, log)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_sn(cfg: DemoConfig, procs: list[Proc]) -> int:
    """A sentinel SN on a free port; returns the port."""
    folder = cfg.workdir / "sn"
    port_file = folder / "sn-port"
    argv = [sys.executable, "-m", "sn.cli", "--sentinel", "--bind", SN_HOST, "--sn-api-port", "0",
            "--data-dir", str(folder / "data"), "--port-file", str(port_file), *_identity_args(cfg, "sn-1")]  # fmt: skip
    proc = _spawn("SN", argv, folder / "sn.log")
    procs.append(proc)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not port_file.exists():
        if not proc.alive():
            raise DemoFailed(f"the SN exited with {proc.popen.returncode}; end of {proc.log}:\n{_tail(proc.log)}")
        if time.monotonic() > deadline:
            raise DemoFailed(f"the SN did not start within {START_TIMEOUT_S:.0f}s; see {proc.log}")
        time.sleep(0.1)  # bounded wait for the SN to write its port file
    return int(port_file.read_text())


def start_swops(cfg: DemoConfig, sites: list[Site], sn_port: int, procs: list[Proc]) -> None:
    for site in sites:
        argv = [sys.executable, "-m", "swop.cli", "--usr-dir", str(site.usr_dir), "--profile-file-name",
                PROFILES[site.swop], "--sn-ip", SN_HOST, "--sn-api-port", str(sn_port), "--state-dir",
                str(site.state_dir), *_identity_args(cfg, site.swop)]  # fmt: skip
        site.proc = _spawn(site.swop.upper(), argv, site.usr_dir / "swop.log")
        procs.append(site.proc)


def swci_identity(cfg: DemoConfig) -> TLSIdentity:
    p = cfg.cert_dir
    return TLSIdentity.from_options(p / "swci-1-cert.pem", p / "swci-1-key.pem", p / "ca" / "capath")


def wait_until_listening(cfg: DemoConfig, sites: list[Site], sn_port: int, console: Console) -> None:
    """Until every SWOP listens on its task runner with all its nodes (bounded; a SWOP that exits fails it)."""
    runners = {site.profile.taskrunner for site in sites}
    client = SNClient(SN_HOST, sn_port, swci_identity(cfg), retry_seconds=10)
    deadline, height = time.monotonic() + START_TIMEOUT_S, 0
    try:
        while time.monotonic() < deadline:
            listening = {e.peer: e.nodes for r in runners for e in client.task_runner_listeners(r)}
            if all(listening.get(s.swop) == len(s.profile.sl_nodes) for s in sites):
                for s in sites:
                    console.print(f"  {s.swop} ({s.profile.groupname}) listens on {s.profile.taskrunner} "
                                  f"with {len(s.profile.sl_nodes)} SL nodes; log {s.usr_dir / 'swop.log'}")  # fmt: skip
                return
            for s in sites:
                if s.proc is not None and not s.proc.alive():
                    raise DemoFailed(f"{s.swop} exited with {s.proc.popen.returncode}; end of {s.proc.log}:\n"
                                     f"{_tail(s.proc.log)}")  # fmt: skip
            height = client.wait_for_change(height, 2)
    finally:
        client.close()
    raise DemoFailed(f"the SWOPs did not all listen within {START_TIMEOUT_S:.0f}s; see their swop.log")


# ---------------------------------------------------------------------------------------------- 3. SWCI


def swci_command(cfg: DemoConfig) -> list[str]:
    return [sys.executable, "-m", "swci.shell", "--usr-dir", str(cfg.swci_dir), "--init-script-name", INIT_SCRIPT,
            "--history-file", "", *_identity_args(cfg, "swci-1")]  # fmt: skip


def run_swci(cfg: DemoConfig, procs: list[Proc], deadline: float) -> tuple[int, str]:
    """Run the init script, echoing SWCI's output as it comes; returns (exit code, transcript).

    A watchdog stops SWCI when the SN or a SWOP exits, or at ``deadline``; that reason is raised as DemoFailed."""
    log = cfg.workdir / "swci.log"
    watched = list(procs)
    proc = _spawn("SWCI", swci_command(cfg), log, stdout=subprocess.PIPE)
    procs.append(proc)
    reason: list[str] = []
    done = threading.Event()

    def watchdog() -> None:
        while not done.wait(1.0):  # the poll period of the other processes' liveness
            dead = [p for p in watched if not p.alive()]
            if dead:
                reason.append(f"{dead[0].name} exited with {dead[0].popen.returncode}; end of {dead[0].log}:\n"
                              f"{_tail(dead[0].log)}")  # fmt: skip
            elif time.monotonic() > deadline:
                reason.append(f"the run did not finish within {cfg.timeout_s:.0f}s (--timeout)")
            if reason:
                proc.stop(timeout=10)
                return

    guard = threading.Thread(target=watchdog, name="swop-demo-watchdog", daemon=True)
    guard.start()
    chunks: list[bytes] = []
    stream = proc.popen.stdout
    try:
        with open(log, "ab") as out:
            while stream is not None and (chunk := os.read(stream.fileno(), 4096)):  # '#' marks come unterminated
                chunks.append(chunk)
                out.write(chunk)
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
        code = proc.popen.wait()
    finally:
        done.set()
        guard.join()
    if reason:
        raise DemoFailed(reason[0])
    return code, b"".join(chunks).decode(errors="replace")


def wait_results(transcript: str) -> list[dict[str, str]]:
    """Per ``WAIT FOR TASKRUNNER`` of the transcript: the task assigned last before it and the state it ended in."""
    results: list[dict[str, str]] = []
    command, task = "", ""
    for line in transcript.splitlines():
        echoed = _PROMPT.match(line)
        if echoed:
            command = echoed.group(1).strip()
            words = command.split()
            if [w.upper() for w in words[:2]] == ["ASSIGN", "TASK"] and len(words) > 2:
                task = words[2]
        elif command.upper().startswith("WAIT FOR TASKRUNNER") and line.startswith("TASK_STATE : "):
            results.append({"task": task, "state": line.split(":", 1)[1].strip()})
    return results


# ---------------------------------------------------------------------------------------------- 4. results


def scratch_folder(node: SlNodeDef, body: RunSwarmBody) -> Path:
    """The host folder of a node's ``SCRATCH_DIR``: a path in the ML program's file system under ``PrivateContent``
    (relative values are relative to ``WorkingDir``), so it is below the node's private data folder."""
    env: dict[str, str] = {}
    for entries in (body.envvars or [], node.usrenvvars or []):
        for entry in entries:
            env.update({k: str(v) for k, v in entry.items()})
    value = env.get("SCRATCH_DIR", "scratch")
    inside = posixpath.normpath(posixpath.join(body.working_dir, value))
    rel = posixpath.relpath(inside, body.private_content or body.working_dir)
    if node.privatedata is None or rel.startswith(".."):
        raise DemoFailed(f"node {node.idx}: SCRATCH_DIR {value} is not in its private data, the demo cannot find it")
    return Path(node.privatedata.src) / rel


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def collect(cfg: DemoConfig, sites: list[Site], sn_port: int) -> tuple[dict[str, Any], list[NodeResult]]:
    """The task runner's view on chain, and each SL/ML pair's accuracy, model file and digest."""
    task = load_task((cfg.swci_dir / "taskdefs" / RUN_TASKDEF).read_text())
    assert isinstance(task.body, RunSwarmBody)
    client = SNClient(SN_HOST, sn_port, swci_identity(cfg), retry_seconds=10)
    try:
        runner = sites[0].profile.taskrunner
        view = client.task_runner(runner)
        statuses = {w.uid: w.status for p in client.task_runner_peers(runner) for w in p.workers}
    finally:
        client.close()
    nodes = []
    for site in sites:
        for node, cert in zip(site.profile.sl_nodes, _sl_certs(site.profile)):
            worker = f"{site.profile.groupname}-{node.idx}"
            scratch = scratch_folder(node, task.body)
            result = NodeResult(site.swop, worker, cert, str(scratch), statuses.get(worker, "-"))
            try:
                result.accuracy = float(json.loads((scratch / "result.json").read_text())["test_accuracy"])
            except (OSError, ValueError, KeyError, TypeError):
                pass
            model = scratch / MODEL_FILE
            if model.is_file():
                result.model, result.sha256 = str(model), _sha256(model)
            nodes.append(result)
    keep = ("name", "run", "state", "task", "enrolled_peers", "completed", "failed", "error_peer", "error_reason")
    return {k: getattr(view, k) for k in keep}, nodes


def _sl_certs(profile: SwopProfile) -> list[str]:
    names = []
    for node in profile.sl_nodes:
        certs = [Path(a.src).name for a in node.identities if a.a_type == "CERT"]
        names.append(certs[0].removesuffix("-cert.pem") if certs else "-")
    return names


def verdict(summary: Summary) -> None:
    """Fill ``ok``, ``same_model`` and ``problems``: what must hold for the run to count as a success."""
    problems = summary.problems
    if summary.swci_exit_code != 0:
        problems.append(f"swci exited with {summary.swci_exit_code}")
    states = [w["state"] for w in summary.waits]
    if len(states) != 2 or any(s != "COMPLETE" for s in states):
        problems.append(f"WAIT FOR TASKRUNNER ended {states or 'never'}, expected COMPLETE for both tasks")
    if summary.task_runner.get("state") != "COMPLETE" or summary.task_runner.get("completed") != NODES:
        problems.append(f"task runner: {summary.task_runner}")
    digests = [n.sha256 for n in summary.nodes]
    summary.same_model = len(digests) == NODES and None not in digests and len(set(digests)) == 1
    if not summary.same_model:
        problems.append("the SL nodes' final models differ or are missing")
    if any(n.accuracy is None for n in summary.nodes):
        problems.append("a node wrote no result.json with a test accuracy")
    summary.ok = not problems


def print_summary(summary: Summary, cfg: DemoConfig, console: Console) -> None:
    table = Table(
        title=f"Digits, 2 SWOPs x 2 SL nodes, {cfg.epochs} epochs: the models in each node's scratch folder",
        box=box.SIMPLE_HEAD,
    )
    for column in ("SWOP", "worker", "SL", "status", "accuracy", "model (in the workspace)", "sha256"):
        table.add_column(column, justify="right" if column == "accuracy" else "left")
    for n in summary.nodes:
        model = os.path.relpath(n.model, cfg.workdir) if n.model else "-"
        accuracy = "-" if n.accuracy is None else f"{100 * n.accuracy:.1f}%"
        table.add_row(n.swop, n.worker, n.sl_cert, n.status, accuracy, model, (n.sha256 or "-")[:12])
    console.print(table)
    console.print(f"same final model on all {NODES} SL nodes: {'yes' if summary.same_model else 'no'}; "
                  f"task runner {summary.task_runner.get('state')} ({summary.task_runner.get('completed')} pairs "
                  f"completed); {summary.wall_seconds:.0f}s in all")  # fmt: skip
    if summary.problems:
        console.print("[bold red]failed:[/] " + "; ".join(summary.problems), highlight=False)


def failure_logs(cfg: DemoConfig) -> str:
    """The ends of the SWOPs' and the ML programs' logs, for a failed run."""
    logs = sorted(cfg.workdir.glob("swop-*/swop.log")) + sorted(cfg.workdir.glob("swop-*/state/runs/*/*/ml.log"))
    return "\n".join(f"---- {p}\n{_tail(p, 12)}" for p in logs)


# ---------------------------------------------------------------------------------------------- the run


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C: the demo stops what it started and exits."""

    def on_term(_signum: int, _frame: object) -> None:
        raise Interrupted("SIGTERM")

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except KeyboardInterrupt as exc:
        raise Interrupted("Ctrl-C") from exc
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def signals_ignored() -> Iterator[None]:
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_demo(cfg: DemoConfig, console: Console) -> Summary:
    started = time.monotonic()
    procs: list[Proc] = []
    try:
        clean_runtime(cfg)
        sites = make_workspace(cfg, console)
        console.print("[bold]2. One sentinel SN and two SWOPs[/] (PROCESS executor: SL and ML as local processes)")
        sn_port = start_sn(cfg, procs)
        console.print(f"  SN API on {SN_HOST}:{sn_port}; log {cfg.workdir / 'sn' / 'sn.log'}")
        script = write_init_script(cfg, sn_port)
        start_swops(cfg, sites, sn_port, procs)
        wait_until_listening(cfg, sites, sn_port, console)
        console.print(f"[bold]3. SWCI[/] runs {script}", highlight=False)
        code, transcript = run_swci(cfg, procs, started + cfg.timeout_s)
        console.print("[bold]4. Results[/]")
        runner, nodes = collect(cfg, sites, sn_port)
    finally:
        with signals_ignored():  # a second Ctrl-C must not leave the rest running
            for proc in reversed(procs):  # SWCI, the SWOPs (each stops the SLs and MLs it started), then the SN
                proc.stop(timeout=30)
    summary = Summary(False, code, wait_results(transcript), runner, nodes, wall_seconds=time.monotonic() - started)
    verdict(summary)
    return summary


def parse_args(argv: Sequence[str] | None) -> DemoConfig:
    parser = argparse.ArgumentParser(
        prog="python -m examples.digits.swop_demo",
        description="Two SWOPs and one SWCI init script train the digits example as a swarm of 4 SL/ML pairs.",
    )
    parser.add_argument("--workdir", type=Path, default=Path("swop-demo-work"), help="workspace (default %(default)s)")
    parser.add_argument(
        "--epochs", type=int, default=DEFAULT_EPOCHS, help="MAX_EPOCHS of the task (default %(default)s)"
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="bound of the whole run, seconds (default %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    return DemoConfig(workdir=args.workdir.resolve(), epochs=args.epochs, timeout_s=args.timeout)


def main(argv: Sequence[str] | None = None) -> int:
    cfg = parse_args(argv)
    console = Console()
    if not console.is_terminal:  # a log or a pipe: lines as long as the SWCI transcript's, not 80 columns
        console = Console(width=120)
    try:
        with interruptible():
            summary = run_demo(cfg, console)
    except Interrupted as exc:
        console.print(f"[bold red]interrupted ({exc})[/]: every process the demo started was stopped")
        return 130
    except (SwarmLearningError, OSError) as exc:
        console.print(f"[bold red]demo failed:[/] {exc}", highlight=False)
        console.print(failure_logs(cfg), highlight=False, markup=False)
        return 1
    (cfg.workdir / "summary.json").write_text(json.dumps(asdict(summary), indent=2) + "\n")
    print_summary(summary, cfg, console)
    if not summary.ok:
        console.print(failure_logs(cfg), highlight=False, markup=False)
    console.print(f"summary: {cfg.workdir / 'summary.json'}   SWCI transcript: {cfg.workdir / 'swci.log'}")
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
