"""Change the membership of an SN network's etcd cluster through an existing member's client API.

The client API listens on 127.0.0.1 only, so these functions run on the SN that owns that member; a joining SN asks
that SN over its HTTPS API (a later route calls ``add_learner`` and then ``promote`` for it).

Joins go through the learner path: ``add_learner`` keeps the cluster writable while the new member catches up, and
``promote`` turns it into a voter once it is in sync. etcd refuses membership changes for a while after another one
("unhealthy cluster", "learner not in sync", "too many learner members"): both functions retry those with
exponential backoff until their ``timeout``. Both are idempotent (a retried call after a lost answer is harmless).

The Python etcd clients speak an etcd API without learners, so these use etcd's JSON gateway (``/v3/cluster/...``)
with the standard library.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sn.consensus.errors import ConsensusError, MembershipRetryable
from sn.consensus.etcd_member import JoinPlan

logger = logging.getLogger(__name__)

T = TypeVar("T")

_RETRYABLE = (
    "unhealthy cluster",
    "not in sync",
    "too many learner",
    "leader changed",
    "no leader",
    "timed out",
    "timeout",
    "not ready",
    "too many requests",
)


@dataclass(frozen=True)
class Member:
    id: int
    name: str  # empty until the member has started
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    is_learner: bool


@dataclass(frozen=True)
class MemberStatus:
    member_id: int
    leader_id: int  # 0 while there is no leader
    version: str
    raft_index: int

    @property
    def is_leader(self) -> bool:
        return self.member_id == self.leader_id


def member_status(client_url: str, *, timeout: float = 5.0) -> MemberStatus:
    """What the member at ``client_url`` says about itself (one attempt; raises ``MembershipRetryable`` if down)."""
    answer = _call(client_url, "/v3/maintenance/status", {}, timeout)
    return MemberStatus(
        member_id=int(answer.get("header", {}).get("member_id", 0)),
        leader_id=int(answer.get("leader", 0)),
        version=str(answer.get("version", "")),
        raft_index=int(answer.get("raftIndex", 0)),
    )


def list_members(client_url: str, *, timeout: float = 5.0) -> list[Member]:
    answer = _call(client_url, "/v3/cluster/member/list", {}, timeout)
    return [_member(raw) for raw in answer.get("members", [])]


def add_learner(existing_client_url: str, name: str, peer_url: str, *, timeout: float = 30.0) -> JoinPlan:
    """Add ``peer_url`` as a learner (or find it already added) and return what the joiner starts etcd with."""

    def attempt() -> JoinPlan:
        members = list_members(existing_client_url, timeout=5.0)
        mine = _find(members, peer_url)
        if mine is None:
            answer = _call(
                existing_client_url, "/v3/cluster/member/add", {"peerURLs": [peer_url], "isLearner": True}, 5.0
            )
            mine = _member(answer["member"])
            members = [_member(raw) for raw in answer.get("members", [])]
            logger.info("added etcd learner %s (%s) as member %x", name, peer_url, mine.id)
        elif mine.name and mine.name != name:
            raise ConsensusError(f"peer URL {peer_url} already belongs to member {mine.name!r}, not {name!r}")
        elif not mine.is_learner:
            raise ConsensusError(
                f"{name} ({peer_url}) is already a voting member: restart it from its data directory, or remove it "
                "first if that data was lost"
            )
        return JoinPlan(mine.id, _initial_cluster(members, mine.id, name))

    return _with_retries(f"adding {name} ({peer_url})", attempt, timeout)


def promote(existing_client_url: str, peer_url: str, *, timeout: float = 30.0) -> None:
    """Make the learner at ``peer_url`` a voting member once it has caught up (no-op if it already votes)."""

    def attempt() -> None:
        mine = _find(list_members(existing_client_url, timeout=5.0), peer_url)
        if mine is None:
            raise ConsensusError(f"no member with peer URL {peer_url}; add it as a learner first")
        if not mine.is_learner:
            return
        _call(existing_client_url, "/v3/cluster/member/promote", {"ID": str(mine.id)}, 5.0)
        logger.info("promoted etcd member %s (%x) to voter", mine.name or peer_url, mine.id)

    _with_retries(f"promoting {peer_url}", attempt, timeout)


def remove_member(existing_client_url: str, peer_url: str, *, timeout: float = 30.0) -> None:
    """Remove the member at ``peer_url`` (no-op if it is not a member)."""

    def attempt() -> None:
        mine = _find(list_members(existing_client_url, timeout=5.0), peer_url)
        if mine is not None:
            _call(existing_client_url, "/v3/cluster/member/remove", {"ID": str(mine.id)}, 5.0)
            logger.info("removed etcd member %s (%x)", mine.name or peer_url, mine.id)

    _with_retries(f"removing {peer_url}", attempt, timeout)


# ------------------------------------------------------------------------------------------------ helpers


def _with_retries(what: str, attempt: Callable[[], T], timeout: float) -> T:
    deadline = time.monotonic() + timeout
    pause = 0.2
    while True:
        try:
            return attempt()
        except MembershipRetryable as exc:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConsensusError(f"{what} failed for {timeout:.0f} s; last answer: {exc}") from exc
            logger.info("%s: %s; retrying in %.1f s", what, exc, min(pause, remaining))
            time.sleep(min(pause, remaining))  # backoff between refused membership changes
            pause = min(pause * 2, 1.0)


def _call(client_url: str, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    request = urllib.request.Request(
        client_url.rstrip("/") + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer: dict[str, Any] = json.loads(response.read() or b"{}")
            return answer
    except urllib.error.HTTPError as exc:
        message = _error_message(exc)
        if exc.code in (502, 503, 504) or any(marker in message.lower() for marker in _RETRYABLE):
            raise MembershipRetryable(message) from exc
        raise ConsensusError(f"etcd at {client_url} refused {path}: {message}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise MembershipRetryable(f"etcd at {client_url} did not answer {path}: {exc}") from exc


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        raw = json.loads(exc.read() or b"{}")
        return str(raw.get("message") or raw.get("error") or f"HTTP {exc.code}")
    except (ValueError, OSError):
        return f"HTTP {exc.code}"


def _member(raw: dict[str, Any]) -> Member:
    return Member(
        id=int(raw["ID"]),
        name=str(raw.get("name", "")),
        peer_urls=tuple(raw.get("peerURLs", ())),
        client_urls=tuple(raw.get("clientURLs", ())),
        is_learner=bool(raw.get("isLearner", False)),
    )


def _find(members: list[Member], peer_url: str) -> Member | None:
    wanted = peer_url.rstrip("/")
    return next((m for m in members if wanted in (u.rstrip("/") for u in m.peer_urls)), None)


def _initial_cluster(members: list[Member], new_id: int, new_name: str) -> str:
    """etcd's ``--initial-cluster`` for a joiner: every member (etcd matches them by peer URL)."""
    parts: list[str] = []
    for member in sorted(members, key=lambda m: m.id):
        name = new_name if member.id == new_id else member.name or f"pending-{member.id:x}"
        parts.extend(f"{name}={url}" for url in member.peer_urls)
    return ",".join(parts)
