"""Ethereum JSON-RPC methods over an ``EmbeddedChain``: plain dicts in, plain dicts out (hex quantities).

Only what web3.py needs to deploy, transact, call and read blocks, receipts and logs. A reverted call answers the
way geth does (code 3, ``message`` "execution reverted: <reason>", ``data`` the revert bytes) so that web3 raises
``ContractLogicError`` with the reason. Receipts of reverted transactions carry ``revertReason`` (the revert
bytes, as Hyperledger Besu does) so a client can show why without re-executing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import rlp
from eth._utils.address import generate_contract_address
from eth.abc import BlockAPI, ReceiptAPI, SignedTransactionAPI
from eth_abi import decode as abi_decode
from eth_utils import decode_hex, encode_hex, to_canonical_address, to_checksum_address

from sn.chain.engine import EmbeddedChain, ExecutionFailed
from sn.chain.genesis import CHAIN_ID
from swarm_learning.errors import ChainError

logger = logging.getLogger(__name__)

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def as_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def revert_reason(output: bytes) -> str | None:
    """The string of a Solidity ``Error(string)`` revert, or None."""
    if output[:4] != ERROR_SELECTOR:
        return None
    try:
        (reason,) = abi_decode(["string"], output[4:])
    except Exception:  # noqa: BLE001 - malformed revert data just has no reason
        return None
    return str(reason)


def _q(value: int | None) -> str:
    return hex(int(value or 0))


def _h(value: bytes | None) -> str:
    return encode_hex(bytes(value or b""))


def _root(value: bytes | None) -> str:
    return encode_hex(bytes(value or b"\x00" * 32))


def _word(value: int) -> str:
    return encode_hex(int(value).to_bytes(32, "big"))


def _block_id(value: Any) -> int | bytes | str:
    if value is None:
        return "latest"
    if isinstance(value, str):
        if value in ("latest", "pending", "safe", "finalized", "earliest"):
            return value
        if value.startswith("0x") and len(value) == 66:
            return decode_hex(value)
        return int(value, 16)
    if isinstance(value, dict):  # EIP-1898
        if "blockHash" in value:
            return decode_hex(value["blockHash"])
        return _block_id(value.get("blockNumber"))
    return int(value)


class RpcHandler:
    """Dispatches JSON-RPC method names to the engine."""

    def __init__(self, chain: EmbeddedChain) -> None:
        self.chain = chain
        self._methods: dict[str, Callable[..., Any]] = {
            "web3_clientVersion": lambda: "swarm-embedded-chain/py-evm",
            "net_version": lambda: str(CHAIN_ID),
            "net_listening": lambda: True,
            "net_peerCount": lambda: "0x0",
            "eth_chainId": lambda: _q(CHAIN_ID),
            "eth_syncing": lambda: False,
            "eth_mining": lambda: False,
            "eth_accounts": list,
            "eth_coinbase": lambda: to_checksum_address(b"\x00" * 20),
            "eth_blockNumber": lambda: _q(self.chain.height),
            "eth_gasPrice": lambda: "0x0",
            "eth_maxPriorityFeePerGas": lambda: "0x0",
            "eth_blobBaseFee": lambda: "0x1",
            "eth_feeHistory": self.fee_history,
            "eth_getBlockByNumber": self.get_block,
            "eth_getBlockByHash": self.get_block,
            "eth_getBlockTransactionCountByNumber": self.get_block_tx_count,
            "eth_getBlockTransactionCountByHash": self.get_block_tx_count,
            "eth_getTransactionCount": self.get_transaction_count,
            "eth_getBalance": lambda addr, block="latest": _q(
                self.chain.balance(to_canonical_address(addr), _block_id(block))
            ),
            "eth_getCode": lambda addr, block="latest": _h(
                self.chain.code(to_canonical_address(addr), _block_id(block))
            ),
            "eth_getStorageAt": lambda addr, slot, block="latest": _word(
                self.chain.storage_at(to_canonical_address(addr), int(slot, 16), _block_id(block))
            ),
            "eth_call": self.call,
            "eth_estimateGas": self.estimate_gas,
            "eth_sendRawTransaction": self.send_raw_transaction,
            "eth_getTransactionReceipt": self.get_receipt,
            "eth_getTransactionByHash": self.get_transaction,
            "eth_getTransactionByBlockNumberAndIndex": self.get_transaction_by_block,
            "eth_getTransactionByBlockHashAndIndex": self.get_transaction_by_block,
            "eth_getLogs": self.get_logs,
        }

    def handle(self, method: str, params: Any) -> dict[str, Any]:
        """Answer one request with ``{"result": ...}`` or ``{"error": {...}}``."""
        function = self._methods.get(method)
        if function is None:
            return {"error": {"code": -32601, "message": f"the method {method} does not exist/is not available"}}
        try:
            return {"result": function(*(params or []))}
        except RpcError as exc:
            return {"error": exc.as_dict()}
        except ExecutionFailed as exc:
            return {"error": self._execution_error(exc).as_dict()}
        except ChainError as exc:
            return {"error": {"code": -32000, "message": str(exc)}}
        except (TypeError, ValueError, KeyError) as exc:
            return {"error": {"code": -32602, "message": f"invalid params for {method}: {exc}"}}

    @staticmethod
    def _execution_error(exc: ExecutionFailed) -> RpcError:
        if not exc.reverted:
            return RpcError(-32000, str(exc))
        reason = revert_reason(exc.output)
        message = f"execution reverted: {reason}" if reason is not None else "execution reverted"
        return RpcError(3, message, _h(exc.output))

    # ------------------------------------------------------------------------------------------------ blocks

    def get_block(self, block_id: Any, full: bool = False) -> dict[str, Any] | None:
        try:
            block = self.chain.block_at(_block_id(block_id))
        except ChainError:
            return None
        return self._block_json(block, full)

    def get_block_tx_count(self, block_id: Any) -> str | None:
        try:
            return _q(len(self.chain.block_at(_block_id(block_id)).transactions))
        except ChainError:
            return None

    def _block_json(self, block: BlockAPI, full: bool) -> dict[str, Any]:
        h = block.header
        txs: list[Any] = [
            self._tx_json(tx, block, i) if full else _h(tx.hash) for i, tx in enumerate(block.transactions)
        ]
        result: dict[str, Any] = {
            "number": _q(h.block_number),
            "hash": _h(h.hash),
            "parentHash": _h(h.parent_hash),
            "nonce": _h(h.nonce),
            "mixHash": _h(h.mix_hash),
            "sha3Uncles": _h(h.uncles_hash),
            "logsBloom": _h(int(h.bloom).to_bytes(256, "big")),
            "transactionsRoot": _h(h.transaction_root),
            "stateRoot": _h(h.state_root),
            "receiptsRoot": _h(h.receipt_root),
            "miner": to_checksum_address(h.coinbase),
            "difficulty": _q(h.difficulty),
            "totalDifficulty": "0x0",
            "extraData": _h(h.extra_data),
            "size": _q(len(rlp.encode(block))),
            "gasLimit": _q(h.gas_limit),
            "gasUsed": _q(h.gas_used),
            "timestamp": _q(h.timestamp),
            "transactions": txs,
            "uncles": [],
            "baseFeePerGas": _q(h.base_fee_per_gas),
            "withdrawals": [],
            "withdrawalsRoot": _root(h.withdrawals_root),
            "blobGasUsed": _q(h.blob_gas_used),
            "excessBlobGas": _q(h.excess_blob_gas),
            "parentBeaconBlockRoot": _root(h.parent_beacon_block_root),
        }
        return result

    def fee_history(self, count: Any, newest: Any, percentiles: list[float] | None = None) -> dict[str, Any]:
        n = int(count, 16) if isinstance(count, str) else int(count)
        last = self.chain.header_at(_block_id(newest)).block_number
        first = max(0, last - n + 1)
        blocks = [self.chain.header_at(i) for i in range(first, last + 1)]
        return {
            "oldestBlock": _q(first),
            "baseFeePerGas": ["0x0"] * (len(blocks) + 1),
            "gasUsedRatio": [h.gas_used / h.gas_limit for h in blocks],
            "reward": [["0x0"] * len(percentiles or []) for _ in blocks],
        }

    # ---------------------------------------------------------------------------------------------- accounts

    def get_transaction_count(self, address: str, block: Any = "latest") -> str:
        return _q(self.chain.nonce(to_canonical_address(address), _block_id(block)))

    # --------------------------------------------------------------------------------------------- execution

    @staticmethod
    def _message(tx: dict[str, Any]) -> dict[str, Any]:
        sender = to_canonical_address(tx["from"]) if tx.get("from") else b"\x00" * 20
        to = to_canonical_address(tx["to"]) if tx.get("to") else b""
        data = decode_hex(tx.get("data") or tx.get("input") or "0x")
        value = int(tx.get("value", "0x0"), 16) if isinstance(tx.get("value", 0), str) else int(tx.get("value", 0))
        return {"sender": sender, "to": to, "data": data, "value": value}

    def call(self, tx: dict[str, Any], block: Any = "latest", *_overrides: Any) -> str:
        gas = tx.get("gas")
        gas_int = (int(gas, 16) if isinstance(gas, str) else int(gas)) if gas is not None else None
        return _h(self.chain.call(**self._message(tx), gas=gas_int, block=_block_id(block)))

    def estimate_gas(self, tx: dict[str, Any], block: Any = "latest", *_overrides: Any) -> str:
        return _q(self.chain.estimate_gas(**self._message(tx), block=_block_id(block)))

    def send_raw_transaction(self, raw: str) -> str:
        try:
            return _h(self.chain.submit(decode_hex(raw)))
        except ChainError as exc:
            raise RpcError(-32000, str(exc)) from exc

    # ------------------------------------------------------------------------------------------ transactions

    def _locate(self, tx_hash: str) -> tuple[BlockAPI, int] | None:
        where = self.chain.transaction_location(decode_hex(tx_hash))
        if where is None:
            return None
        number, index = where
        return self.chain.block_at(number), index

    def get_transaction(self, tx_hash: str) -> dict[str, Any] | None:
        found = self._locate(tx_hash)
        if found is None:
            return None
        block, index = found
        return self._tx_json(block.transactions[index], block, index)

    def get_transaction_by_block(self, block_id: Any, index: str) -> dict[str, Any] | None:
        try:
            block = self.chain.block_at(_block_id(block_id))
        except ChainError:
            return None
        i = int(index, 16)
        if i >= len(block.transactions):
            return None
        return self._tx_json(block.transactions[i], block, i)

    @staticmethod
    def _tx_json(tx: SignedTransactionAPI, block: BlockAPI, index: int) -> dict[str, Any]:
        type_id = tx.type_id or 0
        result: dict[str, Any] = {
            "hash": _h(tx.hash),
            "nonce": _q(tx.nonce),
            "blockHash": _h(block.hash),
            "blockNumber": _q(block.number),
            "transactionIndex": _q(index),
            "from": to_checksum_address(tx.sender),
            "to": to_checksum_address(tx.to) if tx.to else None,
            "value": _q(tx.value),
            "gas": _q(tx.gas),
            "gasPrice": _q(_effective_gas_price(tx, block)),
            "input": _h(tx.data),
            "type": _q(type_id),
            "r": _q(tx.r),
            "s": _q(tx.s),
        }
        if type_id == 0:
            v = tx.v if hasattr(tx, "v") else tx.y_parity + 27
            result["v"] = _q(v)
            if getattr(tx, "chain_id", None) is not None:
                result["chainId"] = _q(tx.chain_id)
        else:
            result["v"] = _q(tx.y_parity)
            result["yParity"] = _q(tx.y_parity)
            result["chainId"] = _q(tx.chain_id)
            result["accessList"] = [
                {"address": to_checksum_address(addr), "storageKeys": [_word(k) for k in keys]}
                for addr, keys in tx.access_list
            ]
            if type_id >= 2:
                result["maxFeePerGas"] = _q(tx.max_fee_per_gas)
                result["maxPriorityFeePerGas"] = _q(tx.max_priority_fee_per_gas)
        return result

    def get_receipt(self, tx_hash: str) -> dict[str, Any] | None:
        found = self._locate(tx_hash)
        if found is None:
            return None
        block, index = found
        receipts = self.chain.receipts(block)
        tx = block.transactions[index]
        receipt = receipts[index]
        before = receipts[index - 1].gas_used if index > 0 else 0
        first_log = sum(len(r.logs) for r in receipts[:index])
        result: dict[str, Any] = {
            "transactionHash": _h(tx.hash),
            "transactionIndex": _q(index),
            "blockHash": _h(block.hash),
            "blockNumber": _q(block.number),
            "from": to_checksum_address(tx.sender),
            "to": to_checksum_address(tx.to) if tx.to else None,
            "cumulativeGasUsed": _q(receipt.gas_used),
            "gasUsed": _q(receipt.gas_used - before),
            "effectiveGasPrice": _q(_effective_gas_price(tx, block)),
            "contractAddress": (
                to_checksum_address(generate_contract_address(tx.sender, tx.nonce)) if not tx.to else None
            ),
            "logs": self._logs_json(receipt, block, tx, index, first_log),
            "logsBloom": _h(int(receipt.bloom).to_bytes(256, "big")),
            "status": "0x1" if _succeeded(receipt) else "0x0",
            "type": _q(tx.type_id or 0),
        }
        if not _succeeded(receipt):
            output = self.chain.revert_output(tx.hash) or b""
            result["revertReason"] = _h(output)
        return result

    @staticmethod
    def _logs_json(
        receipt: ReceiptAPI, block: BlockAPI, tx: SignedTransactionAPI, index: int, first_log: int
    ) -> list[dict[str, Any]]:
        return [
            {
                "address": to_checksum_address(log.address),
                "topics": [_word(t) for t in log.topics],
                "data": _h(log.data),
                "blockNumber": _q(block.number),
                "blockHash": _h(block.hash),
                "transactionHash": _h(tx.hash),
                "transactionIndex": _q(index),
                "logIndex": _q(first_log + i),
                "removed": False,
            }
            for i, log in enumerate(receipt.logs)
        ]

    # -------------------------------------------------------------------------------------------------- logs

    def get_logs(self, criteria: dict[str, Any]) -> list[dict[str, Any]]:
        if criteria.get("blockHash"):
            blocks = [self.chain.block_at(decode_hex(criteria["blockHash"]))]
        else:
            head = self.chain.height
            start = self._log_bound(criteria.get("fromBlock"), head)
            end = self._log_bound(criteria.get("toBlock"), head)
            blocks = [self.chain.block_at(n) for n in range(start, min(end, head) + 1)]
        addresses = criteria.get("address")
        if isinstance(addresses, str):
            addresses = [addresses]
        wanted: set[bytes] | None = {bytes(to_canonical_address(a)) for a in addresses} if addresses else None
        topics = [self._topic_set(t) for t in (criteria.get("topics") or [])]
        found: list[dict[str, Any]] = []
        for block in blocks:
            receipts = self.chain.receipts(block)
            first_log = 0
            for index, (tx, receipt) in enumerate(zip(block.transactions, receipts, strict=True)):
                for log in self._logs_json(receipt, block, tx, index, first_log):
                    if self._log_matches(log, wanted, topics):
                        found.append(log)
                first_log += len(receipt.logs)
        return found

    def _log_bound(self, value: Any, head: int) -> int:
        block_id = _block_id(value)
        if isinstance(block_id, int):
            return block_id
        if block_id == "earliest":
            return 0
        if isinstance(block_id, bytes):
            return int(self.chain.header_at(block_id).block_number)
        return head

    @staticmethod
    def _topic_set(topic: Any) -> set[str] | None:
        if topic is None:
            return None
        if isinstance(topic, str):
            return {topic.lower()}
        return {t.lower() for t in topic}

    @staticmethod
    def _log_matches(log: dict[str, Any], addresses: set[bytes] | None, topics: list[set[str] | None]) -> bool:
        if addresses is not None and to_canonical_address(log["address"]) not in addresses:
            return False
        if len(topics) > len(log["topics"]):
            return False
        return all(wanted is None or log["topics"][i].lower() in wanted for i, wanted in enumerate(topics))


def _succeeded(receipt: ReceiptAPI) -> bool:
    return bytes(receipt.state_root) == b"\x01"


def _effective_gas_price(tx: SignedTransactionAPI, block: BlockAPI) -> int:
    base_fee = getattr(block.header, "base_fee_per_gas", 0) or 0
    max_fee = getattr(tx, "max_fee_per_gas", None)
    if max_fee is None:
        return int(tx.gas_price)
    return int(min(max_fee, base_fee + tx.max_priority_fee_per_gas))
