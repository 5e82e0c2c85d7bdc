"""External chain mode: the SN uses an existing Ethereum network (geth, Besu, anvil, ...) over JSON-RPC.

- ``connect(url, expected_chain_id)``: a ``Web3`` over HTTP whose node answered and has the expected chain id
- ``load_operator_key(path)``: the funded account the SN deploys, registers and pays fees with
- ``ZeroFees``: the embedded chain's fee-free transactions (fixed gas, fees 0, nobody needs funds)
- ``MarketFees``: the network's fee market (EIP-1559 from the latest base fee and ``eth_maxPriorityFeePerGas`` /
  ``eth_feeHistory``; legacy ``eth_gasPrice`` where blocks carry no base fee), estimated gas, and funding of the
  per-identity accounts from the operator

Every failure is a ``ChainError`` whose message says what to check.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import Web3Exception

from swarm_learning.errors import ChainError, ConfigurationError

logger = logging.getLogger(__name__)

GWEI = 10**9
FIXED_GAS = 5_000_000
TRANSFER_GAS = 21_000
DEFAULT_FUNDING_WEI = 10**17  # 0.1 ether per top-up of an identity account

__all__ = ["DEFAULT_FUNDING_WEI", "FeePolicy", "MarketFees", "TxFees", "ZeroFees", "connect", "load_operator_key"]


@dataclass(frozen=True)
class TxFees:
    """The fee fields of one transaction: ``type`` 2 with the EIP-1559 pair, or a legacy ``gasPrice``."""

    fields: dict[str, int]

    @property
    def max_price(self) -> int:
        return self.fields.get("maxFeePerGas", self.fields.get("gasPrice", 0))


class FeePolicy(Protocol):
    """How an SN prices and sizes its transactions, and whether its signing accounts need funds."""

    needs_funding: bool
    funding_wei: int

    def fees(self, w3: Web3) -> TxFees: ...

    def gas_for(self, w3: Web3, tx: dict[str, Any], fixed: int) -> int: ...


class ZeroFees:
    """The embedded chain: its base fee stays 0, so fees are 0 and the gas limit is a fixed ``fixed``."""

    needs_funding = False
    funding_wei = 0

    def fees(self, w3: Web3) -> TxFees:
        return TxFees({"type": 2, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0})

    def gas_for(self, w3: Web3, tx: dict[str, Any], fixed: int) -> int:
        return fixed


@dataclass
class MarketFees:
    """The network's fee market. ``max_fee_gwei`` caps what the SN will pay per gas (``ChainError`` above it).

    ``gas_for`` lets ``eth_estimateGas`` raise ``ContractLogicError`` for a call that would revert, so the caller
    can report the contract's reason without paying for a failing transaction.
    """

    funding_wei: int = DEFAULT_FUNDING_WEI
    max_fee_gwei: float | None = None
    gas_margin: float = 1.25
    needs_funding: bool = True

    def fees(self, w3: Web3) -> TxFees:
        try:
            latest = w3.eth.get_block("latest")
            base_fee = latest.get("baseFeePerGas")
            if base_fee is None:
                price = int(w3.eth.gas_price)
                self._check_cap(price)
                return TxFees({"gasPrice": price + price // 10})  # a legacy transaction
            priority = self._priority_fee(w3)
        except Web3Exception as exc:
            raise ChainError(f"could not read the network's fees: {exc}") from exc
        max_fee = 2 * int(base_fee) + priority  # room for the base fee to rise for several full blocks
        self._check_cap(max_fee)
        return TxFees({"type": 2, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": priority})

    def gas_for(self, w3: Web3, tx: dict[str, Any], fixed: int) -> int:
        probe = {key: tx[key] for key in ("from", "to", "data", "value") if key in tx}
        estimate = int(w3.eth.estimate_gas(probe))  # type: ignore[arg-type]
        return int(estimate * self.gas_margin) + 10_000

    @staticmethod
    def _priority_fee(w3: Web3) -> int:
        try:
            return int(w3.eth.max_priority_fee)
        except Web3Exception:  # not every node has eth_maxPriorityFeePerGas: use recent blocks' median tip
            history = w3.eth.fee_history(5, "latest", [50])
            tips = sorted(int(r[0]) for r in history.get("reward", []) if r)
            return tips[len(tips) // 2] if tips else GWEI

    def _check_cap(self, price: int) -> None:
        if self.max_fee_gwei is not None and price > self.max_fee_gwei * GWEI:
            raise ChainError(
                f"the network asks {price / GWEI:.2f} gwei per gas, above the SN's limit of "
                f"{self.max_fee_gwei} gwei; raise the limit or wait for lower fees"
            )


def connect(url: str, expected_chain_id: int | None = None, timeout: float = 10.0) -> Web3:
    """A ``Web3`` over the node at ``url`` (http/https; ws is not supported here), checked to answer."""
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"--eth-rpc-url must be an http:// or https:// URL, got {url!r}")
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))
    try:
        chain_id = int(w3.eth.chain_id)
    except (Web3Exception, OSError, ValueError) as exc:
        raise ChainError(f"the Ethereum node at {url} did not answer: {exc}; check --eth-rpc-url") from exc
    if expected_chain_id is not None and chain_id != expected_chain_id:
        raise ChainError(
            f"the Ethereum node at {url} is chain {chain_id}, not the expected chain {expected_chain_id}; "
            "check --eth-rpc-url and --eth-chain-id"
        )
    logger.info("connected to Ethereum node %s (chain %s)", url, chain_id)
    return w3


def load_operator_key(path: Path) -> LocalAccount:
    """The operator account from a file holding one hex private key (mode 0600 recommended)."""
    path = Path(path)
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the operator key file {path}: {exc}") from exc
    try:
        account: LocalAccount = Account.from_key(text)
    except (ValueError, TypeError):
        raise ConfigurationError(f"{path} does not hold a hex private key (64 hex digits)") from None
    if path.stat().st_mode & 0o077:
        logger.warning("the operator key file %s is readable by other users; chmod 600 it", path)
    return account
