"""Plain web3.py over the embedded chain: the same calls work as against a real Ethereum node."""

from __future__ import annotations

from typing import cast

import pytest
from eth_account import Account
from eth_utils import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.middleware import SignAndSendRawMiddlewareBuilder
from web3.types import Nonce, TxParams, Wei

from contracts import load_artifact
from sn.chain.engine import EmbeddedChain
from sn.chain.genesis import CHAIN_ID
from sn.chain.provider import EmbeddedProvider

OPERATOR = Account.from_key(keccak(b"provider test operator"))


@pytest.fixture
def w3() -> Web3:
    return Web3(EmbeddedProvider(EmbeddedChain()))


def deploy(w3: Web3) -> Contract:
    artifact = load_artifact()
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx = factory.constructor("defaultbb.cqdb.sml.hpe").build_transaction(
        {"from": OPERATOR.address, "nonce": w3.eth.get_transaction_count(OPERATOR.address)}
    )
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(OPERATOR.sign_transaction(tx).raw_transaction), timeout=10
    )
    assert receipt["status"] == 1
    return cast(Contract, w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi))


def test_web3_talks_to_the_chain(w3: Web3) -> None:
    assert w3.is_connected()
    assert w3.eth.chain_id == CHAIN_ID
    assert w3.eth.block_number == 0
    assert w3.eth.gas_price == 0
    genesis = w3.eth.get_block(0)
    assert genesis["number"] == 0 and genesis["baseFeePerGas"] == 0
    assert w3.eth.get_block(genesis["hash"])["hash"] == genesis["hash"]


def test_deploy_transact_and_call_with_signed_raw_transactions(w3: Web3) -> None:
    contract = deploy(w3)
    assert len(w3.eth.get_code(contract.address)) > 0
    assert contract.functions.trainingNames().call() == ["defaultbb.cqdb.sml.hpe"]

    node = Account.create()
    tx = contract.functions.registerNode(node.address, "sl-1", "SL", "10.0.0.1", 30305).build_transaction(
        {"from": OPERATOR.address, "nonce": w3.eth.get_transaction_count(OPERATOR.address)}
    )
    assert tx["maxFeePerGas"] == 0 and tx["gas"] > 21_000  # priced and estimated by web3 itself
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(OPERATOR.sign_transaction(tx).raw_transaction), timeout=10
    )

    assert receipt["status"] == 1 and receipt["blockNumber"] == 2
    assert contract.functions.accountOf("sl-1").call() == node.address
    assert w3.eth.get_transaction(receipt["transactionHash"])["from"] == OPERATOR.address
    (event,) = contract.events.NodeRegistered().process_receipt(receipt)
    assert event.args.identity == "sl-1"
    (logged,) = contract.events.NodeRegistered().get_logs(from_block=0)
    assert logged.transactionHash == receipt["transactionHash"] and logged.blockNumber == 2


def test_revert_reasons_reach_web3_as_contract_logic_errors(w3: Web3) -> None:
    contract = deploy(w3)
    stranger = Account.create()
    with pytest.raises(ContractLogicError, match="not a registered node"):
        contract.functions.heartbeat().call({"from": stranger.address})
    with pytest.raises(ContractLogicError, match="not a registered node"):  # raised while estimating gas
        contract.functions.heartbeat().build_transaction({"from": stranger.address})


def test_a_reverted_transaction_is_mined_and_its_receipt_says_why(w3: Web3) -> None:
    contract = deploy(w3)
    stranger = Account.create()
    params: TxParams = {
        "from": stranger.address,
        "nonce": Nonce(0),
        "gas": 100_000,
        "maxFeePerGas": Wei(0),
        "maxPriorityFeePerGas": Wei(0),
    }
    tx = contract.functions.heartbeat().build_transaction(params)
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(stranger.sign_transaction(tx).raw_transaction), timeout=10
    )
    assert receipt["status"] == 0
    # the receipt carries the revert data, as Hyperledger Besu reports it
    assert b"not a registered node" in HexBytes(receipt["revertReason"])  # type: ignore[typeddict-item]
    assert w3.eth.get_transaction_count(stranger.address) == 1


def test_the_sign_and_send_middleware_works_unchanged(w3: Web3) -> None:
    contract = deploy(w3)
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(OPERATOR), layer=0)
    w3.eth.default_account = OPERATOR.address
    tx_hash = contract.functions.createTraining("mnist").transact()
    assert w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)["status"] == 1
    assert contract.functions.trainingNames().call() == ["defaultbb.cqdb.sml.hpe", "mnist"]
