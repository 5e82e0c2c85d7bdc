"""Plain-text rendering of command output: key/value blocks, aligned tables, times, ages and progress bars.

No colours or control characters: the same lines go to the terminal, the REST API's ``CONTENT`` and log files.
Key/value lines are ``KEY : value`` without padding, so that clients can split them at the first `` : ``
(the product's clients look for ``TASK_STATE : <state>``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

BAR_WIDTH = 20


def key_values(pairs: Iterable[tuple[str, object]]) -> list[str]:
    """One ``KEY : value`` line per pair (``None`` and "" show as ``-``)."""
    return [f"{key} : {_cell(value)}" for key, value in pairs]


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """Columns aligned with two spaces between them: a header line, a dashed line, then one line per row."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], len(text))

    def line(values: Sequence[str]) -> str:
        return "  ".join(value.ljust(width) for value, width in zip(values, widths)).rstrip()

    return [line(list(headers)), line(["-" * w for w in widths]), *(line(row) for row in cells)]


def when(seconds: float) -> str:
    """A chain time (seconds since the epoch) as UTC ``2025-05-01 12:00:03.250Z`` (no milliseconds for whole
    seconds); ``-`` for 0 (never)."""
    if not seconds:
        return "-"
    stamp = datetime.fromtimestamp(seconds, tz=UTC)
    if float(seconds).is_integer():
        return stamp.strftime("%Y-%m-%d %H:%M:%SZ")
    return stamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def age(seconds: float, now: float | None = None) -> str:
    """How long ago ``seconds`` was: ``4s``, ``3m12s``, ``2h05m``, ``6d03h``; ``never`` for 0."""
    if not seconds:
        return "never"
    elapsed = max(0, int((time.time() if now is None else now) - seconds))
    if elapsed < 60:
        return f"{elapsed}s"
    if elapsed < 3600:
        return f"{elapsed // 60}m{elapsed % 60:02d}s"
    if elapsed < 86400:
        return f"{elapsed // 3600}h{elapsed % 3600 // 60:02d}m"
    return f"{elapsed // 86400}d{elapsed % 86400 // 3600:02d}h"


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """``[#########-----------]  45%``; an empty bar and ``?`` when the total is unknown (0)."""
    if total <= 0:
        return f"[{'-' * width}]    ?"
    fraction = min(1.0, max(0.0, done / total))
    filled = round(fraction * width)
    return f"[{'#' * filled}{'-' * (width - filled)}] {round(fraction * 100):3d}%"


def number(value: float) -> str:
    """A loss or metric: 4 significant decimals, no exponent for ordinary values."""
    return f"{value:.4f}" if abs(value) >= 1e-4 or value == 0 else f"{value:.3e}"


def _cell(value: object) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "YES" if value else "NO"
    return " ".join(str(value).split()) if "\n" in str(value) else str(value)
