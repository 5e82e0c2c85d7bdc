"""The embedded chain engine: deterministic blocks from ledger entries, durable journal, pluggable entry sink."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak

from sn.chain.engine import EmbeddedChain, LedgerEntry
from sn.chain.genesis import CHAIN_ID
from sn.chain.journal import Journal
from sn.chain.statecache import StateCache
from swarm_learning.errors import ChainError

ALICE = Account.from_key(keccak(b"swarm test alice"))
BOB = Account.from_key(keccak(b"swarm test bob"))
# init code that stores 42 in slot 0 and deploys an empty contract; then a plain zero-value transfer
STORE_42 = bytes.fromhex("602a60005560006000f3")
# init code deploying the runtime PUSH0 PUSH0 REVERT (every call reverts, without a reason)
REVERTER_INIT = bytes.fromhex("6003600c60003960036000f35f5ffd")


def signed(
    account: object, nonce: int, to: bytes | str = b"", data: bytes = b"", gas: int = 200_000
) -> bytes:
    tx = {
        "type": 2,
        "chainId": CHAIN_ID,
        "nonce": nonce,
        "to": to,
        "value": 0,
        "gas": gas,
        "maxFeePerGas": 0,
        "maxPriorityFeePerGas": 0,
        "data": data,
    }
    return bytes(account.sign_transaction(tx).raw_transaction)  # type: ignore[attr-defined]


def fixed_entries() -> list[LedgerEntry]:
    return [
        LedgerEntry(1_000, (signed(ALICE, 0, data=STORE_42),)),
        LedgerEntry(1_005, (signed(ALICE, 1, to=BOB.address), signed(BOB, 0, to=ALICE.address))),
        LedgerEntry(1_005, ()),  # same timestamp as its parent: the engine bumps it to parent + 1
    ]


# Pinned so that a change of py-evm, genesis or encoding that would fork existing SN networks is noticed.
EXPECTED_HEAD_HASH = "0x66d4ea5254746bd84db17a657f460aff8d42ced24a690067cdb1ca1027d93a62"


def test_identical_entries_give_identical_blocks_on_any_machine(tmp_path: Path) -> None:
    one, two = EmbeddedChain(tmp_path / "one"), EmbeddedChain(tmp_path / "two")
    for entry in fixed_entries():
        assert one.apply(entry).hash == two.apply(entry).hash
    head = one.head()
    assert head.block_number == 3
    assert head.timestamp == 1_006
    assert "0x" + head.hash.hex() == EXPECTED_HEAD_HASH


def test_fee_free_transactions_need_no_balance() -> None:
    chain = EmbeddedChain()
    stranger = Account.create()
    tx_hash = chain.submit(signed(stranger, 0, to=BOB.address))
    assert chain.transaction_location(tx_hash) == (1, 0)
    assert chain.balance(bytes.fromhex(stranger.address[2:])) == 0
    assert chain.head().base_fee_per_gas == 0


def test_each_submitted_transaction_becomes_one_block_with_increasing_timestamps() -> None:
    chain = EmbeddedChain(clock=lambda: 500.0)
    for nonce in range(3):
        chain.submit(signed(ALICE, nonce, to=BOB.address))
    assert chain.height == 3
    assert [chain.header_at(n).timestamp for n in (1, 2, 3)] == [500, 501, 502]


def test_a_reverting_transaction_is_included_with_status_zero() -> None:
    chain = EmbeddedChain()
    chain.submit(signed(ALICE, 0, data=REVERTER_INIT))
    contract = bytes.fromhex(_contract_address(ALICE.address, 0)[2:])
    tx_hash = chain.submit(signed(ALICE, 1, to=contract))
    number, index = chain.transaction_location(tx_hash) or (0, 0)
    receipt = chain.receipts(chain.block_at(number))[index]
    assert receipt.state_root == b""  # status 0
    assert chain.revert_output(tx_hash) is not None
    assert chain.nonce(bytes.fromhex(ALICE.address[2:])) == 2


def test_invalid_transactions_are_refused_on_submit_and_left_out_of_entries() -> None:
    chain = EmbeddedChain()
    with pytest.raises(ChainError, match="nonce 5 is wrong"):
        chain.submit(signed(ALICE, 5, to=BOB.address))
    with pytest.raises(ChainError, match="malformed"):
        chain.submit(b"\x02not a transaction")
    block = chain.apply(LedgerEntry(10, (signed(ALICE, 0, to=BOB.address), signed(ALICE, 0, to=BOB.address))))
    assert len(block.included) == 1
    assert len(block.skipped) == 1 and "nonce" in block.skipped[0][1]
    assert chain.height == 1


def test_a_block_with_a_left_out_transaction_replays_identically(tmp_path: Path) -> None:
    chain = EmbeddedChain(tmp_path)
    twice = signed(ALICE, 0, to=BOB.address)
    chain.apply(LedgerEntry(10, (twice, twice, signed(BOB, 7, to=ALICE.address))))
    head = chain.head().hash
    chain.close()
    (tmp_path / StateCache.FILE_NAME).unlink()  # force re-execution
    assert EmbeddedChain(tmp_path).head().hash == head


def test_history_survives_a_restart(tmp_path: Path) -> None:
    chain = EmbeddedChain(tmp_path)
    chain.submit(signed(ALICE, 0, data=STORE_42))
    chain.submit(signed(ALICE, 1, to=BOB.address))
    head, contract = chain.head(), bytes.fromhex(_contract_address(ALICE.address, 0)[2:])
    chain.close()

    again = EmbeddedChain(tmp_path)
    assert again.head().hash == head.hash
    assert again.storage_at(contract, 0) == 42
    again.submit(signed(ALICE, 2, to=BOB.address))  # and it goes on from there
    assert again.height == 3


def test_a_restart_restores_the_state_cache_instead_of_re_executing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    chain = EmbeddedChain(tmp_path)
    chain.submit(signed(ALICE, 0, data=STORE_42))
    chain.submit(signed(ALICE, 1, to=BOB.address))
    head = chain.head().hash
    chain.close()
    with caplog.at_level(logging.INFO, logger="sn.chain.engine"):
        again = EmbeddedChain(tmp_path)
    assert again.head().hash == head
    assert "restored the chain state at block 2" in caplog.text and "replayed" not in caplog.text
    assert again.storage_at(bytes.fromhex(_contract_address(ALICE.address, 0)[2:]), 0) == 42


def test_a_damaged_or_foreign_state_cache_only_costs_a_replay(tmp_path: Path) -> None:
    chain = EmbeddedChain(tmp_path / "mine")
    for nonce in range(3):
        chain.submit(signed(ALICE, nonce, to=BOB.address))
    head = chain.head().hash
    chain.close()
    cache = tmp_path / "mine" / StateCache.FILE_NAME
    data = bytearray(cache.read_bytes())
    data[len(data) // 2] ^= 0xFF
    cache.write_bytes(bytes(data))
    assert EmbeddedChain(tmp_path / "mine").head().hash == head

    foreign = EmbeddedChain(tmp_path / "foreign")
    foreign.submit(signed(BOB, 0, to=ALICE.address))
    foreign.close()
    cache.write_bytes((tmp_path / "foreign" / StateCache.FILE_NAME).read_bytes())
    assert EmbeddedChain(tmp_path / "mine").head().hash == head


def test_a_torn_last_record_is_dropped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    chain = EmbeddedChain(tmp_path)
    chain.submit(signed(ALICE, 0, to=BOB.address))
    kept = chain.head().hash
    chain.submit(signed(ALICE, 1, to=BOB.address))
    chain.close()
    journal = tmp_path / Journal.FILE_NAME
    journal.write_bytes(journal.read_bytes()[:-7])  # the crash cut the last write short

    with caplog.at_level(logging.WARNING):
        again = EmbeddedChain(tmp_path)
    assert again.head().hash == kept
    assert "torn last record" in caplog.text
    again.submit(signed(ALICE, 1, to=BOB.address))
    again.close()
    assert EmbeddedChain(tmp_path).height == 2


def test_damage_before_the_last_record_refuses_to_start(tmp_path: Path) -> None:
    chain = EmbeddedChain(tmp_path)
    chain.submit(signed(ALICE, 0, to=BOB.address))
    chain.submit(signed(ALICE, 1, to=BOB.address))
    chain.close()
    journal = tmp_path / Journal.FILE_NAME
    data = bytearray(journal.read_bytes())
    data[20] ^= 0xFF
    journal.write_bytes(bytes(data))
    with pytest.raises(ChainError, match="corrupted"):
        EmbeddedChain(tmp_path)


def test_replay_checks_that_blocks_link_to_their_parents(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    a = EmbeddedChain(first)
    a.apply(LedgerEntry(100, (signed(ALICE, 0, to=BOB.address),)))
    a.close()
    b = EmbeddedChain(second)
    b.apply(LedgerEntry(100, (signed(BOB, 0, to=ALICE.address),)))
    b.apply(LedgerEntry(101, (signed(BOB, 1, to=ALICE.address),)))
    b.close()
    # splice: first's block 1 followed by second's block 2 (whose parent is second's block 1)
    records = list(Journal(second).read_all())
    Journal(first).append(records[1])
    with pytest.raises(ChainError, match="does not link"):
        EmbeddedChain(first)


class CollectingSink:
    """Stands in for a consensus log: entries wait until the test delivers them."""

    synchronous = False

    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []

    def propose(self, entry: LedgerEntry) -> None:
        self.entries.append(entry)


def test_a_pluggable_sink_receives_entries_and_apply_makes_them_blocks() -> None:
    chain = EmbeddedChain()
    sink = CollectingSink()
    chain.set_sink(sink)
    alice = bytes.fromhex(ALICE.address[2:])
    first = chain.submit(signed(ALICE, 0, to=BOB.address))
    second = chain.submit(signed(ALICE, 1, to=BOB.address))  # the pending nonce counts in-flight entries
    assert chain.height == 0 and chain.nonce(alice, "pending") == 2
    for entry in sink.entries:
        chain.apply(entry)
    assert chain.transaction_location(first) == (1, 0)
    assert chain.transaction_location(second) == (2, 0)


def test_waiters_wake_up_when_the_chain_grows() -> None:
    chain = EmbeddedChain()
    assert chain.wait_for_height(0, timeout=0.05) == 0
    result: list[int] = []
    started = threading.Event()

    def wait() -> None:
        started.set()
        result.append(chain.wait_for_height(0, timeout=10))

    waiter = threading.Thread(target=wait)
    waiter.start()
    started.wait(5)
    chain.submit(signed(ALICE, 0, to=BOB.address))
    waiter.join(10)
    assert result == [1]


def test_concurrent_submitters_are_serialised() -> None:
    chain = EmbeddedChain()
    accounts = [Account.from_key(keccak(f"worker {i}".encode())) for i in range(4)]
    errors: list[BaseException] = []

    def work(account: object) -> None:
        try:
            for nonce in range(3):
                chain.submit(signed(account, nonce, to=BOB.address))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a,)) for a in accounts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert chain.height == 12


def _contract_address(sender: str, nonce: int) -> str:
    from eth._utils.address import generate_contract_address
    from eth_typing import Address

    return "0x" + generate_contract_address(Address(bytes.fromhex(sender[2:])), nonce).hex()
