"""Append-only, fsync'ed file of applied ledger entries (the embedded chain's only persistent state).

Record layout: ``length (4 bytes, big endian) | crc32 of payload (4 bytes) | payload``, where the payload is
``rlp([block_number, parent_hash, timestamp, [raw_tx, ...], block_hash])``. A record that is cut short or fails its
checksum at the very end of the file is the trace of a crash during a write: it is dropped (the file is truncated)
with a warning. The same damage anywhere else is corruption and raises ``ChainError``.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import rlp
from rlp.exceptions import DecodingError

from swarm_learning.errors import ChainError

logger = logging.getLogger(__name__)

_HEADER = struct.Struct(">II")


@dataclass(frozen=True)
class JournalRecord:
    block_number: int
    parent_hash: bytes
    timestamp: int
    raw_txs: tuple[bytes, ...]
    block_hash: bytes

    def encode(self) -> bytes:
        payload = rlp.encode([self.block_number, self.parent_hash, self.timestamp, list(self.raw_txs), self.block_hash])
        return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload

    @classmethod
    def decode(cls, payload: bytes) -> JournalRecord:
        number, parent, timestamp, txs, block_hash = rlp.decode(payload)
        return cls(
            block_number=rlp.sedes.big_endian_int.deserialize(number),
            parent_hash=bytes(parent),
            timestamp=rlp.sedes.big_endian_int.deserialize(timestamp),
            raw_txs=tuple(bytes(tx) for tx in txs),
            block_hash=bytes(block_hash),
        )


class Journal:
    """The entry log of one chain data directory."""

    FILE_NAME = "entries.log"

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / self.FILE_NAME
        is_new = not self.path.exists()
        self._file = open(self.path, "ab")
        if is_new:
            _fsync_dir(directory)

    def read_all(self) -> Iterator[JournalRecord]:
        """Yield every intact record; drop a torn last record (truncating the file)."""
        data = self.path.read_bytes()
        offset = 0
        while offset < len(data):
            problem, record, end = self._parse_at(data, offset)
            if problem is None:
                assert record is not None
                yield record
                offset = end
                continue
            if end >= len(data):
                logger.warning(
                    "dropping a torn last record at byte %s of %s (%s); the chain resumes before it",
                    offset,
                    self.path,
                    problem,
                )
                self._truncate(offset)
                return
            raise ChainError(
                f"ledger journal {self.path} is corrupted at byte {offset} ({problem}); restore the "
                "SN data directory from a backup or let the SN resynchronise from its peers"
            )

    @staticmethod
    def _parse_at(data: bytes, offset: int) -> tuple[str | None, JournalRecord | None, int]:
        if len(data) - offset < _HEADER.size:
            return "incomplete header", None, len(data)
        length, crc = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        end = start + length
        if end > len(data):
            return "incomplete payload", None, len(data)
        payload = data[start:end]
        if zlib.crc32(payload) != crc:
            return "checksum mismatch", None, end
        try:
            return None, JournalRecord.decode(payload), end
        except (DecodingError, ValueError) as exc:
            return f"undecodable payload: {exc}", None, end

    def append(self, record: JournalRecord) -> None:
        self._file.write(record.encode())
        self._file.flush()
        os.fsync(self._file.fileno())

    def _truncate(self, size: int) -> None:
        self._file.flush()
        os.truncate(self.path, size)
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
