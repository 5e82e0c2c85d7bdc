"""Solidity sources of the Swarm coordination contract and their committed compiled artifact.

``load_artifact()`` reads ``build/SwarmTraining.json``; it needs neither node nor npm. Recompile with
``python -m contracts.compile`` (see that module).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parent
ARTIFACT_DIR = CONTRACTS_DIR / "build"
CONTRACT_NAME = "SwarmTraining"
_LOCAL_IMPORT = re.compile(r'^import\s[^;]*?"\./([A-Za-z0-9_]+\.sol)"\s*;', re.MULTILINE)


@dataclass(frozen=True)
class ContractArtifact:
    abi: tuple[dict[str, Any], ...]
    bytecode: str
    deployed_bytecode: str = ""
    compiler_version: str = ""
    source_sha256: str = ""

    def is_code_of(self, runtime_code: bytes) -> bool:
        """Is ``runtime_code`` (read from a chain) this build of the contract? solc ends runtime code with a CBOR
        block holding the hash of the contract's metadata (sources, settings): equal blocks mean the same build, even
        where immutables were filled in at deployment."""
        return bool(self.deployed_bytecode) and _metadata_block(runtime_code) == _metadata_block(
            bytes.fromhex(self.deployed_bytecode.removeprefix("0x"))
        )


def _metadata_block(code: bytes) -> bytes:
    if len(code) < 2:
        return b""
    length = int.from_bytes(code[-2:], "big")
    return code[-(length + 2) :] if length + 2 <= len(code) else b""


@cache
def load_artifact(name: str = CONTRACT_NAME) -> ContractArtifact:
    """The compiled contract ``name`` as committed in ``contracts/build/<name>.json``."""
    data = json.loads((ARTIFACT_DIR / f"{name}.json").read_text())
    return ContractArtifact(
        abi=tuple(data["abi"]),
        bytecode=data["bytecode"],
        deployed_bytecode=data.get("deployedBytecode", ""),
        compiler_version=data.get("compiler", {}).get("version", ""),
        source_sha256=data.get("sourceSha256", ""),
    )


def source_files(name: str = CONTRACT_NAME) -> list[Path]:
    """``contracts/<name>.sol`` and the files of this folder it imports (``import ... "./X.sol"``, transitively)."""
    found: list[Path] = []
    todo = [CONTRACTS_DIR / f"{name}.sol"]
    while todo:
        path = todo.pop(0)
        if path in found:
            continue
        found.append(path)
        todo.extend(CONTRACTS_DIR / imported for imported in _LOCAL_IMPORT.findall(path.read_text()))
    return found


def source_sha256(name: str = CONTRACT_NAME) -> str:
    """One digest of a contract's sources: the name and text of each of its ``source_files``, in that order."""
    digest = hashlib.sha256()
    for path in source_files(name):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


__all__ = ["ARTIFACT_DIR", "CONTRACTS_DIR", "CONTRACT_NAME", "ContractArtifact", "load_artifact", "source_files", "source_sha256"]
