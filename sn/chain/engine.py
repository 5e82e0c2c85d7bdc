"""The embedded chain: a deterministic py-evm (Cancun) chain that advances only by applying ledger entries.

Write path::

    submit(raw_tx) --validate--> make_entry() --> EntrySink.propose(entry) --> ... --> apply(entry)

``LocalSink`` (the default) applies the entry at once. A consensus log (e.g. etcd, for a network of SNs) can be
plugged in instead: it must deliver every proposed entry, in one agreed order, to ``apply`` on every SN.
``apply`` turns one entry into exactly one block: its transactions in order, at timestamp
``max(entry.timestamp, parent.timestamp + 1)``. A transaction that reverts is included (receipt status 0); a
transaction that is invalid at that point (bad signature or chain id, wrong nonce, too much gas, block full) is
left out, the same way on every SN. Applied entries are appended to the journal (fsync'ed) and replayed at start;
the state cache (``statecache``) lets a restart skip re-executing the blocks it covers.

One re-entrant lock guards the EVM: every public method may be called from any thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI
from eth.db.atomic import AtomicDB
from eth.db.batch import BatchDB
from eth.exceptions import BlockNotFound, HeaderNotFound, TransactionNotFound
from eth.vm.spoof import SpoofTransaction
from eth_utils import ValidationError

from sn.chain.genesis import (
    BLOCK_GAS_LIMIT,
    BLOCK_GAS_TARGET,
    CHAIN_ID,
    MAX_TX_GAS,
    SwarmChain,
    genesis_params,
)
from sn.chain.journal import Journal, JournalRecord
from sn.chain.statecache import RecordingDB, StateCache, live_size
from swarm_learning.errors import ChainError

logger = logging.getLogger(__name__)

COMPACT_CHECK_EVERY = 1_000  # blocks
COMPACT_MIN_BYTES = 8 * 2**20


@dataclass(frozen=True)
class LedgerEntry:
    """What consensus agrees on: one future block (its timestamp and its signed raw transactions, in order)."""

    timestamp: int
    raw_txs: tuple[bytes, ...]


@dataclass(frozen=True)
class AppliedBlock:
    number: int
    hash: bytes
    timestamp: int
    included: tuple[bytes, ...]  # transaction hashes, in block order
    skipped: tuple[tuple[bytes, str], ...] = ()  # (raw transaction, why it was left out)


class EntrySink(Protocol):
    """Where ``submit`` sends new entries. ``synchronous`` sinks are called with the EVM lock held and must apply
    the entry before returning; asynchronous ones are called without the lock and apply it later."""

    synchronous: bool

    def propose(self, entry: LedgerEntry) -> None: ...

    def catch_up(self, timeout: float) -> None:
        """Return once this chain has applied every entry the network committed before the call."""


class LocalSink:
    """A single SN: every entry is applied at once."""

    synchronous = True

    def __init__(self, chain: EmbeddedChain) -> None:
        self._chain = chain

    def propose(self, entry: LedgerEntry) -> None:
        self._chain.apply(entry)

    def catch_up(self, timeout: float) -> None:
        return None  # one SN: everything committed is applied


class ExecutionFailed(ChainError):
    """A call or gas estimate failed inside the EVM; ``output`` holds the revert data (may be empty)."""

    def __init__(self, message: str, output: bytes = b"", reverted: bool = False) -> None:
        super().__init__(message)
        self.output = output
        self.reverted = reverted


@dataclass
class _Pending:
    """Next nonces of transactions proposed to an asynchronous sink but not applied yet."""

    next_nonce: dict[bytes, int] = field(default_factory=dict)


TICKS_PER_SECOND = 1000
"""Block timestamps count milliseconds: a chain makes several blocks a second, and each block must be later than
its parent, so second-resolution timestamps would run ahead of the wall clock during busy rounds."""


def wall_clock_ticks() -> float:
    return time.time() * TICKS_PER_SECOND


class EmbeddedChain:
    """A deterministic single-writer chain; see the module docstring."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        sink: EntrySink | None = None,
        clock: Callable[[], float] = wall_clock_ticks,
    ) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(threading.Lock())
        self._clock = clock
        self._db, self._chain = self._genesis()
        self._reverts: dict[bytes, bytes] = {}
        self._block_reverts: dict[bytes, bytes] = {}
        self._pending = _Pending()
        self._broken: str | None = None
        self._sink: EntrySink = sink or LocalSink(self)
        self._journal: Journal | None = None
        self._cache: StateCache | None = None
        if data_dir is not None:
            self._journal = Journal(Path(data_dir))
            self._cache = StateCache(Path(data_dir))
            records = list(self._journal.read_all())
            restored = self._restore(self._cache, records)
            self._replay(records[restored:], self._journal.path)
            self._maybe_compact()
        self._height = int(self._chain.get_canonical_head().block_number)

    @classmethod
    def open(cls, data_dir: Path | None, *, sink: EntrySink | None = None) -> EmbeddedChain:
        return cls(data_dir, sink=sink)

    def set_sink(self, sink: EntrySink) -> None:
        self._sink = sink

    def catch_up(self, timeout: float = 30.0) -> None:
        """Wait until every entry committed anywhere in the network before this call is applied here.

        Call it before reading state that another SN may have just changed, e.g. an account's next nonce when the
        same identity wrote through another SN a moment ago.
        """
        self._sink.catch_up(timeout)

    def close(self) -> None:
        with self._lock:
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            if self._cache is not None:
                self._cache.close()
                self._cache = None

    @staticmethod
    def _genesis() -> tuple[RecordingDB, Any]:
        db = RecordingDB()
        chain = SwarmChain.from_genesis(AtomicDB(db), genesis_params())
        db.take_changes()  # genesis is rebuilt at every start, so it never goes into the state cache
        return db, chain

    # ------------------------------------------------------------------------------------------------ writing

    def submit(self, raw_tx: bytes) -> bytes:
        """Validate ``raw_tx`` against the head state, propose it as a new entry; return its hash."""
        sink = self._sink
        with self._lock:
            self._check_writable()
            tx = self._decode(raw_tx)
            self._check_static(tx)
            self._check_against_head(tx, allow_in_flight=not sink.synchronous)
            entry = self.make_entry((raw_tx,))
            if sink.synchronous:
                sink.propose(entry)
                if self.transaction_location(tx.hash) is None:
                    raise ChainError("the transaction was left out of its block (see the log for why)")
                return tx.hash
            self._pending.next_nonce[tx.sender] = tx.nonce + 1
        try:
            sink.propose(entry)
        except BaseException:
            with self._lock:  # not in flight any more: the sender's next transaction may reuse this nonce
                if self._pending.next_nonce.get(tx.sender) == tx.nonce + 1:
                    del self._pending.next_nonce[tx.sender]
            raise
        return tx.hash

    def make_entry(self, raw_txs: Sequence[bytes]) -> LedgerEntry:
        """A new entry on top of the current head, timestamped ``max(now, head.timestamp + 1)``."""
        with self._lock:
            head = self._chain.get_canonical_head()
            return LedgerEntry(max(int(self._clock()), head.timestamp + 1), tuple(bytes(tx) for tx in raw_txs))

    def apply(self, entry: LedgerEntry) -> AppliedBlock:
        """Turn ``entry`` into the next block, journal it and wake up waiters."""
        with self._lock:
            self._check_writable()
            return self._apply_locked(entry)

    def _apply_locked(self, entry: LedgerEntry) -> AppliedBlock:
        parent = self._chain.get_canonical_head()
        block, included_raw = self._execute(entry)
        if self._journal is not None:
            record = JournalRecord(block.number, parent.hash, block.timestamp, included_raw, block.hash)
            try:
                self._journal.append(record)
            except OSError as exc:
                self._broken = f"could not write the ledger journal: {exc}"
                logger.error("ledger journal write failed at block %s: %s", block.number, exc)
                raise ChainError(self._broken) from exc
        self._remember_state(block)
        with self._changed:
            self._height = block.number
            self._changed.notify_all()
        return block

    def _execute(self, entry: LedgerEntry) -> tuple[AppliedBlock, tuple[bytes, ...]]:
        """Build, mine and persist the block of ``entry``; also return the raw transactions it includes."""
        chain = self._chain
        parent = chain.get_canonical_head()
        timestamp = max(int(entry.timestamp), parent.timestamp + 1)
        chain.header = chain.create_header_from_parent(parent, gas_limit=BLOCK_GAS_LIMIT, timestamp=timestamp)
        included: list[bytes] = []
        included_raw: list[bytes] = []
        skipped: list[tuple[bytes, str]] = []
        reserved = 0
        for raw in entry.raw_txs:
            try:
                tx = self._decode(raw)
                self._check_static(tx)
                if reserved + tx.gas > BLOCK_GAS_TARGET:
                    raise ChainError("block is full")
                _, _, computation = chain.apply_transaction(tx)
            except (ChainError, ValidationError) as exc:
                skipped.append((raw, str(exc)))
                logger.warning("leaving a transaction out of block %s: %s", parent.block_number + 1, exc)
                continue
            reserved += tx.gas
            included.append(tx.hash)
            included_raw.append(bytes(raw))
            if computation.is_error:
                self._reverts[tx.hash] = self._block_reverts[tx.hash] = bytes(computation.output)
            self._forget_pending(tx)
        block = chain.mine_block()
        applied = AppliedBlock(block.number, block.hash, block.header.timestamp, tuple(included), tuple(skipped))
        return applied, tuple(included_raw)

    def _forget_pending(self, tx: SignedTransactionAPI) -> None:
        expected = self._pending.next_nonce.get(tx.sender)
        if expected is not None and expected <= tx.nonce + 1:
            del self._pending.next_nonce[tx.sender]

    def _remember_state(self, block: AppliedBlock) -> None:
        changes = self._db.take_changes()
        reverts, self._block_reverts = self._block_reverts, {}
        if self._cache is None:
            return
        try:
            self._cache.append(block.number, block.hash, changes, reverts)
        except OSError as exc:
            logger.warning("state cache disabled (restarts will replay every block): %s", exc)
            self._cache.reset()
            self._cache = None
            return
        if block.number % COMPACT_CHECK_EVERY == 0:
            self._maybe_compact()

    def _maybe_compact(self) -> None:
        cache = self._cache
        if cache is None or cache.size() < COMPACT_MIN_BYTES:
            return
        if cache.size() > 2 * live_size(self._db.kv_store):
            head = self._chain.get_canonical_head()
            cache.rewrite(head.block_number, head.hash, self._db.kv_store, self._reverts)
            logger.info("compacted the state cache at block %s", head.block_number)

    def _restore(self, cache: StateCache, records: list[JournalRecord]) -> int:
        """Load the state cache if it matches the journal; return how many journal records it covers."""
        cached = cache.load()
        if cached is None:
            cache.reset()
            return 0
        height = cached.height
        if height > len(records) or records[height - 1].block_hash != cached.block_hash:
            logger.warning("state cache %s does not match the journal; replaying every block", cache.path)
            cache.reset()
            return 0
        store = self._db.kv_store
        for key, value in cached.kv.items():
            if value is None:
                store.pop(key, None)
            else:
                store[key] = value
        chain = SwarmChain(AtomicDB(self._db))
        if chain.get_canonical_head().hash != cached.block_hash:
            logger.warning("state cache %s is inconsistent; replaying every block", cache.path)
            self._db, self._chain = self._genesis()
            cache.reset()
            return 0
        self._chain = chain
        self._reverts.update(cached.reverts)
        logger.info("restored the chain state at block %s from %s", height, cache.path)
        return height

    def _replay(self, records: list[JournalRecord], source: Path) -> None:
        started = time.perf_counter()
        for record in records:
            head = self._chain.get_canonical_head()
            if record.block_number != head.block_number + 1 or record.parent_hash != head.hash:
                raise ChainError(
                    f"ledger journal {source} does not link: block {record.block_number} claims "
                    f"parent {record.parent_hash.hex()} but the chain is at {head.block_number} "
                    f"({head.hash.hex()})"
                )
            block, _ = self._execute(LedgerEntry(record.timestamp, record.raw_txs))
            if block.hash != record.block_hash or block.skipped:
                raise ChainError(
                    f"replaying block {record.block_number} of {source} gave hash "
                    f"{block.hash.hex()} instead of {record.block_hash.hex()}; the journal was "
                    "written by an incompatible version or is damaged"
                )
            self._remember_state(block)
        if records:
            logger.info("replayed %s blocks from %s in %.2f s", len(records), source, time.perf_counter() - started)

    def _check_writable(self) -> None:
        if self._broken is not None:
            raise ChainError(f"the chain refuses writes: {self._broken}; restart the SN")

    # --------------------------------------------------------------------------------------------- validation

    def _decode(self, raw_tx: bytes) -> SignedTransactionAPI:
        try:
            builder = self._chain.get_vm().get_transaction_builder()
            tx = builder.decode(bytes(raw_tx))
            tx.validate()
            _ = tx.sender
        except Exception as exc:
            raise ChainError(f"malformed transaction: {exc}") from exc
        return tx

    @staticmethod
    def _check_static(tx: SignedTransactionAPI) -> None:
        chain_id = getattr(tx, "chain_id", None)
        if chain_id is not None and chain_id != CHAIN_ID:
            raise ChainError(f"transaction is for chain id {chain_id}, this chain is {CHAIN_ID}")
        if tx.gas > MAX_TX_GAS:
            raise ChainError(f"transaction gas {tx.gas} is above the cap of {MAX_TX_GAS}")

    def _check_against_head(self, tx: SignedTransactionAPI, *, allow_in_flight: bool) -> None:
        state = self._chain.get_vm(self._chain.get_canonical_head()).state
        expected = state.get_nonce(tx.sender)
        if allow_in_flight:
            expected = max(expected, self._pending.next_nonce.get(tx.sender, 0))
        if tx.nonce != expected:
            raise ChainError(f"transaction nonce {tx.nonce} is wrong: the account's next nonce is {expected}")
        if tx.gas < tx.intrinsic_gas:
            raise ChainError(f"transaction gas {tx.gas} is below its intrinsic gas {tx.intrinsic_gas}")
        price = getattr(tx, "max_fee_per_gas", None)
        cost = tx.value + tx.gas * (price if price is not None else tx.gas_price)
        if state.get_balance(tx.sender) < cost:
            raise ChainError("the sending account cannot pay for the transaction (use gas price 0)")

    # ------------------------------------------------------------------------------------------------ reading

    @property
    def height(self) -> int:
        with self._lock:
            return int(self._chain.get_canonical_head().block_number)

    def head(self) -> BlockHeaderAPI:
        with self._lock:
            return self._chain.get_canonical_head()

    def wait_for_height(self, after_height: int, timeout: float) -> int:
        """Block until the height exceeds ``after_height`` or ``timeout`` seconds pass; return the height."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._changed:
            while True:
                height = self._height
                remaining = deadline - time.monotonic()
                if height > after_height or remaining <= 0:
                    return height
                self._changed.wait(remaining)

    def header_at(self, block: int | bytes | str = "latest") -> BlockHeaderAPI:
        """The header for a number, a hash or one of ``latest``/``pending``/``safe``/``finalized``/``earliest``."""
        with self._lock:
            try:
                if isinstance(block, bytes):
                    return self._chain.get_block_header_by_hash(block)
                if block in ("latest", "pending", "safe", "finalized"):
                    return self._chain.get_canonical_head()
                if block == "earliest":
                    return self._chain.get_canonical_block_header_by_number(0)
                return self._chain.get_canonical_block_header_by_number(int(block))
            except (HeaderNotFound, BlockNotFound) as exc:
                raise ChainError(f"unknown block {block!r}") from exc

    def block_at(self, block: int | bytes | str = "latest") -> BlockAPI:
        with self._lock:
            return self._chain.get_block_by_header(self.header_at(block))

    def rebuild_block(self, number: int, entry: LedgerEntry) -> AppliedBlock:
        """Block ``number`` as ``apply`` makes it from ``entry`` on top of this chain's block ``number - 1``. It is
        built in a scratch chain whose writes stay in an overlay: this chain is only read, never changed."""
        with self._lock:
            parent = self.header_at(number - 1)
            scratch = EmbeddedChain(clock=self._clock)
            scratch._chain = SwarmChain(AtomicDB(BatchDB(self._db)))
            chaindb = scratch._chain.chaindb
            chaindb.persist_checkpoint_header(parent, chaindb.get_score(parent.hash))  # the scratch head: the parent
            block, _ = scratch._execute(entry)
            return block

    def receipts(self, block: BlockAPI) -> tuple[ReceiptAPI, ...]:
        with self._lock:
            return tuple(block.get_receipts(self._chain.chaindb))

    def transaction_location(self, tx_hash: bytes) -> tuple[int, int] | None:
        """(block number, index in block) of an included transaction, or None."""
        with self._lock:
            try:
                number, index = self._chain.chaindb.get_transaction_index(tx_hash)
            except TransactionNotFound:
                return None
            return int(number), int(index)

    def revert_output(self, tx_hash: bytes) -> bytes | None:
        """The revert data of an included transaction that failed, or None if it succeeded."""
        with self._lock:
            return self._reverts.get(tx_hash)

    def nonce(self, address: bytes, block: int | bytes | str = "latest") -> int:
        with self._lock:
            nonce = int(self._state_at(block).get_nonce(address))
            if block == "pending":
                nonce = max(nonce, self._pending.next_nonce.get(address, 0))
            return nonce

    def balance(self, address: bytes, block: int | bytes | str = "latest") -> int:
        with self._lock:
            return int(self._state_at(block).get_balance(address))

    def code(self, address: bytes, block: int | bytes | str = "latest") -> bytes:
        with self._lock:
            return bytes(self._state_at(block).get_code(address))

    def storage_at(self, address: bytes, slot: int, block: int | bytes | str = "latest") -> int:
        with self._lock:
            return int(self._state_at(block).get_storage(address, slot))

    def _state_at(self, block: int | bytes | str) -> Any:
        return self._chain.get_vm(self.header_at(block)).state

    # ---------------------------------------------------------------------------------------------- execution

    def call(
        self,
        *,
        sender: bytes,
        to: bytes,
        data: bytes = b"",
        value: int = 0,
        gas: int | None = None,
        block: int | bytes | str = "latest",
    ) -> bytes:
        """Execute a message without a transaction (eth_call); raise ``ExecutionFailed`` on revert or error."""
        with self._lock:
            computation = self._simulate(sender, to, data, value, gas or MAX_TX_GAS, block)
        if computation.is_error:
            raise self._failure(computation)
        return bytes(computation.output)

    def estimate_gas(
        self,
        *,
        sender: bytes,
        to: bytes,
        data: bytes = b"",
        value: int = 0,
        block: int | bytes | str = "latest",
    ) -> int:
        """Gas a transaction needs: one run at the cap, then a check run at the estimate (rarely a search)."""
        with self._lock:
            computation = self._simulate(sender, to, data, value, MAX_TX_GAS, block)
            if computation.is_error:
                raise self._failure(computation)
            needed = MAX_TX_GAS - computation.get_gas_remaining()
            estimate = min(MAX_TX_GAS, needed + needed // 64 + 2_300)
            while self._simulate(sender, to, data, value, estimate, block).is_error:
                if estimate >= MAX_TX_GAS:
                    raise ExecutionFailed(f"transaction needs more than {MAX_TX_GAS} gas")
                estimate = min(MAX_TX_GAS, estimate * 2)
            return int(estimate)

    def _simulate(self, sender: bytes, to: bytes, data: bytes, value: int, gas: int, block: int | bytes | str) -> Any:
        header = self.header_at(block)
        vm = self._chain.get_vm(header)
        unsigned = vm.create_unsigned_transaction(
            nonce=vm.state.get_nonce(sender),
            gas_price=0,
            gas=gas,
            to=to,
            value=value,
            data=data,
        )
        tx = SpoofTransaction(unsigned, from_=sender)
        with vm.in_costless_state() as state:
            return state.costless_execute_transaction(tx)

    @staticmethod
    def _failure(computation: Any) -> ExecutionFailed:
        from eth.exceptions import Revert

        error = computation.error
        if isinstance(error, Revert):
            return ExecutionFailed("execution reverted", bytes(computation.output), reverted=True)
        return ExecutionFailed(f"execution failed: {type(error).__name__} {error}".strip())
