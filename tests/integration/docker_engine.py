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
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def docker_engine(root: Path) -> Iterator[Engine]:
    env = {**os.environ, "DOCKER_CONFIG": str(root / "config"), "DOCKER_BUILDKIT": "0"}
    _compose_plugin(root / "config")
    given = os.environ.get("SWARM_TEST_DOCKER_HOST")
    if given:
        env["DOCKER_HOST"] = given
        if not run(["docker", "version"], env, check=False, timeout=20):
            unavailable(f"SWARM_TEST_DOCKER_HOST={given} does not answer")
        yield Engine(env, owned=False)
        return
    if os.geteuid() != 0 or not shutil.which("dockerd") or not shutil.which("docker"):
        unavailable("needs root and Debian's docker.io + debootstrap (make test installs them when run as root)")
    sock = root / "docker.sock"
    log_path = root / "dockerd.log"
    daemon = subprocess.Popen(
        ["dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"), "-H", f"unix://{sock}",
         "--pidfile", str(root / "dockerd.pid"), "--default-ulimit", "nofile=20000:20000"],
        stdout=log_path.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    env["DOCKER_HOST"] = f"unix://{sock}"
    try:
        deadline = time.monotonic() + 60
        while run(["docker", "version"], env, check=False, timeout=10) == "":
            if time.monotonic() > deadline or daemon.poll() is not None:
                pytest.fail(f"dockerd did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.5)  # polling the daemon's socket, bounded by the deadline
        yield Engine(env, owned=True)
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(timeout=30)
        subprocess.run(["umount", "-R", str(root / "exec")], capture_output=True, check=False)
        shutil.rmtree(root / "data", ignore_errors=True)
        shutil.rmtree(root / "exec", ignore_errors=True)


def ensure_images(engine: Engine, names: tuple[str, ...] = ("runtime", "sn", "sl", "ml-pytorch")) -> float:
    """Build what is missing of ``names`` (runtime first) from a debootstrapped Debian base; seconds it took."""
    started = time.monotonic()
    wanted = [n for n in names if n != "runtime"]
    if all(engine.has_image(f"swarm-learning/{n}:{TAG}") for n in wanted) and not os.environ.get(
        "SWARM_TEST_REBUILD_IMAGES"
    ):
        return 0.0
    if not engine.has_image(LOCAL_BASE):
        print(f"\n[docker] debootstrap a Debian base into {LOCAL_BASE} ...", flush=True)
        run([str(REPO / "docker" / "local-base.sh"), LOCAL_BASE], engine.env, timeout=900)
    ca = os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt"
    only = ",".join(["runtime", *wanted])
    print(f"[docker] building images {only} ...", flush=True)
    cmd = [sys.executable, str(REPO / "docker" / "build_images.py"), "--tag", TAG, "--base-image", LOCAL_BASE,
           "--only", only] + (["--ca-bundle", ca] if Path(ca).is_file() else [])  # fmt: skip
    run(cmd, engine.env, timeout=1800)
    seconds = time.monotonic() - started
    print(f"[docker] base and images ready in {seconds:.0f} s", flush=True)
    return seconds


def bridge_gateway(engine: Engine, network: str = "bridge") -> str:
    """The gateway of a Docker network: an address of this host that its containers reach (published ports too)."""
    fmt = "{{range .IPAM.Config}}{{.Gateway}} {{.Subnet}} {{end}}"
    words = engine.docker("network", "inspect", network, "-f", fmt).split()
    if words and "/" not in words[0]:
        return words[0]
    subnet = next((w for w in words if "/" in w), "")  # Debian's engine may leave Gateway out: the subnet's .1
    assert subnet, f"the Docker network {network} has no IPv4 subnet"
    return str(next(ipaddress.ip_network(subnet, strict=False).hosts()))
