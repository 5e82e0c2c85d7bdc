"""An SN whose chain data directory is damaged or rewritten notices at start, sets it aside and rebuilds from the
network's entry log; an intact one (or one whose state cache alone is damaged) is used as it is.

One real etcd member for the module; every test writes its own network's log (its own network id) through a
reference SN, then tampers with that SN's chain directory. Without an etcd binary these tests fail and say what to
install.
"""

from __future__ import annotations

import itertools
import logging
import random
import shutil
import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak

from sn.chain.engine import EmbeddedChain, LedgerEntry
from sn.chain.journal import Journal, JournalRecord
from sn.chain.statecache import StateCache
from sn.consensus import ConsensusError, EntryFollower, EtcdMember, EtcdSink, MemberConfig, find_etcd
from sn.consensus.resync import EntryLogUnavailable, open_chain_checked
from swarm_learning.errors import ConfigurationError
from tests.conftest import CertFactory
from tests.unit.chain_txs import signed

WAIT = 30.0  # seconds: the bound of every wait in this file
ALICE, BOB, CAROL = (Account.from_key(keccak(f"resync {who}".encode())) for who in ("alice", "bob", "carol"))
_network_ids = itertools.count(1)


# What the network agreed on. Entry 2 offers a second transaction with a used nonce: the engine leaves it out, and
# an intact directory must still be recognised as the network's. Entry 3 repeats its parent's timestamp.
ENTRIES = [
    LedgerEntry(1_000, (signed(ALICE, 0),)),
    LedgerEntry(2_000, (signed(BOB, 0), signed(BOB, 0, to=b"\x22" * 20))),
    LedgerEntry(2_000, ()),
    LedgerEntry(3_000, (signed(CAROL, 0),)),
    LedgerEntry(4_000, (signed(ALICE, 1),)),
    LedgerEntry(5_000, (signed(BOB, 1),)),
]
FOREIGN_TX = signed(CAROL, 0, to=b"\x33" * 20)  # valid, but in no network's log


def free_port() -> int:
    """A port below 32768 (outside the kernel's ephemeral range) that nothing listens on right now."""
    for _ in range(200):
        port = random.randint(20_000, 32_767)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below 32768")


@pytest.fixture(scope="module")
def member(swarm_ca: CertFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdMember]:
    try:
        find_etcd()
    except ConfigurationError as exc:
        pytest.fail(f"these tests need a real etcd: {exc}", pytrace=False)
    root = tmp_path_factory.mktemp("resync-sn")
    paths = swarm_ca.paths("sn-resync")
    for attempt in range(3):
        etcd = EtcdMember(
            MemberConfig(
                name="sn-resync",
                data_dir=root,
                peer_host="127.0.0.1",
                peer_port=free_port(),
                client_port=free_port(),
                cert=paths.cert,
                key=paths.key,
                capath=swarm_ca.capath,
                network_id="resync",
                listen_host="127.0.0.1",
            )
        )
        try:
            etcd.start(timeout=WAIT)
            break
        except ConsensusError as exc:
            if "address already in use" not in str(exc) or attempt == 2:
                raise
    try:
        yield etcd
    finally:
        etcd.stop()


@dataclass
class Network:
    """One network's log in the module's etcd member, and the chain directory of an SN that followed it."""

    member: EtcdMember
    network_id: str
    chain_dir: Path
    height: int
    head: bytes

    def follow(self, chain: EmbeddedChain) -> None:
        """Let an entry follower bring ``chain`` up to the network's height."""
        follower = EntryFollower(chain, self.member.client_url, self.network_id, poll_interval=0.2)
        follower.start()
        try:
            follower.wait_applied(self.height, WAIT)
        finally:
            follower.stop()

    def open_checked(self, **kwargs: float) -> EmbeddedChain:
        return open_chain_checked(self.chain_dir, self.member.client_url, self.network_id, timeout=WAIT, **kwargs)

    def quarantined(self) -> list[Path]:
        return sorted(self.chain_dir.parent.glob(f"{self.chain_dir.name}.corrupt-*"))


