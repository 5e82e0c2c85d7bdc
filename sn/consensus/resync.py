"""Open an SN's chain data directory only if it is intact and agrees with the network; otherwise set it aside.

The chain directory is a local copy derived from the network's entry log in etcd (replicated by Raft among the SNs,
never compacted: the source of truth). ``open_chain_checked`` opens it and checks, in order:

1. **It loads.** ``EmbeddedChain`` verifies the journal's checksums, that every record links to its parent and that
   re-executing a record gives the recorded block hash (the state cache only shortens that replay).
2. **The journal describes the chain it built.** One record per block, record ``n`` with block ``n``'s hash,
   timestamp and transactions. This catches records rewritten behind the state cache, which step 1 skips.
3. **The chain is the network's.** Block ``n`` must have been made from log entry ``n``: timestamp
   ``max(entry.timestamp, parent.timestamp + 1)`` and the entry's transactions in order. A block that left some of
   them out (the engine drops a transaction that is invalid at that point) is rebuilt from the entry on top of its
   parent, in a scratch chain, and must come out with the same hash. A log that holds fewer entries than the chain
   has blocks is a mismatch too, once the local member had ``settle`` seconds to apply its own log (a member
   restarted after a crash may answer before it has re-applied its last entries).

If any check fails, the directory is renamed to ``<name>.corrupt-<UTC time>`` beside it (never deleted: the operator
may want it), an ERROR says why and where it went, and a new empty chain is returned; the SN's ``EntryFollower`` then
re-applies the whole log into it. A log that cannot be read within ``timeout`` raises ``EntryLogUnavailable``; a log
entry of a newer format raises ``UnsupportedEntryFormat`` (upgrade the SN); neither moves anything.

Blocks restored from the state cache are not re-executed (that is the cache's purpose), so a directory forged with
other *results* for the same transactions (state, receipts, and every hash after them rewritten to match) is not
caught; damage and rewritten or foreign entries are.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_utils import keccak

from sn.chain.engine import EmbeddedChain, LedgerEntry
from sn.chain.journal import Journal
from sn.consensus.client import ETCD_ERRORS, connect
from sn.consensus.entry_log import EntryLog, UnsupportedEntryFormat, decode_entry
from sn.consensus.errors import ConsensusError
from swarm_learning.errors import ChainError

logger = logging.getLogger(__name__)

CALL_TIMEOUT = 5.0  # seconds: one etcd call
BATCH = 256  # log entries per range read


class EntryLogUnavailable(ConsensusError):
    """The network's entry log could not be read from the SN's own etcd member in time, so the local chain could not
    be checked against it."""


def open_chain_checked(
    chain_dir: Path,
    client_url: str,
    network_id: str,
    *,
    timeout: float = 30.0,
    settle: float = 5.0,
) -> EmbeddedChain:
    """The chain in ``chain_dir`` if it loads and agrees with the network's entry log; else a new empty chain there,
    the old directory having been moved aside (see the module docstring).

    ``timeout``: how long the etcd member at ``client_url`` may stay unreadable before ``EntryLogUnavailable``.
    ``settle``: how long a log shorter than the local chain is given to grow before that counts as a mismatch.
    """
    chain_dir = Path(chain_dir)
    log = EntryLog(network_id)
    try:
        chain = EmbeddedChain(chain_dir)
    except OSError:
        raise  # the disk, not the data: moving the folder would not help
    except Exception as exc:  # noqa: BLE001 - whatever a damaged journal or state cache makes the engine raise
        return _rebuild(chain_dir, f"it cannot be loaded ({type(exc).__name__}: {exc})")
    try:
        reason = _journal_disagreement(chain, chain_dir) or _network_disagreement(
            chain, client_url, log, timeout=timeout, settle=settle
        )
    except BaseException:
        chain.close()
        raise
    if reason is None:
        return chain
    chain.close()
    return _rebuild(chain_dir, reason)


def quarantine(chain_dir: Path) -> Path:
    """Rename ``chain_dir`` to ``<name>.corrupt-<UTC time>`` beside it; return the new path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = chain_dir.with_name(f"{chain_dir.name}.corrupt-{stamp}")
    suffix = 1
    while target.exists():
        suffix += 1
        target = chain_dir.with_name(f"{chain_dir.name}.corrupt-{stamp}-{suffix}")
    os.rename(chain_dir, target)
    fd = os.open(chain_dir.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return target


def _rebuild(chain_dir: Path, reason: str) -> EmbeddedChain:
    moved = quarantine(chain_dir) if chain_dir.exists() else None
    logger.error(
        "the local chain data in %s is corrupted: %s; moved it to %s (kept for inspection) and rebuilding the chain "
        "from the network's entry log",
        chain_dir,
        reason,
        moved,
    )
    return EmbeddedChain(chain_dir)


# ----------------------------------------------------------------------------------------------- the journal


def _journal_disagreement(chain: EmbeddedChain, chain_dir: Path) -> str | None:
    """Why the journal does not describe ``chain`` block for block, or None."""
    height = chain.height
    journal = Journal(chain_dir)
    try:
        count = 0
        for record in journal.read_all():
            count += 1
            if record.block_number != count or count > height:
                return f"journal record {count} is for block {record.block_number} of a chain of {height} blocks"
            block = chain.block_at(count)
            if (
                record.block_hash != block.hash
                or record.timestamp != block.header.timestamp
                or [keccak(raw) for raw in record.raw_txs] != [tx.hash for tx in block.transactions]
            ):
                return f"journal record {count} does not describe block {count} of the chain loaded from it"
    except ChainError as exc:
        return f"its journal cannot be read ({exc})"
    finally:
        journal.close()
    if count != height:
        return f"its journal holds {count} records for a chain of {height} blocks"
    return None


# ------------------------------------------------------------------------------------------- the network log


def _network_disagreement(
    chain: EmbeddedChain, client_url: str, log: EntryLog, *, timeout: float, settle: float
) -> str | None:
    """Why ``chain`` was not made from the network's entry log, or None."""
    height = chain.height
    if height == 0:
        return None
    client = connect(client_url, timeout=min(CALL_TIMEOUT, timeout))
    try:
        parent_time = int(chain.header_at(0).timestamp)
        seq = 1
        short_since: float | None = None
        pause = 0.05
        while seq <= height:
            kvs = _read_range(client, log, seq, min(BATCH, height - seq + 1), timeout)
            if not kvs:
                now = time.monotonic()
                short_since = now if short_since is None else short_since
                if now - short_since >= settle:
                    return (
                        f"the network's entry log holds {seq - 1} entries but the local chain has {height} blocks "
                        "(blocks the network never committed)"
                    )
                time.sleep(min(pause, settle))  # the member may still be re-applying its own log after a restart
                pause = min(pause * 2, 0.5)
                continue
            short_since = None
            for kv in kvs:
                found = log.seq_of(kv.key)
                if found != seq:
                    raise ConsensusError(f"the network's entry log has a hole: expected entry {seq}, found {found}")
                reason = _block_disagreement(chain, seq, parent_time, _entry(bytes(kv.value)))
                if reason is not None:
                    return reason
                parent_time = int(chain.header_at(seq).timestamp)
                seq += 1
    finally:
        client.close()
    return None


def _read_range(client: Any, log: EntryLog, seq: int, limit: int, timeout: float) -> list[Any]:
    """Up to ``limit`` entries from ``seq`` on (a serializable read of the local member), retried for ``timeout``."""
    deadline = time.monotonic() + timeout
    pause = 0.1
    while True:
        try:
            response = client.get_range_response(
                log.key(seq), log.prefix_end, sort_order="ascend", limit=limit, serializable=True
            )
            return list(response.kvs)
        except ETCD_ERRORS as exc:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EntryLogUnavailable(
                    f"could not read the network's entry log from the SN's etcd member within {timeout:.0f} s "
                    f"({type(exc).__name__}), so the local chain could not be checked against it: is the member "
                    "running?"
                ) from exc
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 1.0)


