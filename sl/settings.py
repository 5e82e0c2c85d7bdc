"""Tunables of an SL node, from the product's environment variables (defaults as documented)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from swarm_learning.errors import ConfigurationError


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name}={raw!r} is not a boolean: use True or False")


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise ConfigurationError(f"{name}={raw!r} must not be negative")
    return value


@dataclass(frozen=True)
class SLSettings:
    make_me_admin: bool = True  # SL_MAKE_ME_ADMIN: may this node lead merge rounds
    full_quorum_wait_s: float = 30.0  # SL_WAIT_FOR_FULL_QUORUM_SECONDS
    leader_failure_timeout_s: float = 600.0  # SL_LEADER_FAILURE_BASE_TIMEOUT
    heartbeat_s: float = 10.0  # SL_HEARTBEAT_SECONDS (ours): liveness on chain (one block each)
    peer_stale_s: float = 45.0  # SL_PEER_STALE_SECONDS (ours): a peer silent this long is gone
    ram_intensive: bool = True  # SL_RAM_INTENSIVE (accepted; merges hold all models in memory)

    @classmethod
    def from_env(cls) -> SLSettings:
        return cls(
            make_me_admin=_bool("SL_MAKE_ME_ADMIN", True),
            full_quorum_wait_s=_number("SL_WAIT_FOR_FULL_QUORUM_SECONDS", 30.0),
            leader_failure_timeout_s=_number("SL_LEADER_FAILURE_BASE_TIMEOUT", 600.0),
            heartbeat_s=_number("SL_HEARTBEAT_SECONDS", 10.0),
            peer_stale_s=_number("SL_PEER_STALE_SECONDS", 45.0),
            ram_intensive=_bool("SL_RAM_INTENSIVE", True),
        )
