"""``MAKE_SWARM_USER_CONTENT`` operations, shared by every executor: fill one folder from ``DOWNLOAD`` / ``EXTRACT``.

``DOWNLOAD`` copies a local path or ``file:`` URI, or fetches an ``http(s)`` URL, to ``Out`` (default: the
target's file name); ``EXTRACT`` unpacks an archive (a path relative to the folder, or absolute) into ``Out``.
The PROCESS executor runs them in the content folder itself, the DOCKER executor in a staging folder that it then
copies into the content's Docker volume.
"""

from __future__ import annotations

import shutil
import urllib.parse
import urllib.request
from pathlib import Path

from swop.executors.base import ExecutorError, Reporter
from swop.schema.task import ContentOperation

DOWNLOAD_TIMEOUT_S = 120.0


def apply_operations(ops: list[ContentOperation], folder: Path, reporter: Reporter) -> None:
    """Run ``ops`` in order inside ``folder`` (created when missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    for op in ops:
        out = folder / (op.out or Path(urllib.parse.urlparse(op.target).path).name)
        reporter.progress(None, f"{op.operation} {op.target}")
        if op.operation == "DOWNLOAD":
            download(op.target, out)
        else:
            source = Path(op.target) if op.target.startswith("/") else folder / op.target
            try:
                shutil.unpack_archive(source, out)
            except (OSError, ValueError, shutil.ReadError) as exc:
                raise ExecutorError(f"cannot extract {op.target}: {exc}") from exc


def download(target: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    parsed = urllib.parse.urlparse(target)
    try:
        if parsed.scheme in ("http", "https"):
            with urllib.request.urlopen(target, timeout=DOWNLOAD_TIMEOUT_S) as resp, open(out, "wb") as dst:
                shutil.copyfileobj(resp, dst)
        else:
            source = Path(urllib.request.url2pathname(parsed.path) if parsed.scheme == "file" else target)
            if source.is_dir():
                shutil.copytree(source, out, dirs_exist_ok=True)
            else:
                shutil.copyfile(source, out)
    except OSError as exc:
        raise ExecutorError(f"cannot download {target}: {exc}") from exc
