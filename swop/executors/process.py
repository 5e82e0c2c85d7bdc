"""The ``PROCESS`` executor (our own ``mgrtype``): SL and ML run as local processes, no container engine needed.

How each task type maps to processes and folders (``state_dir`` is this SWOP's working folder):

- ``MAKE_USER_CONTAINER``: the "image" is a virtual environment ``state_dir/envs/<Outcome>`` that sees this SWOP's
  own packages (a ``.pth`` hook adds the SWOP interpreter's site folders). Requirements named on ``pip install``
  lines of ``BuildSteps`` that are already installed are not installed again; missing ones are installed into the
  environment with its pip (stopped when the job is cancelled; its output in ``pip-install.log`` there), unless
  ``SWOP_PIP_INSTALL=0`` (then the task fails naming them). ``FROM``, ``COPY`` and
  other Dockerfile lines have no process equivalent and are ignored (the note says so).
- ``PULL_IMAGE``: nothing to pull for processes; succeeds with a note.
- ``MAKE_SWARM_USER_CONTENT``: the "volume" is the folder ``state_dir/content/<Outcome>`` (``SWARMCONTENT``: one
  sub-folder per profile node, named by ``idx``); ``DOWNLOAD`` copies a local path / ``file:`` URI or fetches an
  ``http(s)`` URL to ``Out``; ``EXTRACT`` unpacks an archive (a path relative to the volume, or absolute) into ``Out``.
- ``RUN_SWARM``: one ``python -m sl.cli`` and one ML program per profile node. The ML program runs in a per-node
  folder standing for ``WorkingDir``; the node's ``privatedata.src`` is that folder when ``PrivateContent`` equals
  ``WorkingDir`` (else it is linked at ``PrivateContent``'s place below it), and every ``SharedContent`` entry is
  linked at its ``Tgt`` below it (``VOLUME`` sources are content folders made by ``MAKE_SWARM_USER_CONTENT``).
  ``Entrypoint`` ``python*`` runs the user environment of the ``Prereq`` task's ``Outcome`` (this SWOP's interpreter
  when there is none). Identity files are used where ``src`` (+ ``subPath``) points; ``slport: ~`` means any free
  port (several SLs share one host). A worker succeeds when its ML program exits with 0. A cancelled job
  (``TaskJob.stop``: the SWOP stops, or its task runner was reset) stops every SL and ML it started.

Every SL and ML started is recorded in ``state_dir/procs`` (pid and kernel start time) until it is stopped: a SWOP
killed with SIGKILL leaves its SLs and MLs running (each has its own session), and the restarted SWOP stops them
(``clean_up_leftovers``) - only processes whose start time still matches, never a process that reused the pid.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import venv
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from swarm_learning.runlocal import Proc
from swop.executors.base import CANCELLED, ExecutorError, Reporter, TaskJob, safe_name
from swop.executors.content import apply_operations
from swop.executors.pairs import PairExecutor, SwarmPair
from swop.schema import (
    MakeSwarmUserContentBody,
    MakeUserContainerBody,
    PullImageBody,
    RunSwarmBody,
    SlNodeDef,
)
from swop.schema.fields import env_dict

log = logging.getLogger(__name__)

PIP_TIMEOUT_S = 900.0


# ------------------------------------------------------------------------------------------ user environments


def pip_requirements(steps: list[str]) -> list[str]:
    """The requirement specifiers of ``pip install`` commands in Dockerfile lines (continuations joined)."""
    text = "\n".join(steps).replace("\\\n", " ")
    found: list[str] = []
    for line in text.splitlines():
        if not line.strip().upper().startswith("RUN"):
            continue
        for command in re.split(r"&&|;", line.strip()[3:]):
            words = shlex.split(command, posix=True) if command.strip() else []
            for i in range(len(words) - 1):
                if words[i].endswith(("pip", "pip3")) and words[i + 1] == "install":
                    found += _specifiers(words[i + 2 :])
                    break
    return found


def _specifiers(words: list[str]) -> list[str]:
    specs: list[str] = []
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
        elif word.startswith("-"):
            skip_next = word in ("-r", "-c", "-i", "--index-url", "--extra-index-url", "-f", "--find-links")
        elif "/" not in word and not word.endswith((".whl", ".tar.gz", ".zip")):
            specs.append(word)
    return specs


def missing_requirements(specs: list[str]) -> list[str]:
    """The specifiers no installed distribution satisfies (``pip`` itself always counts as satisfied)."""
    missing = []
    for spec in specs:
        try:
            req = Requirement(spec)
        except InvalidRequirement:
            missing.append(spec)
            continue
        if req.name.lower() in ("pip", "setuptools", "wheel"):
            continue
        try:
            version = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(spec)
            continue
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            missing.append(spec)
    return missing


def make_environment(folder: Path) -> Path:
    """A virtual environment that also sees this interpreter's packages; returns its python."""
    venv.EnvBuilder(clear=True, symlinks=True, with_pip=False).create(folder)
    python = folder / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    parents = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    hook = "".join(f"import site; site.addsitedir({p!r})\n" for p in sorted(parents))
    (Path(site) / "_swop_parent_site.pth").write_text(hook)
    return python


