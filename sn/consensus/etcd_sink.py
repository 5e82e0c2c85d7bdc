"""Order the chain's entries through etcd: ``EtcdSink`` appends, ``EntryFollower`` applies.

Every SN runs one follower and one sink against its own etcd member::

    EmbeddedChain.submit --> EtcdSink.propose --(txn)--> etcd log --(range read, watch)--> EntryFollower --> apply

- **Appending.** Entry ``n`` is the key ``EntryLog.key(n)``; a writer claims it with one transaction "create key
  ``n`` if it is absent and key ``n-1`` exists", so the log has no holes and no two entries share a number. On a
  conflict the writer reads the log's last key and tries the next number. A call gives up after ``call_timeout``
  (1 s; etcd itself would hold a proposal made while it has no leader for several seconds) and is retried with the
  same number; the writer recognises its own value there, so a retried append is never written twice.
- **Applying.** The follower reads the log from ``last applied + 1`` in key order (serializable reads of the local
  member: they work on a learner too, and everything etcd returns is committed) and applies each entry; entry ``n``
  must become block ``n``. A watch on the prefix only wakes it up; it also looks every ``poll_interval`` seconds, so
  a broken or silent watch costs latency, never an entry. It resumes by itself when the member comes back.
- **Waiting.** ``propose`` returns only when this SN's follower has applied the entry, so a receipt can be read at
  once; it raises ``ChainError`` if a transaction of the entry was left out of its block.

A learner member cannot write (etcd refuses), so an SN whose member is a learner can follow but not ``propose``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from sn.chain.engine import AppliedBlock, EmbeddedChain, LedgerEntry
from sn.consensus.client import ETCD_ERRORS, connect
from sn.consensus.entry_log import EntryLog, UnsupportedEntryFormat, decode_entry, encode_entry
from sn.consensus.errors import ConsensusError
from swarm_learning.errors import ChainError

logger = logging.getLogger(__name__)

_KEEP_RESULTS = 4096


class EntryFollower:
    """Applies the network's entry log to ``chain`` in order, from a background thread."""

    def __init__(
        self,
        chain: EmbeddedChain,
        client_url: str,
        network_id: str,
        *,
        poll_interval: float = 0.5,
        batch: int = 256,
        call_timeout: float = 5.0,
    ) -> None:
        self.chain = chain
        self.log = EntryLog(network_id)
        self._client_url = client_url
        self._poll_interval = poll_interval
        self._batch = batch
        self._call_timeout = call_timeout
        self._applied = chain.height
        self._results: OrderedDict[int, AppliedBlock] = OrderedDict()
        self._changed = threading.Condition()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._error: str | None = None
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self._watch_id: Any = None
        self._watch_retry_at = 0.0
        self._resume_checked = False

    # ------------------------------------------------------------------------------------------- public

    @property
    def last_applied(self) -> int:
        with self._changed:
            return self._applied

    @property
    def error(self) -> str | None:
        """Why the follower stopped for good (a broken log or chain), or None."""
        return self._error

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=f"entry-follower-{self.log.network_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("the entry follower did not stop within %.0f s", timeout)
        self._close_client()
        with self._changed:
            self._changed.notify_all()

    def notify(self) -> None:
        """Something was appended: look at the log now rather than at the next poll."""
        self._wake.set()

    def wait_applied(self, seq: int, timeout: float) -> AppliedBlock | None:
        """Wait until entry ``seq`` has been applied here; return its block (None if no longer remembered)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._applied < seq:
                if self._error is not None:
                    raise ConsensusError(f"this SN stopped applying the network's entries: {self._error}")
                if self._stopping.is_set():
                    raise ConsensusError("this SN's entry follower was stopped")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConsensusError(
                        f"entry {seq} is committed but was not applied here within {timeout:.0f} s "
                        f"(applied up to {self._applied})"
                    )
                self._changed.wait(remaining)
            return self._results.get(seq)

    # --------------------------------------------------------------------------------------------- loop

    def _run(self) -> None:
        pause = 0.1
        outage_logged = False
        while not self._stopping.is_set():
            try:
                client = self._connected()
                self._ensure_watch(client)
                self._wake.clear()
                progressed = self._drain(client)
                if outage_logged:
                    logger.info("the entry follower reaches etcd again at %s", self._client_url)
                pause, outage_logged = 0.1, False
                if not progressed:
                    self._wake.wait(self._poll_interval)
            except ETCD_ERRORS as exc:
                if not outage_logged:
                    logger.warning("the entry follower cannot read %s (%s); retrying", self._client_url, exc)
                    outage_logged = True
                self._drop_watch()
                self._stopping.wait(pause)
                pause = min(pause * 2, 2.0)
            except ChainError as exc:  # ConsensusError included: the log or the chain is broken
                self._fail(str(exc))
                return
            except Exception as exc:  # a bug here must not leave every proposer waiting
                logger.exception("the entry follower crashed")
                self._fail(f"unexpected {type(exc).__name__}: {exc}")
                return

    def _connected(self) -> Any:
        if self._client is None:
            self._client = connect(self._client_url, timeout=self._call_timeout)
        return self._client

    def _drain(self, client: Any) -> bool:
        """Apply the next batch of committed entries; return whether there were any."""
        start = self.log.key(self._applied + 1)
        response = client.get_range_response(
            start, self.log.prefix_end, sort_order="ascend", limit=self._batch, serializable=True
        )
        if not self._resume_checked:
            self._check_resume_point(client)
        for kv in response.kvs:
            seq = self.log.seq_of(kv.key)
            if seq != self._applied + 1:
                raise ConsensusError(f"the entry log has a hole: expected entry {self._applied + 1}, found {seq}")
            self._apply(seq, bytes(kv.value))
        return len(response.kvs) > 0

    def _apply(self, seq: int, value: bytes) -> None:
        try:
            entry = decode_entry(value)
        except UnsupportedEntryFormat:
            raise
        except ConsensusError as exc:
            # Every SN reads the same bytes, so every SN makes the same empty block here and stays in step.
            logger.error("entry %s of the log cannot be decoded (%s); applying it as an empty block", seq, exc)
            entry = LedgerEntry(0, ())
        block = self.chain.apply(entry)
        if block.number != seq:
            raise ConsensusError(f"entry {seq} became block {block.number}: this chain is not the network's")
        with self._changed:
            self._applied = seq
            self._results[seq] = block
            while len(self._results) > _KEEP_RESULTS:
                self._results.popitem(last=False)
            self._changed.notify_all()

    def _check_resume_point(self, client: Any) -> None:
        """A chain that already has blocks must have made them from this log's entries."""
        height = self._applied
        if height > 0:
            value, _ = client.get(self.log.key(height), serializable=True)
            if value is None:
                raise ConsensusError(
                    f"the local chain has {height} blocks but the network's entry log has no entry {height}: the "
                    "SN's data directory belongs to another network"
                )
            entry = decode_entry(value)
            header, parent = self.chain.header_at(height), self.chain.header_at(height - 1)
            if header.timestamp != max(entry.timestamp, parent.timestamp + 1):
                raise ConsensusError(
                    f"local block {height} was not made from entry {height} of the network's log: the SN's data "
                    "directory belongs to another network"
                )
        self._resume_checked = True

    def _ensure_watch(self, client: Any) -> None:
        if self._watch_id is not None or time.monotonic() < self._watch_retry_at:
            return
        try:
            self._watch_id = client.add_watch_prefix_callback(self.log.prefix, self._on_watch)
        except ETCD_ERRORS as exc:  # a learner refuses watches: poll until it is promoted
            logger.debug("no watch on %s (%s); polling every %.1f s", self._client_url, exc, self._poll_interval)
            self._watch_retry_at = time.monotonic() + 5.0

    def _on_watch(self, response: Any) -> None:
        if isinstance(response, BaseException):
            self._watch_id = None
        self._wake.set()

    def _drop_watch(self) -> None:
        watch_id, self._watch_id = self._watch_id, None
        if watch_id is not None and self._client is not None:
            try:
                self._client.cancel_watch(watch_id)
            except ETCD_ERRORS:
                pass

    def _close_client(self) -> None:
        self._drop_watch()
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _fail(self, why: str) -> None:
        logger.error("the entry follower stopped: %s", why)
        with self._changed:
            self._error = why
            self._changed.notify_all()


