"""Tunables of an SL node, from the product's environment variables (defaults as documented)."""

from __future__ import annotations

from dataclasses import dataclass

from swarm_learning.envvars import env_bool, env_seconds


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
            make_me_admin=env_bool("SL_MAKE_ME_ADMIN", True),
            full_quorum_wait_s=env_seconds("SL_WAIT_FOR_FULL_QUORUM_SECONDS", 30.0),
            leader_failure_timeout_s=env_seconds("SL_LEADER_FAILURE_BASE_TIMEOUT", 600.0),
            heartbeat_s=env_seconds("SL_HEARTBEAT_SECONDS", 10.0),
            peer_stale_s=env_seconds("SL_PEER_STALE_SECONDS", 45.0),
            ram_intensive=env_bool("SL_RAM_INTENSIVE", True),
        )
