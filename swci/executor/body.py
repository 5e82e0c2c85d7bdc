"""Task bodies as lines over chain chunks: cutting a body into upload batches, and setting one line of a body.

The task store keeps a body as chunks of at most 4096 bytes (one transaction each); SWCI numbers the body's lines
from 0 (``GET TASK BODY``: ``0000: ---``). Batches end at line ends and leave room in each chunk, so that
``APPEND TASK BODY <task> <idx>`` can replace line ``idx`` by rewriting the one chunk that holds it, or append the
next line to the last chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from swci.errors import SwciError

MAX_CHUNK_BYTES = 4096  # the task store's limit
BATCH_BYTES = 3968  # what an upload puts in one chunk: room for a longer line later


@dataclass(frozen=True)
class Batch:
    index: int  # the chunk index it is written to
    first_line: int
    lines: int
    text: str


def batches(body: str, limit: int = BATCH_BYTES) -> list[Batch]:
    """``body`` cut into chunks of whole lines of at most ``limit`` UTF-8 bytes (a longer line is cut by bytes)."""
    out: list[Batch] = []
    pending: list[str] = []
    size = 0
    first = 0
    line_number = 0

    def flush() -> None:
        nonlocal pending, size, first
        if pending:
            out.append(Batch(len(out), first, len(pending), "".join(pending)))
        pending, size, first = [], 0, line_number

    for line in lines_of(body):
        length = len(line.encode("utf-8"))
        if size + length > limit:
            flush()
        if length > limit:
            for piece in _pieces(line, limit):
                out.append(Batch(len(out), line_number, 1, piece))
            line_number += 1
            first = line_number
            continue
        pending.append(line)
        size += length
        line_number += 1
    flush()
    return out


def _pieces(line: str, limit: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for char in line:
        if len((current + char).encode("utf-8")) > limit:
            pieces.append(current)
            current = ""
        current += char
    if current:
        pieces.append(current)
    return pieces


def lines_of(body: str) -> list[str]:
    """The lines of ``body``, each with its newline; only ``\\n`` ends a line (as in the stored YAML)."""
    parts = body.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    return [*lines, parts[-1]] if parts[-1] else lines


def set_line(body: str, chunk_lengths: Sequence[int], index: int, content: str, task: str) -> tuple[int, str]:
    """The chunk write that makes line ``index`` of ``body`` read ``content``: (chunk index, new chunk text).

    ``index`` may be an existing line (replaced) or the next one (appended); a gap is refused.
    """
    data = body.encode("utf-8")
    lines = [line.encode("utf-8") for line in lines_of(body)]
    new_line = content.encode("utf-8") + b"\n"
    starts = [sum(chunk_lengths[:i]) for i in range(len(chunk_lengths))]
    chunks = [data[start : start + length] for start, length in zip(starts, chunk_lengths)]
    if index > len(lines):
        raise SwciError(
            f"line {index} is beyond the end of the body of task {task}: it has {len(lines)} lines, "
            f"so the next line to append is {len(lines)}"
        )
    if index == len(lines):
        prefix = b"\n" if data and not data.endswith(b"\n") else b""
        if chunks and len(chunks[-1]) + len(prefix) + len(new_line) <= MAX_CHUNK_BYTES:
            return len(chunks) - 1, _text(chunks[-1] + prefix + new_line, task)
        return len(chunks), _text(prefix + new_line, task)
    begin = sum(len(line) for line in lines[:index])
    end = begin + len(lines[index])
    for k, (start, chunk) in enumerate(zip(starts, chunks)):
        if start <= begin and end <= start + len(chunk):
            updated = chunk[: begin - start] + new_line + chunk[end - start :]
            if len(updated) > MAX_CHUNK_BYTES:
                raise SwciError(f"line {index} of task {task} does not fit in its body chunk any more")
            return k, _text(updated, task)
    raise SwciError(
        f"line {index} of task {task} spans two stored body chunks and cannot be replaced: "
        f"DELETE TASK {task} and register it again"
    )


def _text(data: bytes, task: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SwciError(f"the body of task {task} is not split at character boundaries: {exc}") from exc
