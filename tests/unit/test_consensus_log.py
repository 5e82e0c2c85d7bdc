"""The shared entry log's keys and encoding, and finding the etcd binary (no etcd process needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import rlp

from sn.chain.engine import LedgerEntry
from sn.consensus import binary
from sn.consensus.entry_log import EntryLog, UnsupportedEntryFormat, decode_entry, encode_entry
from sn.consensus.errors import ConsensusError
from swarm_learning.errors import ChainError, ConfigurationError


def test_an_entry_survives_the_round_trip_through_the_log_encoding() -> None:
    entry = LedgerEntry(1_700_000_000_123, (b"\x02\xf8first", b"", b"\x02" * 5000))
    assert decode_entry(encode_entry(entry)) == entry
    assert decode_entry(encode_entry(LedgerEntry(0, ()))) == LedgerEntry(0, ())


def test_garbage_or_a_future_format_is_refused_as_a_consensus_error() -> None:
    with pytest.raises(ConsensusError, match="undecodable"):
        decode_entry(b"\xff\x00not rlp")
    with pytest.raises(UnsupportedEntryFormat, match="upgrade"):
        decode_entry(rlp.encode([2, 5, []]))
    assert issubclass(ConsensusError, ChainError)


def test_log_keys_sort_in_sequence_order_and_stay_inside_the_network_prefix() -> None:
    log = EntryLog("net-1")
    keys = [log.key(n) for n in (1, 2, 9, 10, 11, 100, 12345)]
    assert sorted(keys) == keys
    assert all(log.prefix < key < log.prefix_end for key in keys)
    assert [log.seq_of(k) for k in keys] == [1, 2, 9, 10, 11, 100, 12345]
    assert not EntryLog("net-10").prefix.startswith(log.prefix)
    with pytest.raises(ConsensusError):
        log.seq_of(log.prefix + b"abc")
    with pytest.raises(ConsensusError):
        log.key(0)


@pytest.mark.parametrize("bad", ["", "a/b", "has space", "-leading", "x" * 64])
def test_a_network_id_that_could_escape_its_prefix_is_refused(bad: str) -> None:
    with pytest.raises(ConsensusError, match="network id"):
        EntryLog(bad)


def test_a_missing_etcd_binary_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(binary.ENV_VAR, str(tmp_path / "no-such-etcd"))
    binary.find_etcd.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match="apt-get install etcd-server"):
            binary.find_etcd()
    finally:
        binary.find_etcd.cache_clear()


def test_the_known_bad_etcd_releases_are_flagged() -> None:
    assert binary.EtcdBinary(Path("etcd"), (3, 5, 1)).known_bad
    assert not binary.EtcdBinary(Path("etcd"), (3, 4, 23)).known_bad
    assert not binary.EtcdBinary(Path("etcd"), (3, 5, 3)).known_bad