@pytest.fixture
def network(member: EtcdMember, tmp_path: Path) -> Network:
    """``ENTRIES`` written to a new network's log by an SN whose chain directory is then closed, ready to damage."""
    network_id = f"resync-{next(_network_ids)}"
    chain_dir = tmp_path / "sn" / "chain"
    chain = EmbeddedChain(chain_dir)
    follower = EntryFollower(chain, member.client_url, network_id, poll_interval=0.2)
    sink = EtcdSink(follower, member.client_url, commit_timeout=WAIT, apply_timeout=WAIT)
    chain.set_sink(sink)
    follower.start()
    try:
        for entry in ENTRIES:
            follower.wait_applied(sink.append(entry), WAIT)
        height, head = chain.height, chain.head().hash
    finally:
        follower.stop()
        sink.close()
        chain.close()
    assert height == len(ENTRIES)
    return Network(member, network_id, chain_dir, height, head)


def forge(folder: Path, entries: list[LedgerEntry]) -> Path:
    """A self-consistent chain directory made from ``entries`` (valid checksums, links and block hashes)."""
    chain = EmbeddedChain(folder)
    for entry in entries:
        chain.apply(entry)
    chain.close()
    return folder


def install(forged: Path, chain_dir: Path) -> None:
    """Replace the SN's journal and state cache by the forged ones."""
    for name in (Journal.FILE_NAME, StateCache.FILE_NAME):
        shutil.copyfile(forged / name, chain_dir / name)


def record_spans(journal: Path) -> list[tuple[int, int]]:
    """(start, end) byte offsets of every journal record."""
    data, spans, offset = journal.read_bytes(), [], 0
    while offset < len(data):
        length, _ = struct.unpack_from(">II", data, offset)
        spans.append((offset, offset + 8 + length))
        offset += 8 + length
    return spans


def assert_resynchronised(
    network: Network, chain: EmbeddedChain, damaged: dict[str, bytes], caplog: pytest.LogCaptureFixture, why: str
) -> None:
    """The damaged directory was moved aside untouched, an ERROR said so, and the new chain catches up."""
    assert chain.height == 0
    [moved] = network.quarantined()
    for name, content in damaged.items():
        assert (moved / name).read_bytes() == content  # kept for the operator, as it was
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR and r.name == "sn.consensus.resync"]
    assert len(errors) == 1, errors
    assert why in errors[0] and str(moved) in errors[0] and "rebuilding the chain" in errors[0], errors[0]
    network.follow(chain)
    assert chain.height == network.height and chain.head().hash == network.head
    chain.close()


