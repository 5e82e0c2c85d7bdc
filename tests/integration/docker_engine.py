"""A real Docker engine for the tests that need containers (compose sites, the SWOP's DOCKER executor).

``SWARM_TEST_DOCKER_HOST`` names a running engine to use (its images are reused when present). Otherwise the tests
start their own ``dockerd`` (root and Debian's ``docker.io``; ``make test`` installs it) with its own data folder and
socket, build a Debian base with debootstrap and the project's images from it, and stop the daemon and delete its
data at the end. Without an engine the tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TAG = "0.1.0"
LOCAL_BASE = "local/debian:bookworm"
SWARM_UID = 10001


def run(cmd: list[str], env: dict[str, str], timeout: float = 120, check: bool = True) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"`{' '.join(cmd)}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


@dataclass
class Engine:
    env: dict[str, str]  # os.environ + DOCKER_HOST, DOCKER_CONFIG (with the compose plugin), DOCKER_BUILDKIT=0
    owned: bool  # True when the tests started this daemon

    @property
    def host(self) -> str:
        return self.env["DOCKER_HOST"]

    def docker(self, *args: str, timeout: float = 120, check: bool = True) -> str:
        return run(["docker", *args], self.env, timeout, check)

    def has_image(self, image: str) -> bool:
        found = subprocess.run(
            ["docker", "image", "inspect", image], capture_output=True, env=self.env, timeout=60, check=False
        )
        return found.returncode == 0


def unavailable(reason: str) -> None:
    """Skip, or fail under CI (where the container tests must run)."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"a Docker engine is needed under CI: {reason}")
    pytest.skip(reason)


def _compose_plugin(config_dir: Path) -> None:
    plugins = config_dir / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    binary = Path(sys.executable).with_name("docker-compose")
    if binary.exists() and not (plugins / "docker-compose").exists():
        (plugins / "docker-compose").symlink_to(binary)


