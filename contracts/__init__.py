"""Solidity sources of the Swarm coordination contract and their committed compiled artifact.

``load_artifact()`` reads ``build/SwarmTraining.json``; it needs neither node nor npm. Recompile with
``python -m contracts.compile`` (see that module).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parent
ARTIFACT_DIR = CONTRACTS_DIR / "build"
CONTRACT_NAME = "SwarmTraining"


@dataclass(frozen=True)
class ContractArtifact:
    abi: tuple[dict[str, Any], ...]
    bytecode: str
    deployed_bytecode: str = ""
    compiler_version: str = ""
    source_sha256: str = ""


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


__all__ = ["ARTIFACT_DIR", "CONTRACTS_DIR", "CONTRACT_NAME", "ContractArtifact", "load_artifact"]
