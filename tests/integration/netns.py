"""Network namespaces as separate "sites" on one machine, for tests that need each node on its own address.

``sites(n)`` makes one namespace per site plus a hub namespace holding a Linux bridge. Each site gets one veth
pair: ``eth0`` inside the site (address ``10.<x>.<y>.<i>/24``), its peer on the hub's bridge. The sites reach
each other and nothing else: the host's own namespace gets no interface, route or address, and nothing here ever
sends traffic from it. Every pair is created from inside the hub (``ip -n HUB link add ... peer ... netns SITE``),
so no device appears in the host namespace even for a moment.

Names are ``<prefix>-<pid>-<seq>-hub`` and ``<prefix>-<pid>-<seq>-s<i>``: unique per process and per call, so
parallel runs do not clash. On exit every process still running inside the namespaces is killed (they can only
be ours) and the namespaces are deleted, which removes their veth ends too. Namespaces of the same prefix left by
an earlier run whose process is gone are deleted when the next run starts.

Running a command in a site: ``site.argv("python", "-m", ...)`` gives ``["ip", "netns", "exec", NAME, ...]``.
``require_netns()`` skips the calling test, with the kernel's or ``ip``'s own words, where namespaces cannot be made.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

logger = logging.getLogger(__name__)

PREFIX = "swt"
IP_TIMEOUT = 20.0
_sequence = itertools.count(1)


class NetnsError(RuntimeError):
    """An ``ip`` command that builds or removes the test's namespaces failed."""


@dataclass(frozen=True)
class Site:
    index: int  # 1-based
    namespace: str
    address: str  # IPv4 address of the site's eth0

    def argv(self, *command: str) -> list[str]:
        """The argv that runs ``command`` inside this site's namespace."""
        return ["ip", "netns", "exec", self.namespace, *command]

    def pids(self) -> list[int]:
        """Processes running inside this site's namespace."""
        return _pids(self.namespace)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT, check=False)
    if check and result.returncode != 0:
        raise NetnsError(f"`ip {' '.join(args)}` failed ({result.returncode}): {result.stderr.strip()}")
    return result


def _pids(namespace: str) -> list[int]:
    result = _ip("netns", "pids", namespace, check=False)
    return [int(p) for p in result.stdout.split() if p.isdigit()]


def list_namespaces() -> list[str]:
    result = _ip("netns", "list", check=False)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def _kill_inside(namespace: str) -> None:
    for pid in _pids(namespace):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _delete(namespace: str) -> None:
    result = _ip("netns", "delete", namespace, check=False)
    if result.returncode != 0 and namespace in list_namespaces():
        logger.warning("could not delete network namespace %s: %s", namespace, result.stderr.strip())


def remove_stale(prefix: str = PREFIX) -> list[str]:
    """Delete namespaces named ``<prefix>-<pid>-...`` whose creating process no longer exists; return their names."""
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)-")
    removed = []
    for name in list_namespaces():
        match = pattern.match(name)
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            _delete(name)
            removed.append(name)
    if removed:
        logger.info("removed network namespaces left by earlier runs: %s", removed)
    return removed


def unavailable_reason(prefix: str = PREFIX) -> str | None:
    """Why network namespaces cannot be used here (None: they can)."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    probe = f"{prefix}-{os.getpid()}-probe"
    added = _ip("netns", "add", probe, check=False)
    if added.returncode != 0:
        who = "" if os.geteuid() == 0 else f" (running as uid {os.geteuid()}, not root)"
        return f"`ip netns add` failed{who}: {added.stderr.strip() or added.returncode}"
    try:
        bridge = _ip("-n", probe, "link", "add", "br0", "type", "bridge", check=False)
        if bridge.returncode != 0:
            return f"`ip link add br0 type bridge` inside a namespace failed: {bridge.stderr.strip()}"
        execd = subprocess.run(
            ["ip", "netns", "exec", probe, "true"], capture_output=True, text=True, timeout=IP_TIMEOUT, check=False
        )
        if execd.returncode != 0:
            return f"`ip netns exec` failed: {execd.stderr.strip() or execd.returncode}"
    finally:
        _delete(probe)
    return None


def require_netns(prefix: str = PREFIX) -> None:
    """Skip the calling test, with the exact reason, where network namespaces cannot be made."""
    reason = unavailable_reason(prefix)
    if reason is not None:
        pytest.skip(f"network namespaces unavailable: {reason}")


@contextmanager
def sites(count: int, *, prefix: str = PREFIX) -> Iterator[list[Site]]:
    """``count`` sites connected only to each other through a bridge in a hub namespace; all removed on exit."""
    if not 1 <= count <= 250:
        raise ValueError("between 1 and 250 sites")
    remove_stale(prefix)
    pid, seq = os.getpid(), next(_sequence)
    base = f"{prefix}-{pid}-{seq}"
    subnet = f"10.{100 + pid % 100}.{seq % 256}"
    hub = f"{base}-hub"
    made: list[str] = []
    built = [Site(i, f"{base}-s{i}", f"{subnet}.{i}") for i in range(1, count + 1)]
    try:
        for namespace in [hub, *(s.namespace for s in built)]:
            _ip("netns", "add", namespace)
            made.append(namespace)
            _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("-n", hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", hub, "link", "set", "br0", "up")
        for site in built:
            port = f"site{site.index}"
            _ip("-n", hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", site.namespace)
            _ip("-n", hub, "link", "set", port, "master", "br0", "up")
            _ip("-n", site.namespace, "addr", "add", f"{site.address}/24", "dev", "eth0")
            _ip("-n", site.namespace, "link", "set", "eth0", "up")
        logger.info("sites %s on %s.0/24 (hub %s)", [s.namespace for s in built], subnet, hub)
        yield built
    finally:
        for namespace in reversed(made):
            _kill_inside(namespace)
            _delete(namespace)