# ------------------------------------------------------------------------------------------ the executor


class ProcessExecutor(PairExecutor[Proc]):
    """``mgrtype: PROCESS``."""

    _sockets: Path  # this run's folder of SL sockets (one task at a time)

    @property
    def children(self) -> ChildRecords:
        return ChildRecords(self.state_dir / "procs")

    def clean_up_leftovers(self) -> list[str]:
        return self.children.stop_all()

    # -- build / pull / content ------------------------------------------------------------------------------
    def environment_python(self, outcome: str | None) -> Path | None:
        if not outcome:
            return None
        python = self.state_dir / "envs" / safe_name(outcome) / "bin" / "python"
        return python if python.exists() else None

    def make_user_container(self, job: TaskJob, body: MakeUserContainerBody, reporter: Reporter) -> str:
        if body.build_type != "INLINE":
            raise ExecutorError("BuildType REMOTE is not supported; write the Dockerfile lines as INLINE BuildSteps")
        folder = self.state_dir / "envs" / safe_name(job.task.outcome)
        reporter.progress(None, f"creating the user environment {job.task.outcome}")
        try:
            python = make_environment(folder)
        except (OSError, subprocess.SubprocessError) as exc:
            raise ExecutorError(f"cannot create the virtual environment {folder}: {exc}") from exc
        missing = missing_requirements(pip_requirements(body.build_steps))
        if missing and os.environ.get("SWOP_PIP_INSTALL", "1") == "0":
            raise ExecutorError(f"not installed and SWOP_PIP_INSTALL=0: {' '.join(missing)}")
        if missing:
            reporter.progress(None, f"pip install {' '.join(missing)}")
            _pip_install(python, missing, folder / "pip-install.log", job.stop)
        return f"user environment {job.task.outcome} ready at {folder}" + (
            f" (installed {len(missing)})" if missing else " (requirements already installed)"
        )

    def pull_image(self, job: TaskJob, body: PullImageBody, reporter: Reporter) -> str:
        ref = f"{body.org_and_reg}{body.repo_name}:{body.tag}"
        return f"PROCESS executor: no image to pull for {ref}; ML programs run in local user environments"

    def make_user_content(self, job: TaskJob, body: MakeSwarmUserContentBody, reporter: Reporter) -> str:
        root = self.state_dir / "content" / safe_name(job.task.outcome)
        volumes = [root / str(n.idx) for n in self.profile.sl_nodes] if body.content_type == "SWARMCONTENT" else [root]
        for volume in volumes:
            apply_operations(body.ops_list, volume, reporter)
        return f"content {job.task.outcome} staged in {root}"

    # -- run swarm (the order is PairExecutor's) --------------------------------------------------------------
    def prepare_run(self, job: TaskJob) -> Path | None:
        """A short folder for the SLs' Unix sockets (paths are limited to 108 bytes); the user environment."""
        self._sockets = Path(tempfile.mkdtemp(prefix="swop-"))
        return self.environment_python(job.prereq_outcome)

    def end_run(self, job: TaskJob) -> None:
        shutil.rmtree(self._sockets, ignore_errors=True)

    def _socket(self, node: SlNodeDef) -> Path:
        return self._sockets / str(node.idx) / "sl.sock"

    def sl_serving(self, pair: SwarmPair[Proc]) -> bool:
        return (pair.folder / "sl" / "fs-port").exists()

    def exit_code(self, handle: Proc) -> int | None:
        return handle.popen.poll()

    def describe(self, handle: Proc) -> str:
        return f"(pid {handle.popen.pid})"

    def log_hint(self, handle: Proc) -> str:
        return f"see {handle.log}"

    def stop(self, handle: Proc) -> None:
        handle.stop()

    def finish_pair(self, job: TaskJob, pair: SwarmPair[Proc]) -> None:
        for proc in (pair.ml, pair.sl):
            if proc is not None:
                proc.stop()
                self.children.remove(proc)

    def start_sl(self, job: TaskJob, node: SlNodeDef, folder: Path) -> Proc:
        args = {"KEY": "--key", "CERT": "--cert", "CAPATH": "--capath", "CACERT": "--cacert"}
        identity: list[str] = []
        for attr in node.identities:
            if attr.a_type in args:
                path = Path(attr.src) / attr.sub_path if attr.sub_path else Path(attr.src)
                identity += [args[attr.a_type], str(path)]
        host = node.slhostip or "127.0.0.1"
        apls: list[str] = []
        if job.licensed:
            apls = ["--apls-ip", self.profile.apls.locator.host, "--apls-port", str(self.profile.apls.port)]
        argv = [
            sys.executable,
            "-m",
            "sl.cli",
            "--host-ip",
            host,
            "--bind",
            "127.0.0.1" if host.startswith("127.") else "0.0.0.0",
            "--sn-ip",
            job.sn.host,
            "--sn-api-port",
            str(job.sn.port),
            "--sl-fs-port",
            str(node.slport or 0),
            "--socket",
            str(self._socket(node)),
            "--data-dir",
            str(folder / "sl"),
            "--port-file",
            str(folder / "sl" / "fs-port"),
            *identity,
            *apls,
        ]
        env = {**os.environ, **self.profile.sl_env(node), "PYTHONUNBUFFERED": "1"}
        return self.children.add(_spawn(f"SL {node.idx}", argv, folder / "sl.log", env, folder))

    def start_ml(self, job: TaskJob, body: RunSwarmBody, pair: SwarmPair[Proc], python: Path | None) -> Proc:
        workdir = self._stage_workdir(body, pair)
        entry = body.entrypoint
        program = str(python or sys.executable) if Path(entry).name.startswith("python") else entry
        env = {**os.environ, **body.env, **env_dict(pair.node.usrenvvars), "PYTHONUNBUFFERED": "1"}
        env = {k: _host_path(v, body.working_dir, workdir) for k, v in env.items()}
        env["SWARM_SL_SOCKET"] = str(self._socket(pair.node))
        return self.children.add(
            _spawn(f"ML {pair.node.idx}", [program, *body.args], pair.folder / "ml.log", env, workdir)
        )

    def _stage_workdir(self, body: RunSwarmBody, pair: SwarmPair[Proc]) -> Path:
        """The host folder standing for ``WorkingDir``, with private and shared content in their places."""
        private = pair.node.privatedata
        working = body.working_dir.rstrip("/") or "/"
        if private is not None and body.private_content and body.private_content.rstrip("/") == working:
            workdir = Path(private.src)
        else:
            workdir = pair.folder / "work"
            if private is not None and body.private_content:
                _link(Path(private.src), _below(working, body.private_content, workdir))
        workdir.mkdir(parents=True, exist_ok=True)
        for mount in body.shared_content or []:
            src = Path(mount.src) if mount.m_type == "BIND" else self.state_dir / "content" / safe_name(mount.src)
            if mount.m_type == "VOLUME" and (src / str(pair.node.idx)).is_dir():
                src = src / str(pair.node.idx)  # a SWARMCONTENT volume: this node's copy
            if not src.exists():
                raise ExecutorError(f"SharedContent Src {mount.src} does not exist on this host")
            _link(src.absolute(), _below(working, mount.tgt, workdir))
        return workdir


