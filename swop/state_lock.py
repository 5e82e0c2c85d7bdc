"""One SWOP per state folder: the folder records the SL and ML processes a SWOP started, and a SWOP that starts on
it stops whatever an earlier SWOP left there. Two live SWOPs sharing one folder (the same ``--usr-dir`` and
``groupname``) would stop each other's work, so the second is refused at start."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from swarm_learning.errors import ConfigurationError

LOCK_FILE = "swop.lock"


@contextmanager
def hold_state_folder(state_dir: Path) -> Iterator[None]:
    """Hold ``state_dir`` for this process (an advisory lock the kernel drops when the process ends, even when
    killed); raise ConfigurationError naming the holder when another live SWOP has it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            raise ConfigurationError(
                f"another SWOP (pid {holder}) is running on the state folder {state_dir}: give each SWOP its own "
                "groupname in its profile (or its own --state-dir); two SWOPs on one folder would stop each other's "
                "SLs and MLs as leftovers"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
