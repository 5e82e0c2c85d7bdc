"""The committed contract artifact matches its source and loads without node/npm."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from contracts import CONTRACTS_DIR, load_artifact
from contracts import compile as compiler


def test_the_committed_artifact_loads_and_matches_the_source() -> None:
    artifact = load_artifact()
    source = (CONTRACTS_DIR / "SwarmTraining.sol").read_bytes()
    assert artifact.source_sha256 == hashlib.sha256(source).hexdigest(), (
        "contracts/SwarmTraining.sol changed: run `python -m contracts.compile`"
    )
    assert artifact.bytecode.startswith("0x60") and len(artifact.abi) > 20
    assert artifact.compiler_version.startswith(compiler.SOLC_JS_VERSION)


@pytest.mark.skipif(shutil.which("node") is None, reason="recompiling needs Node.js (npm installs solc-js)")
def test_recompiling_changes_nothing() -> None:
    fresh = compiler.render(compiler.build_artifact())
    assert fresh == compiler.artifact_path().read_text(), (
        "contracts/build/SwarmTraining.json is stale: run `python -m contracts.compile`"
    )
