"""Small helpers shared by daemons: waiting for a stop signal, writing a port file."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path


def stop_event() -> threading.Event:
    """An event set by SIGTERM or SIGINT (call from the main thread)."""
    event = threading.Event()

    def handler(_signum: int, _frame: object) -> None:
        event.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return event


def write_port_file(path: Path | None, port: int) -> None:
    """Atomically write the bound port, so a launcher that asked for port 0 learns it without racing."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(f"{port}\n")
    os.replace(tmp, path)
