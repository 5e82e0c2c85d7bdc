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


TASK_CONTRACTS = ("SwarmTasks", "SwarmTaskRunners")
EIP170_MAX_CODE_BYTES = 24_576


@pytest.mark.parametrize("name", TASK_CONTRACTS)
def test_the_task_contract_artifacts_load_match_their_sources_and_fit_the_code_size_limit(name: str) -> None:
    artifact = load_artifact(name)
    source = compiler.source_path(name).read_bytes()
    assert artifact.source_sha256 == hashlib.sha256(source).hexdigest(), (
        f"contracts/{name}.sol changed: run `python -m contracts.compile`"
    )
    assert artifact.compiler_version.startswith(compiler.SOLC_JS_VERSION)
    assert artifact.bytecode.startswith("0x60") and len(artifact.abi) > 10
    assert (len(artifact.deployed_bytecode) - 2) // 2 <= EIP170_MAX_CODE_BYTES, f"{name} is too big to deploy"


@pytest.mark.skipif(shutil.which("node") is None, reason="recompiling needs Node.js (npm installs solc-js)")
@pytest.mark.parametrize("name", TASK_CONTRACTS)
def test_recompiling_the_task_contracts_changes_nothing(name: str) -> None:
    fresh = compiler.render(compiler.build_artifact(compiler.source_path(name)))
    assert fresh == compiler.artifact_path(name).read_text(), (
        f"contracts/build/{name}.json is stale: run `python -m contracts.compile`"
    )
