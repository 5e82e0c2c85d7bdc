"""Errors of the SN network's consensus layer (they belong under ``ChainError`` in ``swarm_learning.errors``)::

ChainError
└── ConsensusError             the etcd member or the shared entry log refused or failed
    └── MembershipRetryable    a membership change the cluster refused for now (try again after a pause)
"""

from __future__ import annotations

from swarm_learning.errors import ChainError


class ConsensusError(ChainError):
    code = "SL-1310"


class MembershipRetryable(ConsensusError):
    """The cluster refused a membership change for a reason that passes (unhealthy, learner not in sync, busy)."""

    code = "SL-1311"
