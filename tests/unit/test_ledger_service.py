"""The SN's ledger service: keys and deployment in the data directory, restarts, history, errors, waiting."""

from __future__ import annotations

import dataclasses
import stat
import threading
from pathlib import Path

import pytest
from web3 import Web3

from contracts import load_artifact
from sn import ledger_service
from sn.chain.engine import EmbeddedChain
from sn.chain.provider import EmbeddedProvider
from sn.ledger_service import LedgerService
from swarm_learning.errors import ChainError, ConfigurationError, ContractRevert, WeightsError

TRAINING = "defaultbb.cqdb.sml.hpe"


def run_one_round(ledger: LedgerService) -> None:
    for peer in ("sl-1", "sl-2"):
        ledger.register_node(peer, "SL", "127.0.0.1", 30305)
        ledger.join_training(peer, TRAINING, 2, True, 600)
        ledger.check_in(peer, TRAINING, 1, f"https://{peer}/r1", 1, 10, False)
    ledger.close_round("sl-1", TRAINING, 1)
    ledger.publish_merge("sl-1", TRAINING, 1, "https://sl-1/m1", "ab" * 32, [], False)


def test_first_start_deploys_and_keeps_its_secrets_private(tmp_path: Path) -> None:
    ledger = LedgerService.open(tmp_path)
    assert ledger.training_names() == [TRAINING]
    assert Web3.is_checksum_address(ledger.contract_address)
    for secret in ("operator.key", "identity.secret"):
        assert stat.S_IMODE((tmp_path / secret).stat().st_mode) == 0o600
    assert ledger.history()[0].what == "deploy" and ledger.history()[0].who == "operator"


def test_a_restart_finds_the_same_contract_state_and_head(tmp_path: Path) -> None:
    ledger = LedgerService.open(tmp_path)
    run_one_round(ledger)
    head, account = ledger.head(), ledger.account_for("sl-1")
    ledger.close()

    again = LedgerService.open(tmp_path)
    assert again.head() == head
    assert again.contract_address == ledger.contract_address
    assert again.account_for("sl-1") == account
    assert again.round(TRAINING, 1).merged_uri == "https://sl-1/m1"
    assert again.training(TRAINING).current_round == 2
    again.check_in("sl-2", TRAINING, 2, "https://sl-2/r2", 1, 10, False)  # signing goes on where it stopped


def test_each_sn_derives_its_own_account_per_identity(tmp_path: Path) -> None:
    one, two = LedgerService.open(tmp_path / "one"), LedgerService.open(tmp_path / "two")
    assert one.account_for("sl-1") == one.account_for("sl-1")
    assert one.account_for("sl-1") != one.account_for("sl-2")
    assert one.account_for("sl-1") != two.account_for("sl-1")


def test_history_tells_who_did_what_in_which_block(tmp_path: Path) -> None:
    ledger = LedgerService.open(tmp_path)
    run_one_round(ledger)
    with pytest.raises(ContractRevert):
        ledger.close_round("sl-2", TRAINING, 2)
    ledger.create_training("sl-2", "mnist")

    ops = ledger.history(TRAINING)
    assert [(op.who, op.what) for op in ops] == [
        ("operator", "deploy"),
        ("sl-1", "joinTraining"),
        ("sl-1", "checkIn"),
        ("sl-2", "joinTraining"),
        ("sl-2", "checkIn"),
        ("sl-1", "closeRound"),
        ("sl-1", "publishMerge"),
        ("sl-2", "closeRound"),
    ]
    assert ops[-1].status == "reverted" and all(op.status == "ok" for op in ops[:-1])
    merge = ops[-2]
    assert merge.args["uri"] == "https://sl-1/m1" and merge.args["digest"] == "0x" + "ab" * 32
    assert merge.block == ledger.head().height - 2 and merge.tx_hash.startswith("0x")
    assert [op.block for op in ops] == sorted(op.block for op in ops)
    everything = ledger.history()
    assert ("operator", "registerNode") in [(op.who, op.what) for op in everything]
    assert [op.what for op in ledger.history(limit=2)] == ["closeRound", "createTraining"]