# ------------------------------------------------------------------------------------------ helpers


def _spawn(name: str, argv: list[str], log_file: Path, env: dict[str, str], cwd: Path) -> Proc:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    cwd.mkdir(parents=True, exist_ok=True)
    log.info("starting %s: %s", name, " ".join(argv))
    with open(log_file, "wb") as out:
        popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
    return Proc(name, popen, log_file)


class ChildRecords:
    """The SLs and MLs an executor started and has not stopped yet: one small JSON file each in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def add(self, proc: Proc) -> Proc:
        start = process_start_time(proc.popen.pid)
        if start is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            record = {"name": proc.name, "pid": proc.popen.pid, "start": start, "log": str(proc.log)}
            (self.folder / f"{proc.popen.pid}.json").write_text(json.dumps(record))
        return proc

    def remove(self, proc: Proc) -> None:
        (self.folder / f"{proc.popen.pid}.json").unlink(missing_ok=True)

    def stop_all(self) -> list[str]:
        """Stop every recorded process that still runs (same pid and start time), the latest started first (MLs
        before their SLs); names what was stopped."""
        records: list[tuple[int, int, str, Path]] = []
        for path in self.folder.glob("*.json"):
            try:
                record = json.loads(path.read_text())
                records.append((int(record["start"]), int(record["pid"]), str(record["name"]), path))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("ignoring the unreadable process record %s: %s", path, exc)
                path.unlink(missing_ok=True)
        stopped = []
        for start, pid, name, path in sorted(records, reverse=True):
            if process_start_time(pid) == start:
                stop_process_group(pid, start)
                stopped.append(f"{name} (pid {pid})")
            path.unlink(missing_ok=True)
        return stopped


def process_start_time(pid: int) -> int | None:
    """When a live process started (clock ticks since boot, from ``/proc``); None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name in (...) may hold spaces
    return None if fields[0] in ("Z", "X") else int(fields[19])


