"""The shared entry log's key layout in etcd and the encoding of one ``LedgerEntry``.

Keys: ``/swarm/<network-id>/entries/<seq:020d>``, ``seq`` counting from 1, so lexical order is numeric order and
entry ``seq`` becomes block ``seq`` on every SN. A value is ``rlp([1, timestamp_ms, [raw_tx, ...]])`` (the leading 1
is the format version). Followers apply an undecodable value as an empty block (every SN reads the same bytes, so
all stay in step) but stop at a format version they do not know (``UnsupportedEntryFormat``: upgrade the SN).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import rlp
from rlp.exceptions import DecodingError

from sn.chain.engine import LedgerEntry
from sn.consensus.errors import ConsensusError

FORMAT_VERSION = 1
_NETWORK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_DIGITS = 20


@dataclass(frozen=True)
class EntryLog:
    """Where one network's entries live in etcd."""

    network_id: str

    def __post_init__(self) -> None:
        if not _NETWORK_ID.match(self.network_id):
            raise ConsensusError(
                f"network id {self.network_id!r} must be 1-63 letters, digits, '.', '_' or '-' (starting with a "
                "letter or digit)"
            )

    @property
    def prefix(self) -> bytes:
        return f"/swarm/{self.network_id}/entries/".encode()

    @property
    def prefix_end(self) -> bytes:
        """The first key after every key of the prefix (etcd's ``range_end``)."""
        return self.prefix[:-1] + bytes([self.prefix[-1] + 1])

    def key(self, seq: int) -> bytes:
        if not 0 < seq < 10**_DIGITS:
            raise ConsensusError(f"entry sequence number {seq} is out of range")
        return self.prefix + f"{seq:0{_DIGITS}d}".encode()

    def seq_of(self, key: bytes) -> int:
        tail = key[len(self.prefix) :] if key.startswith(self.prefix) else b""
        if len(tail) != _DIGITS or not tail.isdigit():
            raise ConsensusError(f"unexpected key {key!r} in the entry log {self.prefix!r}")
        return int(tail)


class UnsupportedEntryFormat(ConsensusError):
    """The entry was written by a newer SN version: applying it any other way would fork the chain."""


def encode_entry(entry: LedgerEntry) -> bytes:
    return bytes(rlp.encode([FORMAT_VERSION, int(entry.timestamp), list(entry.raw_txs)]))


def decode_entry(value: bytes) -> LedgerEntry:
    """Decode a log value; raise ``ConsensusError`` when it is not an entry of a known format."""
    try:
        version, timestamp, raw_txs = rlp.decode(value)
        if rlp.sedes.big_endian_int.deserialize(version) != FORMAT_VERSION:
            raise UnsupportedEntryFormat(f"entry format {version!r} is not supported by this SN version; upgrade it")
        return LedgerEntry(
            rlp.sedes.big_endian_int.deserialize(timestamp),
            tuple(bytes(tx) for tx in raw_txs),
        )
    except (DecodingError, ValueError, TypeError) as exc:
        raise ConsensusError(f"undecodable entry: {exc}") from exc