def test_reverts_carry_the_contracts_reason_and_bad_input_is_refused(tmp_path: Path) -> None:
    ledger = LedgerService.open(tmp_path)
    with pytest.raises(ContractRevert) as caught:
        ledger.heartbeat("nobody")
    assert caught.value.reason == "not a registered node"
    with pytest.raises(WeightsError):
        ledger.publish_merge("nobody", TRAINING, 1, "uri", "not-a-digest", [], False)
    with pytest.raises(ConfigurationError, match="bad arguments for checkIn"):
        ledger.check_in("nobody", TRAINING, -1, "uri", 1, 1, False)


def test_nodes_lists_registered_identities_with_their_endpoints(tmp_path: Path) -> None:
    ledger = LedgerService.open(tmp_path)
    registered = ledger.register_node("sl-1", "SL", "10.0.0.5", 16000)
    ledger.register_node("swop-1", "SWOP", "10.0.0.6", 0)
    ledger.heartbeat("sl-1")

    nodes = {n.identity: n for n in ledger.nodes()}
    assert set(nodes) == {"sl-1", "swop-1"}
    assert (nodes["sl-1"].host, nodes["sl-1"].port, nodes["sl-1"].kind) == ("10.0.0.5", 16000, "SL")
    assert nodes["sl-1"].last_seen > registered.last_seen


def test_wait_for_change_returns_when_a_block_lands_or_times_out(tmp_path: Path) -> None:
    ledger = LedgerService.open(tmp_path)
    height = ledger.head().height
    assert ledger.wait_for_change(height, timeout=0.05) == height
    registering = threading.Thread(target=ledger.register_node, args=("sl-1", "SL", "127.0.0.1", 1))
    registering.start()
    assert ledger.wait_for_change(height, timeout=10) > height
    registering.join(10)


def test_the_service_works_over_any_web3_connection(tmp_path: Path) -> None:
    w3 = Web3(EmbeddedProvider(EmbeddedChain()))
    ledger = LedgerService.open(tmp_path, w3=w3)  # no engine handle: only JSON-RPC is used
    run_one_round(ledger)
    assert ledger.round(TRAINING, 1).participants == ("sl-1", "sl-2")
    height = ledger.head().height
    assert ledger.wait_for_change(height - 1, timeout=1) == height


def test_a_missing_chain_is_reported_instead_of_redeploying(tmp_path: Path) -> None:
    LedgerService.open(tmp_path).close()
    (tmp_path / "chain" / "entries.log").unlink()
    with pytest.raises(ChainError, match="no Swarm contract"):
        LedgerService.open(tmp_path)


def test_a_contract_deployed_by_another_release_is_refused_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    LedgerService.open(tmp_path).close()
    # the chain holds this release's contract; to a release whose contract differs, it is another release's
    this_release = ledger_service.load_artifact()
    other = dataclasses.replace(this_release, deployed_bytecode=load_artifact("SwarmTasks").deployed_bytecode)
    monkeypatch.setattr(ledger_service, "load_artifact", lambda: other)
    with pytest.raises(ChainError, match="deployed by another release") as refused:
        LedgerService.open(tmp_path)
    assert "start a new swarm network" in str(refused.value)


def test_api_threads_may_act_for_many_identities_at_once(tmp_path: Path) -> None:
    ledger = LedgerService.open(tmp_path)
    peers = ["sl-1", "sl-2", "sl-3"]
    for peer in peers:
        ledger.register_node(peer, "SL", "127.0.0.1", 30305)
    failures: list[BaseException] = []

    def act(peer: str) -> None:
        try:
            ledger.heartbeat(peer)
            ledger.join_training(peer, TRAINING, 2, True, 600)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=act, args=(peer,)) for peer in peers + peers]  # each identity twice
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert sorted(m.identity for m in ledger.training(TRAINING).members) == peers
    assert len([op for op in ledger.history() if op.what == "heartbeat" and op.status == "ok"]) == 6