def wait_until_applied(follower: EntryFollower, seq: int, entry: LedgerEntry, timeout: float) -> None:
    """Wait until this SN applied log entry ``seq``; raise if any of ``entry``'s transactions was left out."""
    follower.notify()
    block = follower.wait_applied(seq, timeout)
    if block is None:
        return
    for raw, why in block.skipped:
        if raw in entry.raw_txs:
            raise ChainError(f"the transaction was left out of block {block.number}: {why}")


class EtcdSink:
    """An asynchronous ``EntrySink``: appends to the etcd log and waits until the local follower applied it."""

    synchronous = False

    def __init__(
        self,
        follower: EntryFollower,
        client_url: str,
        *,
        commit_timeout: float = 30.0,
        apply_timeout: float = 30.0,
        call_timeout: float = 1.0,
    ) -> None:
        self.follower = follower
        self.log = follower.log
        self._client_url = client_url
        self._commit_timeout = commit_timeout
        self._apply_timeout = apply_timeout
        self._call_timeout = call_timeout
        self._client: Any = None
        self._append_lock = threading.Lock()
        self._next = 1

    def propose(self, entry: LedgerEntry) -> None:
        wait_until_applied(self.follower, self.append(entry), entry, self._apply_timeout)

    def append(self, entry: LedgerEntry) -> int:
        """Append ``entry`` to the log; return its sequence number (= its block number)."""
        value = encode_entry(entry)
        deadline = time.monotonic() + self._commit_timeout
        pause = 0.05
        with self._append_lock:
            seq = max(self._next, self.follower.last_applied + 1)
            while True:
                try:
                    claimed, seq = self._try_claim(seq, value)
                    if claimed:
                        self._next = seq + 1
                        return seq
                    pause = 0.05
                    if time.monotonic() > deadline:
                        raise ConsensusError(
                            f"could not claim a place in the network's entry log within {self._commit_timeout:.0f} "
                            "s: every attempt lost to another SN"
                        )
                except ETCD_ERRORS as exc:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise ConsensusError(
                            f"could not append to the network's entry log through {self._client_url} within "
                            f"{self._commit_timeout:.0f} s ({type(exc).__name__}): is a majority of the SNs up, "
                            "and is this SN a voting member?"
                        ) from exc
                    time.sleep(min(pause, remaining))  # backoff while etcd has no leader or is restarting
                    pause = min(pause * 2, 1.0)

    def _try_claim(self, seq: int, value: bytes) -> tuple[bool, int]:
        """One attempt at ``seq``; return (claimed, the number claimed or the next one to try)."""
        client = self._connected()
        key = self.log.key(seq)
        compare = [client.transactions.create(key) == 0]
        if seq > 1:
            compare.append(client.transactions.create(self.log.key(seq - 1)) > 0)
        succeeded, responses = client.transaction(
            compare=compare,
            success=[client.transactions.put(key, value)],
            failure=[client.transactions.get(key)],
        )
        if succeeded:
            return True, seq
        existing = responses[0] if responses else []
        if existing and bytes(existing[0][0]) == value:
            return True, seq  # an earlier attempt whose answer was lost did write it
        return False, self._tail(client) + 1

    def catch_up(self, timeout: float, *, linearizable: bool = True) -> None:
        """Wait until the local follower applied the log's last entry as of now (a linearizable read of the tail
        through the leader; ``linearizable=False`` reads the local member's copy, e.g. on a learner)."""
        deadline = time.monotonic() + timeout
        pause = 0.05
        while True:
            try:
                tail = self._tail(self._connected(), serializable=not linearizable)
                break
            except ETCD_ERRORS as exc:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConsensusError(
                        f"could not read the network's entry log through {self._client_url} within {timeout:.0f} s "
                        f"({type(exc).__name__}): is a majority of the SNs up?"
                    ) from exc
                time.sleep(min(pause, remaining))  # backoff while etcd has no leader or is restarting
                pause = min(pause * 2, 1.0)
        if tail > self.follower.last_applied:
            self.follower.notify()
            self.follower.wait_applied(tail, max(0.1, deadline - time.monotonic()))

    def _tail(self, client: Any, *, serializable: bool = False) -> int:
        response = client.get_range_response(
            self.log.prefix,
            self.log.prefix_end,
            sort_order="descend",
            limit=1,
            keys_only=True,
            serializable=serializable,
        )
        return self.log.seq_of(response.kvs[0].key) if response.kvs else 0

    def _connected(self) -> Any:
        if self._client is None:
            self._client = connect(self._client_url, timeout=self._call_timeout)
        return self._client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