class EngineSupply:
    """The test session's Docker engine and images, made ready on a background thread while other tests run.

    ``tests/conftest.py`` starts it as soon as the collected tests include one that needs Docker (and runs those
    last), so the daemon start, the debootstrap and the image builds (about 3 minutes from cold) overlap the rest of
    the suite. They run at the lowest CPU priority (``nice 19``) so that they take only what the other tests leave;
    when the images are ready, the daemon's processes return to normal priority for the container tests themselves.
    ``engine()`` and ``images()`` wait for their part, bounded, and skip (or fail under CI) when no engine can run.
    """

    def __init__(self, root: Path, images: tuple[str, ...] = ("runtime", "sn", "sl", "ml-pytorch")) -> None:
        self.root = root
        self.images_wanted = images
        self.log_path = root / "prepare.log"
        self.build_seconds: float | None = None
        self._engine: Engine | None = None
        self._unavailable: str | None = None
        self._build_error: str | None = None
        self._daemon: subprocess.Popen[bytes] | None = None
        self._step: subprocess.Popen[str] | None = None
        self._closing = threading.Event()
        self._engine_ready = threading.Event()
        self._images_ready = threading.Event()
        self._thread = threading.Thread(target=self._prepare, name="docker-engine-supply", daemon=True)

    def start(self) -> EngineSupply:
        self.root.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    # -- what the fixtures call ------------------------------------------------------------------------------
    def engine(self, timeout: float = 120) -> Engine:
        if not self._engine_ready.wait(timeout):
            pytest.fail(f"the Docker engine did not answer within {timeout:.0f} s: {self._log_tail()}")
        if self._engine is None:
            unavailable(self._unavailable or "no Docker engine")
        assert self._engine is not None
        return self._engine

    def images(self, timeout: float = 1800) -> Engine:
        engine = self.engine()
        if not self._images_ready.wait(timeout):
            pytest.fail(f"the test images were not built within {timeout:.0f} s: {self._log_tail()}")
        if self._build_error is not None:
            pytest.fail(f"building the test images failed: {self._build_error}")
        return engine

    def close(self) -> None:
        """Stop a build still running, then the daemon the tests started; delete its data."""
        self._closing.set()
        step = self._step
        if step is not None and step.poll() is None:
            os.killpg(step.pid, signal.SIGTERM)
        self._thread.join(timeout=120)
        daemon = self._daemon
        if daemon is None:
            return
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(timeout=30)
        subprocess.run(["umount", "-R", str(self.root / "exec")], capture_output=True, check=False)
        shutil.rmtree(self.root / "data", ignore_errors=True)
        shutil.rmtree(self.root / "exec", ignore_errors=True)

    # -- the background thread -------------------------------------------------------------------------------
    def _prepare(self) -> None:
        try:
            self._engine = self._start_engine()
        except Exception as exc:  # noqa: BLE001 - reported to the tests that need the engine, not lost in a thread
            self._unavailable = f"{type(exc).__name__}: {exc}"
        finally:
            self._engine_ready.set()
        if self._engine is None:
            self._images_ready.set()
            return
        try:
            self.build_seconds = self._build(self._engine)
            if self._daemon is not None:
                _renice_tree(self._daemon.pid, 0)  # the container tests run at normal priority
        except Exception as exc:  # noqa: BLE001 - likewise
            self._build_error = f"{type(exc).__name__}: {exc}"
        finally:
            self._images_ready.set()

    def _start_engine(self) -> Engine | None:
        env = {**os.environ, "DOCKER_CONFIG": str(self.root / "config"), "DOCKER_BUILDKIT": "0"}
        _compose_plugin(self.root / "config")
        given = os.environ.get("SWARM_TEST_DOCKER_HOST")
        if given:
            env["DOCKER_HOST"] = given
            if not run(["docker", "version"], env, check=False, timeout=20):
                self._unavailable = f"SWARM_TEST_DOCKER_HOST={given} does not answer"
                return None
            return Engine(env, owned=False)
        if os.geteuid() != 0 or not shutil.which("dockerd") or not shutil.which("docker"):
            self._unavailable = "needs root and Debian's docker.io + debootstrap (make test installs them when root)"
            return None
        sock = self.root / "docker.sock"
        daemon_log = self.root / "dockerd.log"
        self._daemon = subprocess.Popen(
            ["nice", "-n", "19", "dockerd", "--data-root", str(self.root / "data"), "--exec-root",
             str(self.root / "exec"), "-H", f"unix://{sock}", "--pidfile", str(self.root / "dockerd.pid"),
             "--default-ulimit", "nofile=20000:20000"],
            stdout=daemon_log.open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        env["DOCKER_HOST"] = f"unix://{sock}"
        deadline = time.monotonic() + 60
        while run(["docker", "version"], env, check=False, timeout=10) == "":
            if time.monotonic() > deadline or self._daemon.poll() is not None or self._closing.is_set():
                raise RuntimeError(f"dockerd did not start: {daemon_log.read_text()[-2000:]}")
            time.sleep(0.5)  # polling the daemon's socket, bounded by the deadline
        return Engine(env, owned=True)

    def _build(self, engine: Engine) -> float:
        """Build what is missing of the wanted images (runtime first) from a debootstrapped Debian base."""
        started = time.monotonic()
        wanted = [n for n in self.images_wanted if n != "runtime"]
        if all(engine.has_image(f"swarm-learning/{n}:{TAG}") for n in wanted) and not os.environ.get(
            "SWARM_TEST_REBUILD_IMAGES"
        ):
            return 0.0
        if not engine.has_image(LOCAL_BASE):
            self._run_step("debootstrap", [str(REPO / "docker" / "local-base.sh"), LOCAL_BASE], engine.env, 900)
        ca = os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt"
        cmd = [sys.executable, str(REPO / "docker" / "build_images.py"), "--tag", TAG, "--base-image", LOCAL_BASE,
               "--only", ",".join(["runtime", *wanted])] + (["--ca-bundle", ca] if Path(ca).is_file() else [])  # fmt: skip
        self._run_step("images", cmd, engine.env, 1800)
        return time.monotonic() - started

    def _run_step(self, what: str, cmd: list[str], env: dict[str, str], timeout: float) -> None:
        if self._closing.is_set():
            raise RuntimeError("the test session ended first")
        with self.log_path.open("a") as log:
            log.write(f"== {what}: {' '.join(cmd)}\n")
            log.flush()
            self._step = subprocess.Popen(
                ["nice", "-n", "19", *cmd], env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
                start_new_session=True,
            )  # fmt: skip
            try:
                code = self._step.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self._step.pid, signal.SIGKILL)
                raise RuntimeError(f"{what} took longer than {timeout:.0f} s: {self._log_tail()}") from None
        if code != 0:
            raise RuntimeError(f"{what} failed ({code}): {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text()[-3000:]
        except OSError:
            return "(no log yet)"


def _renice_tree(root_pid: int, niceness: int) -> None:
    """Set the niceness of ``root_pid`` and every process below it (the daemon, containerd, shims)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    todo = [root_pid]
    while todo:
        pid = todo.pop()
        try:
            os.setpriority(os.PRIO_PROCESS, pid, niceness)
        except OSError:
            pass  # gone meanwhile
        todo.extend(children.get(pid, []))


def needs_docker(item: pytest.Item) -> bool:
    """Whether a collected test uses the session's Docker engine (directly, or through a DOCKER parameter)."""
    if {"engine", "swarm_images"} & set(getattr(item, "fixturenames", ())):
        return True
    return item.get_closest_marker("docker") is not None


def bridge_gateway(engine: Engine, network: str = "bridge") -> str:
    """The gateway of a Docker network: an address of this host that its containers reach (published ports too)."""
    fmt = "{{range .IPAM.Config}}{{.Gateway}} {{.Subnet}} {{end}}"
    words = engine.docker("network", "inspect", network, "-f", fmt).split()
    if words and "/" not in words[0]:
        return words[0]
    subnet = next((w for w in words if "/" in w), "")  # Debian's engine may leave Gateway out: the subnet's .1
    assert subnet, f"the Docker network {network} has no IPv4 subnet"
    return str(next(ipaddress.ip_network(subnet, strict=False).hosts()))
