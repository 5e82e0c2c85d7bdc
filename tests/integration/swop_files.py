"""SWOP files and checks the SWOP tests share: profiles in the product's format, SWCI lines that must succeed,
SWOPs listening on their task runner, processes left behind."""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from swarm_learning.sn_client import SNClient
from swci.session import SwciSession
from tests.conftest import CertFactory
from tests.integration.harness import Daemon


@dataclass(frozen=True)
class Variant:
    """What differs between the two executors' runs of the same script."""

    mgrtype: str
    sn_host: str  # where the SLs (processes or containers) reach the SN
    network: str
    env: dict[str, str] = field(default_factory=dict)  # extra environment of the SWOP processes
    build_task: str = ""


PROCESS_VARIANT = Variant("PROCESS", "127.0.0.1", "default")


def swop_profile(
    group: str,
    runner: str,
    sls: tuple[str, ...],
    swarm_ca: CertFactory,
    sn_port: int,
    data: Path,
    variant: Variant = PROCESS_VARIANT,
) -> str:
    """A profile in the product's format: one SL node per certificate in ``sls``, each with its private folder."""
    nodes = []
    for idx, sl in enumerate(sls):
        p = swarm_ca.paths(sl)
        (data / sl).mkdir(parents=True, exist_ok=True)
        nodes.append(
            textwrap.dedent(f"""\
              - slnodedef:
                  idx: {idx}
                  identity:
                    - attribute: {{aType: KEY, mType: BIND, src: {p.key}, tgt: /swarm-cert/key.pem}}
                    - attribute: {{aType: CERT, mType: BIND, src: {p.cert}, tgt: /swarm-cert/cert.pem}}
                    - attribute: {{aType: CAPATH, mType: BIND, src: {p.capath}, tgt: /swarm-cert/capath}}
                  slhostname: {sl.replace("-", "")}
                  slhostip: {"127.0.0.1" if variant.mgrtype == "PROCESS" else "~"}
                  slport: ~
                  privatedata: {{src: {data / sl}, mType: BIND}}
                  slenvvars: ~
                  usrhostname: user-{sl}
                  usrenvvars: [SCRATCH_DIR: "scratch"]
            """)
        )
    head = textwrap.dedent(f"""\
        ---
        groupname: {group}
        taskrunner: {runner}
        policyuri: ~
        resourcemgr:
          mgrtype: {variant.mgrtype}
          accessinfo: {{accesstype: FROMENV}}
        network: {variant.network}
        apls:
          locator: {{host: 127.0.0.1, port: ~}}
        apisrv:
          locator: {{host: {variant.sn_host}, port: {sn_port}, service: ~}}
        envvars:
          - SL_LOG_LEVEL: INFO
        nodes:
        """)
    return head + "".join(textwrap.indent(n, "  ") for n in nodes)


def swci_ok(session: SwciSession, line: str) -> list[str]:
    """Run one SWCI line that must succeed; its printed lines."""
    result = session.run_line(line)
    assert result.ok, f"{line}: {result.error}\n" + "\n".join(result.lines)
    return result.lines


def wait_listening(
    swarm_ca: CertFactory,
    sn: tuple[str, int],
    runner: str,
    swops: Mapping[str, Daemon],
    nodes: int | None = None,
    timeout: float = 60,
) -> None:
    """Wait until every SWOP of ``swops`` (uid: its process) listens on ``runner``; with ``nodes``, until exactly
    those SWOPs listen, each with ``nodes`` nodes.

    Fails at once with the SWOP's output when one of them exits meanwhile.
    """
    client = SNClient(*sn, swarm_ca.identity("swci-1"), retry_seconds=10)
    deadline, height, listening = time.monotonic() + timeout, 0, {}
    output = lambda: "\n".join(f"==== {uid}\n{d.output()}" for uid, d in swops.items())  # noqa: E731
    try:
        while time.monotonic() < deadline:
            listening = {entry.peer: entry.nodes for entry in client.task_runner_listeners(runner)}
            if nodes is None:
                ready = set(swops) <= set(listening)
            else:
                ready = listening == dict.fromkeys(swops, nodes)
            if ready:
                return
            for daemon in swops.values():
                assert daemon.popen.poll() is None, output()
            height = client.wait_for_change(height, 2)
    finally:
        client.close()
    raise AssertionError(f"not every SWOP of {sorted(swops)} listens on {runner} within {timeout}s "
                         f"(listening: {listening}):\n{output()}")  # fmt: skip


def processes_using(*folders: Path) -> Callable[[], list[str]]:
    """A check for processes whose command line or working folder lies in one of ``folders``."""

    def find() -> list[str]:
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                cwd = os.readlink(proc / "cwd")
            except OSError:
                continue
            if any(str(f) in cmdline or cwd.startswith(str(f)) for f in folders):
                found.append(f"pid {proc.name}: {cmdline[:120]}")
        return found

    return find
