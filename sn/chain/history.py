"""Operation history derived from the chain's transactions, decoded with the contract's ABI.

Works over any web3 connection (embedded or a real node): it reads blocks and receipts only. Decoded blocks are
cached, since a block never changes once it is on the chain.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from eth_utils import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract

from sn.chain.types import Operation


class HistoryReader:
    def __init__(self, w3: Web3, contract: Contract, bytecode: str, who: Callable[[str], str]) -> None:
        self._w3 = w3
        self._who = who
        self._cache: dict[int, tuple[Operation, ...]] = {}
        self._lock = threading.Lock()
        self._functions: dict[str, dict[bytes, tuple[str, list[str], list[str]]]] = {}
        self._creations: list[tuple[HexBytes, list[str], list[str]]] = []
        self.add_contract(contract, bytecode)

    def add_contract(self, contract: Contract, bytecode: str) -> None:
        """Decode this contract's calls and deployment too (e.g. the task contracts of ``sn.task_ledger``)."""
        abi: list[dict[str, Any]] = [dict(item) for item in contract.abi]
        inputs: list[dict[str, Any]] = next((i["inputs"] for i in abi if i.get("type") == "constructor"), [])
        with self._lock:
            self._functions[str(contract.address)] = _function_table(contract.abi)
            self._creations.append(
                (
                    HexBytes(bytecode),
                    [arg["name"] for arg in inputs],
                    [arg["type"] for arg in inputs],
                )
            )
            self._cache.clear()  # blocks decoded before showed its calls as plain transactions

    def operations(self, training: str | None = None, limit: int | None = None) -> list[Operation]:
        """Operations in chain order; with ``limit`` only the most recent ``limit`` of them."""
        height = int(self._w3.eth.block_number)
        picked: list[Operation] = []
        for number in range(height, 0, -1):
            for op in reversed(self._block_operations(number)):
                if training is None or training in _names_of(op):
                    picked.append(op)
            if limit is not None and len(picked) >= limit:
                break
        picked.reverse()
        return picked[-limit:] if limit is not None else picked

    def _block_operations(self, number: int) -> tuple[Operation, ...]:
        with self._lock:
            cached = self._cache.get(number)
        if cached is not None:
            return cached
        block = self._w3.eth.get_block(number, full_transactions=True)
        ops = tuple(self._decode(tx, block) for tx in block["transactions"])
        with self._lock:
            self._cache[number] = ops
        return ops

    def _decode(self, tx: Any, block: Any) -> Operation:
        receipt = self._w3.eth.get_transaction_receipt(tx["hash"])
        what, args = self._describe(tx)
        return Operation(
            block=int(block["number"]),
            tx_hash=HexBytes(tx["hash"]).to_0x_hex(),
            timestamp=int(block["timestamp"]),
            who=self._who(str(tx["from"])),
            what=what,
            args=args,
            status="ok" if receipt["status"] == 1 else "reverted",
        )

    def _describe(self, tx: Any) -> tuple[str, dict[str, Any]]:
        data = HexBytes(tx["input"])
        if tx.get("to") is None:
            for code, names, types in self._creations:
                if data.startswith(code):
                    try:
                        decoded = self._w3.codec.decode(types, data[len(code) :])
                    except Exception:  # noqa: BLE001 - undecodable arguments are left out
                        return "deploy", {}
                    return "deploy", {key: _plain(value) for key, value in zip(names, decoded, strict=True)}
            return "deploy", {}
        functions = self._functions.get(str(tx["to"]))
        if functions is None:
            return "transaction", {"to": str(tx["to"])}
        function = functions.get(bytes(data[:4]))
        if function is None:
            return "unknown", {"input": data.to_0x_hex()}
        name, names, types = function
        try:
            values = self._w3.codec.decode(types, data[4:])
        except Exception:  # noqa: BLE001 - undecodable input is shown raw
            return name, {"input": data.to_0x_hex()}
        return name, {key: _plain(value) for key, value in zip(names, values, strict=True)}


def _function_table(abi: Any) -> dict[bytes, tuple[str, list[str], list[str]]]:
    """selector -> (function name, argument names, argument types) for every function of ``abi``."""
    table = {}
    for item in abi:
        if item.get("type") != "function":
            continue
        types = [arg["type"] for arg in item["inputs"]]
        selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
        table[selector] = (item["name"], [arg["name"] for arg in item["inputs"]], types)
    return table


_NAME_ARGS = ("name", "defaultTraining", "task", "runner", "defaultTaskRunner")


def _names_of(op: Operation) -> set[str]:
    """The contracts an operation is about: a training contract's ``name``, a task and/or a task runner."""
    return {value for key in _NAME_ARGS if isinstance(value := op.args.get(key), str)}


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        if len(value) > 64:  # e.g. a task body chunk: its size, not 8 KiB of hex
            return f"<{len(value)} bytes>"
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
