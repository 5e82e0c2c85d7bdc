"""The committed contract artifact matches its source and loads without node/npm."""

from __future__ import annotations

import shutil

import pytest

from contracts import compile as compiler
from contracts import load_artifact, source_files, source_sha256


def test_the_committed_artifact_loads_and_matches_the_source() -> None:
    artifact = load_artifact()
    assert artifact.source_sha256 == source_sha256("SwarmTraining"), (
        "contracts/SwarmTraining.sol (or a file it imports) changed: run `python -m contracts.compile`"
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
    assert artifact.source_sha256 == source_sha256(name), (
        f"contracts/{name}.sol (or a file it imports) changed: run `python -m contracts.compile`"
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


def test_the_contracts_share_their_revert_text_helpers_from_one_file() -> None:
    for name in ("SwarmTraining", *TASK_CONTRACTS):
        assert [p.name for p in source_files(name)] == [f"{name}.sol", "RevertText.sol"]
