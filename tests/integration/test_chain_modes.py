"""One SN ledger suite, run against both chain modes: the embedded chain and an existing Ethereum network (anvil).

The anvil half needs the npm package ``@foundry-rs/anvil-linux-amd64`` (installed on first use into
``sn/chain/.anvil/``); when it cannot be installed those tests fail with the npm command to run, never skip.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from sn.chain.anvil import AnvilNode, dev_key, npm_install_command
from sn.chain.engine import EmbeddedChain
from sn.chain.external import MarketFees, ZeroFees, connect
from sn.ledger_service import LedgerService
from swarm_learning.errors import ChainError, ContractRevert

pytestmark = pytest.mark.acceptance_sn_network

TRAINING = "mnist"
DIGEST = "c3" * 32


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilNode]:
    try:
        node = AnvilNode.start(timeout=30)
    except ChainError as exc:
        pytest.fail(f"the external-chain tests need anvil; install it with `{' '.join(npm_install_command())}`: {exc}")
    yield node
    node.stop()


@dataclass
class ChainMode:
    """Opens SN ledgers on one chain: each ``sn`` index is a different SN (own data dir and operator)."""

    name: str
    folder: Path
    anvil: AnvilNode | None = None
    chain: EmbeddedChain | None = None
    opened: list[LedgerService] = field(default_factory=list)

    def open(self, sn: int = 0, contract_address: str | None = None) -> LedgerService:
        data_dir = self.folder / f"sn-{sn}"
        if self.anvil is not None:
            key_file = self.folder / f"operator-{sn}.key"
            key_file.write_text(dev_key(sn) + "\n")
            key_file.chmod(0o600)
            ledger = LedgerService.open_external(
                data_dir, self.anvil.url, key_file, chain_id=self.anvil.chain_id, contract_address=contract_address
            )
        else:
            ledger = LedgerService.open(data_dir, chain=self.chain, contract_address=contract_address)
        self.opened.append(ledger)
        return ledger

    def close(self) -> None:
        for ledger in self.opened:
            ledger.close()
        if self.chain is not None:
            self.chain.close()


@pytest.fixture(params=["embedded", "anvil"])
def mode(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ChainMode]:
    if request.param == "anvil":
        chain_mode = ChainMode("anvil", tmp_path, anvil=request.getfixturevalue("anvil"))
    else:
        chain_mode = ChainMode("embedded", tmp_path, chain=EmbeddedChain(tmp_path / "chain"))
    yield chain_mode
    chain_mode.close()


def join(ledger: LedgerService, *peers: str) -> None:
    for peer in peers:
        ledger.register_node(peer, "SL", "127.0.0.1", 30305)
        if not ledger.training_status(TRAINING).exists:
            ledger.create_training(peer, TRAINING)
        ledger.join_training(peer, TRAINING, 2, True, 600)


def sync_round(ledger: LedgerService, round: int, final: bool) -> None:
    for peer in ("sl-1", "sl-2"):
        ledger.check_in(peer, TRAINING, round, f"https://{peer}:30305/r{round}", 1, 100, final)
    ledger.close_round("sl-1", TRAINING, round)
    ledger.publish_merge("sl-1", TRAINING, round, f"https://sl-1:30305/merged/{round}", DIGEST, [], final)


# ------------------------------------------------------------------------------------------ the shared suite


def test_a_whole_training_runs_and_is_recorded(mode: ChainMode) -> None:
    ledger = mode.open()
    ledger.register_node("swop-1", "SWOP", "127.0.0.1", 0)
    ledger.create_training("swop-1", TRAINING)
    join(ledger, "sl-1", "sl-2")
    sync_round(ledger, 1, final=False)
    for peer, loss in (("sl-1", 0.5), ("sl-2", 0.25)):
        ledger.report_progress(peer, TRAINING, loss, 0.9, 3, 3)
    sync_round(ledger, 2, final=True)
    ledger.finish_training("sl-1", TRAINING)
    ledger.finish_training("sl-2", TRAINING)

    training = ledger.training(TRAINING)
    assert training.over and training.finished_count == 2
    assert {m.identity: (m.loss, m.epochs_done) for m in training.members} == {"sl-1": (0.5, 3), "sl-2": (0.25, 3)}
    merged = ledger.round(TRAINING, 2)
    assert merged.final and merged.digest_hex == DIGEST and merged.leader == "sl-1"
    assert merged.participants == ("sl-1", "sl-2") and merged.merged_uri == "https://sl-1:30305/merged/2"
    assert TRAINING in ledger.training_names()
    ops = ledger.history(TRAINING)
    assert [(op.who, op.what) for op in ops][:3] == [
        ("swop-1", "createTraining"),
        ("sl-1", "joinTraining"),
        ("sl-2", "joinTraining"),
    ]
    assert [op.what for op in ops].count("publishMerge") == 2 and ops[-1].what == "finishTraining"
    assert all(op.status == "ok" for op in ops)
    assert [op.block for op in ops] == sorted(op.block for op in ops)


def test_refused_actions_carry_the_contracts_reason(mode: ChainMode) -> None:
    ledger = mode.open()
    with pytest.raises(ContractRevert, match="^not a registered node$"):
        ledger.heartbeat("intruder")
    join(ledger, "sl-1", "sl-2")
    ledger.check_in("sl-1", TRAINING, 1, "https://sl-1/r1", 1, 100, False)
    with pytest.raises(ContractRevert, match="quorum not reached: 1 of 2"):
        ledger.close_round("sl-1", TRAINING, 1)
    ledger.check_in("sl-2", TRAINING, 1, "https://sl-2/r1", 1, 100, False)
    with pytest.raises(ContractRevert, match="only the round's leader may do this"):
        ledger.close_round("sl-2", TRAINING, 1)
    ledger.close_round("sl-1", TRAINING, 1)  # a refusal leaves the identity able to act again
    assert ledger.round(TRAINING, 1).closed


def test_a_second_sn_finds_the_contract_by_address_and_shares_its_state(mode: ChainMode) -> None:
    first = mode.open(sn=0)
    second = mode.open(sn=1, contract_address=first.contract_address)
    assert second.contract_address == first.contract_address
    first.add_operator(second.operator_address)
    first.register_node("sl-1", "SL", "127.0.0.1", 30305)
    second.register_node("sl-2", "SL", "127.0.0.2", 30305)
    second.create_training("sl-2", TRAINING)
    first.join_training("sl-1", TRAINING, 2, True, 600)
    second.join_training("sl-2", TRAINING, 2, True, 600)

    assert {n.identity for n in first.nodes()} == {n.identity for n in second.nodes()} == {"sl-1", "sl-2"}
    assert [m.identity for m in second.training(TRAINING).members] == ["sl-1", "sl-2"]
    assert first.head().hash == second.head().hash


def test_a_restarted_sn_finds_its_contract_again(mode: ChainMode) -> None:
    ledger = mode.open()
    join(ledger, "sl-1", "sl-2")
    address, account = ledger.contract_address, ledger.account_for("sl-1")
    ledger.close()

    again = mode.open()
    assert again.contract_address == address and again.account_for("sl-1") == account
    assert {n.identity for n in again.nodes()} == {"sl-1", "sl-2"}
    again.check_in("sl-1", TRAINING, 1, "https://sl-1/r1", 1, 100, False)  # signing goes on where it stopped


def test_times_are_milliseconds_whatever_the_chain(mode: ChainMode) -> None:
    ledger = mode.open()
    node = ledger.register_node("sl-1", "SL", "127.0.0.1", 30305)
    now_ms = time.time() * 1000
    assert abs(ledger.head().timestamp - now_ms) < 60_000
    assert abs(node.last_seen - now_ms) < 60_000
    assert abs(ledger.history(limit=1)[0].timestamp - now_ms) < 60_000


def test_waiting_for_a_change_returns_when_a_block_lands(mode: ChainMode) -> None:
    ledger = mode.open()
    height = ledger.head().height
    assert ledger.wait_for_change(height, timeout=0.05) == height
    ledger.register_node("sl-1", "SL", "127.0.0.1", 30305)
    assert ledger.wait_for_change(height, timeout=5) > height


# ------------------------------------------------------------------------------- external chain mode only


def test_the_operator_funds_identity_accounts_that_pay_fees(anvil: AnvilNode, tmp_path: Path) -> None:
    mode = ChainMode("anvil", tmp_path, anvil=anvil)
    ledger = mode.open()
    w3 = connect(anvil.url)
    ledger.register_node("sl-1", "SL", "127.0.0.1", 30305)
    funded = w3.eth.get_balance(Web3.to_checksum_address(ledger.account_for("sl-1")))
    assert funded > 0
    ledger.heartbeat("sl-1")
    assert (
        0 < w3.eth.get_balance(Web3.to_checksum_address(ledger.account_for("sl-1"))) < funded
    )  # the identity paid its own fee
    mode.close()


def test_an_operator_without_funds_is_told_to_fund_it(anvil: AnvilNode, tmp_path: Path) -> None:
    key_file = tmp_path / "poor.key"
    key_file.write_text(secrets.token_hex(32))
    with pytest.raises(ChainError, match="has no funds.*--eth-operator-key-file"):
        LedgerService.open_external(tmp_path / "sn", anvil.url, key_file)


def test_underpriced_transactions_give_a_clear_error(anvil: AnvilNode, tmp_path: Path) -> None:
    w3 = connect(anvil.url)
    operator = Account.from_key(dev_key(5))
    with pytest.raises(ChainError, match="underpriced"):
        LedgerService.open(tmp_path / "sn", w3=w3, operator=operator, fees=ZeroFees())


def test_a_fee_above_the_sns_limit_is_refused(anvil: AnvilNode) -> None:
    with pytest.raises(ChainError, match="above the SN's limit"):
        MarketFees(max_fee_gwei=0.001).fees(connect(anvil.url))


def test_the_wrong_network_or_a_dead_node_is_reported(anvil: AnvilNode, tmp_path: Path) -> None:
    with pytest.raises(ChainError, match="not the expected chain 1"):
        connect(anvil.url, expected_chain_id=1)
    with pytest.raises(ChainError, match="did not answer"):
        connect("http://127.0.0.1:9", timeout=2)


def test_a_data_dir_from_another_network_is_refused(anvil: AnvilNode, tmp_path: Path) -> None:
    LedgerService.open(tmp_path / "sn").close()  # deployed on an embedded chain
    key_file = tmp_path / "operator.key"
    key_file.write_text(dev_key(6))
    with pytest.raises(ChainError, match="records a contract on chain"):
        LedgerService.open_external(tmp_path / "sn", anvil.url, key_file)


def test_a_network_without_a_base_fee_gets_legacy_gas_prices() -> None:
    with AnvilNode.start(extra_args=("--hardfork", "berlin")) as node:
        w3 = connect(node.url)
        fees = MarketFees().fees(w3)
        assert "type" not in fees.fields and fees.max_price >= w3.eth.gas_price
        payer = Account.from_key(dev_key(0))
        tx = {"to": Account.create().address, "value": 1, "gas": 21_000, "nonce": 0, "chainId": node.chain_id}
        tx_hash = w3.eth.send_raw_transaction(payer.sign_transaction({**tx, **fees.fields}).raw_transaction)
        assert w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)["status"] == 1