def test_an_intact_chain_directory_is_used_as_it_is(network: Network, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        chain = network.open_checked()
    assert chain.height == network.height and chain.head().hash == network.head
    assert network.quarantined() == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    network.follow(chain)  # the follower resumes on it (nothing to apply, nothing refused)
    assert chain.head().hash == network.head
    chain.close()


def test_a_byte_flipped_inside_the_journal_sets_the_directory_aside_and_resyncs(
    network: Network, caplog: pytest.LogCaptureFixture
) -> None:
    journal = network.chain_dir / Journal.FILE_NAME
    start, end = record_spans(journal)[1]
    data = bytearray(journal.read_bytes())
    data[(start + end) // 2] ^= 0x01
    journal.write_bytes(bytes(data))

    chain = network.open_checked()
    assert_resynchronised(network, chain, {Journal.FILE_NAME: bytes(data)}, caplog, "checksum mismatch")


def _replaced_transaction(tmp: Path) -> Path:
    return forge(tmp, [*ENTRIES[:3], LedgerEntry(ENTRIES[3].timestamp, (FOREIGN_TX,)), *ENTRIES[4:]])


def _replaced_timestamp(tmp: Path) -> Path:
    return forge(tmp, [*ENTRIES[:3], LedgerEntry(3_001, ENTRIES[3].raw_txs), *ENTRIES[4:]])


def _cut_at_a_record_and_extended(tmp: Path) -> Path:
    return forge(tmp, [*ENTRIES[:-1], LedgerEntry(ENTRIES[-1].timestamp, (FOREIGN_TX,))])


def _blocks_the_network_never_committed(tmp: Path) -> Path:
    return forge(tmp, [*ENTRIES, LedgerEntry(9_000, (signed(CAROL, 1),))])


@pytest.mark.parametrize(
    ("rewrite", "why"),
    [
        (_replaced_transaction, "block 4 holds transactions that entry 4 of the network's log does not offer"),
        (_replaced_timestamp, "block 4 has timestamp 3001 but entry 4 of the network's log makes it 3000"),
        (_cut_at_a_record_and_extended, "block 6 lacks transactions that entry 6 of the network's log adds"),
        (_blocks_the_network_never_committed, "log holds 6 entries but the local chain has 7 blocks"),
    ],
    ids=["a-block-with-another-transaction", "a-block-with-another-timestamp", "cut-and-extended", "extra-blocks"],
)
def test_a_consistently_rewritten_chain_directory_is_caught_and_resynced(
    network: Network,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    rewrite: Callable[[Path], Path],
    why: str,
) -> None:
    install(rewrite(tmp_path / "forged"), network.chain_dir)
    forged_journal = (network.chain_dir / Journal.FILE_NAME).read_bytes()
    accepted = EmbeddedChain(network.chain_dir)  # the engine alone accepts it: checksums, links and hashes hold
    assert accepted.height >= network.height
    accepted.close()

    chain = network.open_checked(settle=0.5)
    assert_resynchronised(network, chain, {Journal.FILE_NAME: forged_journal}, caplog, why)


def test_a_journal_record_rewritten_behind_the_state_cache_is_caught(
    network: Network, caplog: pytest.LogCaptureFixture
) -> None:
    journal = network.chain_dir / Journal.FILE_NAME
    data = journal.read_bytes()
    start, end = record_spans(journal)[3]
    original = JournalRecord.decode(data[start + 8 : end])
    rewritten = JournalRecord(
        original.block_number, original.parent_hash, original.timestamp + 1, original.raw_txs, original.block_hash
    )
    data = data[:start] + rewritten.encode() + data[end:]  # a fresh checksum: only the content is wrong
    journal.write_bytes(data)
    accepted = EmbeddedChain(network.chain_dir)  # restored from the state cache: the record is never re-executed
    assert accepted.head().hash == network.head
    accepted.close()

    chain = network.open_checked()
    assert_resynchronised(network, chain, {Journal.FILE_NAME: data}, caplog, "journal record 4 does not describe")


def test_a_damaged_state_cache_only_costs_a_replay_not_a_resync(
    network: Network, caplog: pytest.LogCaptureFixture
) -> None:
    cache = network.chain_dir / StateCache.FILE_NAME
    data = bytearray(cache.read_bytes())
    data[len(data) // 2] ^= 0xFF
    cache.write_bytes(bytes(data))

    with caplog.at_level(logging.INFO):
        chain = network.open_checked()
    assert chain.height == network.height and chain.head().hash == network.head
    assert "replayed" in caplog.text  # the engine fell back to re-executing the journal
    assert network.quarantined() == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    chain.close()


def test_an_unreadable_log_refuses_to_start_and_moves_nothing(network: Network, tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(EntryLogUnavailable, match="could not read the network's entry log"):
        open_chain_checked(network.chain_dir, nobody, network.network_id, timeout=1.0)
    assert network.quarantined() == []
    again = EmbeddedChain(network.chain_dir)  # and it still opens, as it was
    assert again.head().hash == network.head
    again.close()

    new = open_chain_checked(tmp_path / "new" / "chain", nobody, network.network_id, timeout=1.0)
    assert new.height == 0  # an empty directory has nothing to check: no etcd needed
    new.close()


def test_rebuilding_a_block_to_compare_it_leaves_the_chain_untouched(network: Network, tmp_path: Path) -> None:
    chain = EmbeddedChain(network.chain_dir)
    assert chain.rebuild_block(2, ENTRIES[1]).hash == chain.header_at(2).hash  # the left-out transaction again
    assert chain.rebuild_block(6, LedgerEntry(ENTRIES[5].timestamp, ())).hash != chain.header_at(6).hash
    assert chain.height == network.height and chain.head().hash == network.head
    assert chain.nonce(bytes.fromhex(BOB.address[2:])) == 2

    after = LedgerEntry(9_000, (signed(CAROL, 1),))
    made = chain.apply(after).hash  # it goes on exactly as a chain that never rebuilt anything
    chain.close()
    plain = EmbeddedChain(forge(tmp_path / "plain", [*ENTRIES, after]))
    assert plain.head().hash == made
    plain.close()
    reopened = EmbeddedChain(network.chain_dir)  # and its state cache holds nothing from the scratch chain
    assert reopened.head().hash == made
    reopened.close()