def stop_process_group(pid: int, start: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group that ``pid`` leads (it has its own session), SIGKILL it if it outlives ``timeout``."""
    for sig, grace in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while process_start_time(pid) == start:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)  # bounded wait for a process that is not this SWOP's child to exit
        else:
            return
    log.warning("process %s did not exit after SIGKILL", pid)


def _pip_install(python: Path, requirements: list[str], log_path: Path, stop: threading.Event) -> None:
    """``pip install`` into a user environment; stopped (and the task cancelled) when ``stop`` is set."""
    with log_path.open("w") as log:
        pip = subprocess.Popen(
            [str(python), "-m", "pip", "install", "--no-input", *requirements],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + PIP_TIMEOUT_S
        while pip.poll() is None:
            if stop.wait(0.5) or time.monotonic() > deadline:
                Proc("pip", pip, log_path).stop(timeout=10)  # its process group: SIGTERM, then SIGKILL
                if stop.is_set():
                    raise ExecutorError(CANCELLED)
                raise ExecutorError(f"pip install took longer than {PIP_TIMEOUT_S:.0f} s (log: {log_path})")
    if pip.returncode != 0:
        last = log_path.read_text(errors="replace").strip().splitlines()[-1:]
        raise ExecutorError(f"pip install failed ({pip.returncode}): {' '.join(last)} (log: {log_path})")


def _below(working: str, target: str, workdir: Path) -> Path:
    """Where a container path under ``WorkingDir`` is on this host; paths elsewhere cannot be emulated."""
    rel = os.path.relpath(target.rstrip("/") or "/", working)
    if rel == "." or rel.startswith(".."):
        raise ExecutorError(f"{target} is not below WorkingDir {working}; the PROCESS executor cannot place it")
    return workdir / rel


def _host_path(value: str, working: str, workdir: Path) -> str:
    """Absolute container paths under ``WorkingDir`` in env values point at the host folder standing for it."""
    base = working.rstrip("/")
    if value == base or value.startswith(base + "/"):
        return str(workdir) + value[len(base) :]
    return value


def _link(src: Path, at: Path) -> None:
    at.parent.mkdir(parents=True, exist_ok=True)
    if at.is_symlink():
        at.unlink()
    elif at.exists():
        raise ExecutorError(f"cannot place {src} at {at}: something else is there")
    at.symlink_to(src, target_is_directory=src.is_dir())
