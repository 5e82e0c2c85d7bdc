"""LIST NODES, and WAIT FOR IP / SERVICE (waiting for an SN API server to accept connections)."""

from __future__ import annotations

import socket
import time

from swarm_learning import sn_api as api
from swarm_learning.errors import SwarmLearningError
from swci.errors import SwciError
from swci.executor.render import age, when
from swci.executor.state import SessionState, split_service
from swci.language import commands as c

LIST_NODES_HEADER = "NodeType, HostIP, Port, ContainerName, UUID, ParentUUID, i-am-alive timestamp"
_KINDS = {"sl": "SL", "swop": "SWOP", "sn": "SN"}  # SWCI rows are never listed (nor ML programs: no certificate)


def _short(identity: str) -> str:
    """A readable node name: the last path segment of a SPIFFE ID, else the identity itself."""
    return identity.rstrip("/").rsplit("/", 1)[-1] if identity.startswith("spiffe://") else identity


def _alive(seconds: float, now: float) -> str:
    return f"{when(seconds)} ({age(seconds, now)} ago)" if seconds else "-"


def _sn_rows(state: SessionState, info: api.SNInfo, now: float) -> list[str]:
    """The SN answering (alive now) and the other SNs of its network (from GET /network, when it can tell)."""
    context = state.context()
    rows = [f"SN, {context.host}, {context.port}, {_short(info.identity)}, {info.identity}, -, {_alive(now, now)}"]
    try:
        network = state.sn().network()
    except SwarmLearningError:  # an SN on an external chain has no SN network to show
        return rows
    for member in network.members:
        if member.api is None or member.api == f"{context.host}:{context.port}" or member.name == network.member_name:
            continue
        host, _, port = member.api.rpartition(":")
        rows.append(f"SN, {host}, {port}, {member.name}, {member.name}, -, -")
    return rows


def list_nodes(state: SessionState, _: c.ListNodes) -> list[str]:
    """Header, then one CSV row per SN, SL and SWOP; SL and SWOP rows name the SN answering as their parent."""
    sn = state.sn()
    info = sn.info()
    now = time.time()
    rows = _sn_rows(state, info, now)
    nodes = sorted((n for n in sn.nodes() if n.kind in ("sl", "swop")), key=lambda n: (n.kind != "swop", n.identity))
    for node in nodes:
        rows.append(
            f"{_KINDS[node.kind]}, {node.host}, {node.port}, {_short(node.identity)}, {node.identity}, "
            f"{info.identity}, {_alive(node.last_seen, now)}"
        )
    return [LIST_NODES_HEADER, *rows]


def wait_for_address(state: SessionState, host: str, port: int, retries: int) -> list[str]:
    """Try a TCP connection up to ``retries`` times, each attempt bounded, at most one attempt per attempt period."""
    period = state.wait_attempt_seconds
    reason = "no attempt made"
    for attempt in range(1, retries + 1):
        started = time.monotonic()
        try:
            with socket.create_connection((host, port), timeout=period):
                return ["API Server is UP!"]
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
        if attempt < retries and state.stopping.wait(max(0.0, started + period - time.monotonic())):
            break
    raise SwciError(f"API server {host}:{port} did not accept a connection in {retries} attempts ({reason})")


def wait_for_ip(state: SessionState, command: c.WaitForIp) -> list[str]:
    return wait_for_address(state, command.ip, command.port, command.retries)


def wait_for_service(state: SessionState, command: c.WaitForService) -> list[str]:
    host, port = split_service(command.service)
    return wait_for_address(state, host, port, command.retries)


HANDLERS = {
    c.ListNodes: list_nodes,
    c.WaitForIp: wait_for_ip,
    c.WaitForService: wait_for_service,
}
