"""A restart accelerator: the EVM database's changes per block, so a restart need not re-execute every block.

The journal stays the only source of truth. This file holds, per applied block, the key/value writes py-evm made
(plus revert outputs); at start the engine loads it, checks that its last block hash equals the journal's block at
that height, and re-executes only the journal records after it. Anything unexpected (damage, a mismatch, an old
format) just means a full replay from genesis. It is not fsync'ed: losing its tail costs replay time, nothing else.
It is rewritten as one compact snapshot when overwritten keys make it much larger than the live data.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from eth.db.backends.memory import MemoryDB

logger = logging.getLogger(__name__)

_MAGIC = b"SWSC1"
_RECORD = struct.Struct(">II")  # payload length, crc32
_BLOCK = struct.Struct(">Q32sII")  # height, block hash, number of writes, number of revert outputs
_PAIR = struct.Struct(">II")  # key length, value length (0xFFFFFFFF = deleted)
_DELETED = 0xFFFFFFFF


class RecordingDB(MemoryDB):
    """An in-memory key/value store that remembers what changed since the last ``take_changes``."""

    def __init__(self) -> None:
        super().__init__()
        self.changes: dict[bytes, bytes | None] = {}

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.kv_store[key] = value
        self.changes[key] = value

    def __delitem__(self, key: bytes) -> None:
        del self.kv_store[key]
        self.changes[key] = None

    def take_changes(self) -> dict[bytes, bytes | None]:
        changes, self.changes = self.changes, {}
        return changes


@dataclass
class CachedState:
    height: int = 0
    block_hash: bytes = b""
    kv: dict[bytes, bytes | None] = field(default_factory=dict)
    reverts: dict[bytes, bytes] = field(default_factory=dict)


class StateCache:
    FILE_NAME = "state.cache"

    def __init__(self, directory: Path) -> None:
        self.path = directory / self.FILE_NAME
        self._file: BinaryIO | None = None  # opened lazily for appending
        self._appended = 0

    def load(self) -> CachedState | None:
        """The state after the last intact block record, or None if there is nothing usable."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        if not data.startswith(_MAGIC):
            return None
        state = CachedState()
        offset = len(_MAGIC)
        for end, payload in _records(data, offset):
            _apply_payload(payload, state)
            offset = end
        if offset < len(data):
            logger.warning("state cache %s has a damaged tail at byte %s; it is ignored from there", self.path, offset)
            os.truncate(self.path, offset)
        return state if state.height > 0 else None

    def append(
        self, height: int, block_hash: bytes, changes: dict[bytes, bytes | None], reverts: dict[bytes, bytes]
    ) -> None:
        if self._file is None:
            is_new = not self.path.exists() or self.path.stat().st_size == 0
            self._file = open(self.path, "ab")
            if is_new:
                self._file.write(_MAGIC)
        record = _encode(height, block_hash, changes, reverts)
        handle = self._file
        handle.write(record)
        handle.flush()
        self._appended += len(record)

    def rewrite(self, height: int, block_hash: bytes, kv: dict[bytes, bytes], reverts: dict[bytes, bytes]) -> None:
        """Replace the file by one snapshot record of the whole database."""
        self.close()
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as handle:
            handle.write(_MAGIC)
            handle.write(_encode(height, block_hash, dict(kv), reverts))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        self._appended = 0

    def reset(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def live_size(kv: dict[bytes, bytes]) -> int:
    return sum(len(k) + len(v) + _PAIR.size for k, v in kv.items())


def _encode(height: int, block_hash: bytes, changes: dict[bytes, bytes | None], reverts: dict[bytes, bytes]) -> bytes:
    parts = [_BLOCK.pack(height, block_hash, len(changes), len(reverts))]
    for key, value in changes.items():
        if value is None:
            parts += [_PAIR.pack(len(key), _DELETED), key]
        else:
            parts += [_PAIR.pack(len(key), len(value)), key, value]
    for tx_hash, output in reverts.items():
        parts += [_PAIR.pack(len(tx_hash), len(output)), tx_hash, output]
    payload = b"".join(parts)
    return _RECORD.pack(len(payload), zlib.crc32(payload)) + payload


def _records(data: bytes, offset: int) -> Iterator[tuple[int, bytes]]:
    while offset + _RECORD.size <= len(data):
        length, crc = _RECORD.unpack_from(data, offset)
        start, end = offset + _RECORD.size, offset + _RECORD.size + length
        if end > len(data) or zlib.crc32(data[start:end]) != crc:
            return
        yield end, data[start:end]
        offset = end


def _apply_payload(payload: bytes, state: CachedState) -> None:
    height, block_hash, writes, reverts = _BLOCK.unpack_from(payload, 0)
    offset = _BLOCK.size
    kv = state.kv
    for _ in range(writes):
        key_len, value_len = _PAIR.unpack_from(payload, offset)
        offset += _PAIR.size
        key = payload[offset : offset + key_len]
        offset += key_len
        if value_len == _DELETED:
            kv[key] = None
        else:
            kv[key] = payload[offset : offset + value_len]
            offset += value_len
    for _ in range(reverts):
        key_len, value_len = _PAIR.unpack_from(payload, offset)
        offset += _PAIR.size
        tx_hash = payload[offset : offset + key_len]
        offset += key_len
        state.reverts[tx_hash] = payload[offset : offset + value_len]
        offset += value_len
    state.height, state.block_hash = height, block_hash
