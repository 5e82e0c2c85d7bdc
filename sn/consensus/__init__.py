"""Consensus for a network of SNs: each SN supervises one etcd member, and the chain's entries are ordered in etcd.

- ``binary``: find the etcd binary and its version.
- ``etcd_member``: start, join, restart and stop the SN's own etcd member (mTLS peer port, loopback client port).
- ``membership``: add a learner, promote it, remove a member (called by the SN whose member is asked).
- ``entry_log``: key layout and encoding of the shared entry log.
- ``etcd_sink``: ``EtcdSink`` (an asynchronous ``EntrySink``) and ``EntryFollower`` (applies the log in order).
"""

from sn.consensus.binary import EtcdBinary, find_etcd
from sn.consensus.errors import ConsensusError, MembershipRetryable
from sn.consensus.etcd_member import EtcdMember, JoinPlan, MemberConfig
from sn.consensus.etcd_sink import EntryFollower, EtcdSink
from sn.consensus.membership import (
    Member,
    MemberStatus,
    add_learner,
    list_members,
    member_status,
    promote,
    remove_member,
)

__all__ = [
    "ConsensusError",
    "EntryFollower",
    "EtcdBinary",
    "EtcdMember",
    "EtcdSink",
    "JoinPlan",
    "Member",
    "MemberConfig",
    "MemberStatus",
    "MembershipRetryable",
    "add_learner",
    "find_etcd",
    "list_members",
    "member_status",
    "promote",
    "remove_member",
]