def _entry(value: bytes) -> LedgerEntry:
    """The entry as the follower applies it: an undecodable value is an empty block, a newer format is refused."""
    try:
        return decode_entry(value)
    except UnsupportedEntryFormat:
        raise
    except ConsensusError:
        return LedgerEntry(0, ())


def _block_disagreement(chain: EmbeddedChain, number: int, parent_time: int, entry: LedgerEntry) -> str | None:
    block = chain.block_at(number)
    expected_time = max(int(entry.timestamp), parent_time + 1)
    if block.header.timestamp != expected_time:
        return (
            f"block {number} has timestamp {block.header.timestamp} but entry {number} of the network's log makes it "
            f"{expected_time}"
        )
    offered = [keccak(raw) for raw in entry.raw_txs]
    included = [tx.hash for tx in block.transactions]
    if not _in_order_within(included, offered):
        return f"block {number} holds transactions that entry {number} of the network's log does not offer, in order"
    if included != offered and chain.rebuild_block(number, entry).hash != block.hash:
        return f"block {number} lacks transactions that entry {number} of the network's log adds to the chain"
    return None


def _in_order_within(items: Sequence[bytes], offered: Sequence[bytes]) -> bool:
    """Whether ``items`` is ``offered`` with zero or more elements left out."""
    remaining = iter(offered)
    return all(any(item == candidate for candidate in remaining) for item in items)
