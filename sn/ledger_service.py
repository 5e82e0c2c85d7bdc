"""What the SN API calls: the Swarm contract's operations, signed for node identities, over web3.

The SN keeps two secrets in its data directory (mode 0600): the operator key (deploys the contract, registers
nodes) and an identity secret from which every node identity's account is derived
(``keccak(secret || identity)``), so the SN signs for the nodes registered through it. Transactions are signed
raw transactions; a reverted one raises ``ContractRevert`` with the contract's reason.

The web3 connection is the embedded chain by default (fee-free: gas price 0, fixed gas, unfunded accounts). In
external chain mode (``open_external``, an existing Ethereum network) the operator key is a funded account given
to the SN, transactions follow the network's fee market with estimated gas (``sn.chain.external.MarketFees``), a
call that would revert is refused before it is sent, and the operator tops up each identity's account when it
registers and whenever its balance cannot pay the next transaction. The contract is deployed once; its address is
kept in the data directory and given to other SNs of the same network as ``contract_address``.

Chain time is milliseconds on the embedded chain and seconds on external chains; every timestamp this service
returns is in milliseconds (``sn.chain.engine.TICKS_PER_SECOND`` ticks per second) whatever the chain.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keys.constants import SECPK1_N
from eth_utils import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, TimeExhausted, Web3Exception

from contracts import load_artifact
from sn.chain.engine import TICKS_PER_SECOND, EmbeddedChain
from sn.chain.external import TRANSFER_GAS, FeePolicy, MarketFees, ZeroFees, connect, load_operator_key
from sn.chain.history import HistoryReader
from sn.chain.provider import EmbeddedProvider
from sn.chain.rpc import revert_reason
from sn.chain.types import ChainHead, CheckInInfo, MemberInfo, NodeInfo, Operation, RoundInfo, TrainingInfo
from swarm_learning.errors import ChainError, ConfigurationError, ContractRevert, WeightsError

logger = logging.getLogger(__name__)

DEFAULT_TRAINING = "defaultbb.cqdb.sml.hpe"
TX_GAS = 5_000_000
FIXED_POINT = 10**9
_INT128_MAX = 2**127 - 1
_INT128_MIN = -(2**127)
_ZERO_ADDRESS = "0x" + "00" * 20
_VIEW_CACHE_SIZE = 4096

__all__ = ["DEFAULT_TRAINING", "LedgerService"]


@dataclass(frozen=True)
class _Deployment:
    contract_address: str
    chain_id: int


class LedgerService:
    """One SN's view of the Swarm contract. Thread-safe."""

    OPERATOR_KEY_FILE = "operator.key"
    IDENTITY_SECRET_FILE = "identity.secret"
    DEPLOYMENT_FILE = "ledger.json"
    CHAIN_DIR = "chain"

    def __init__(
        self,
        w3: Web3,
        contract: Contract,
        operator: LocalAccount,
        identity_secret: bytes,
        chain: EmbeddedChain | None = None,
        owns_chain: bool = False,
        receipt_timeout: float = 30.0,
        fees: FeePolicy | None = None,
    ) -> None:
        self._w3 = w3
        self._contract = contract
        self._operator = operator
        self._secret = identity_secret
        self._chain = chain
        self._owns_chain = owns_chain
        self._receipt_timeout = receipt_timeout
        self._chain_id = int(w3.eth.chain_id)
        self._fees: FeePolicy = fees or ZeroFees()
        embedded = chain is not None or isinstance(w3.provider, EmbeddedProvider)
        self._chain_ticks = TICKS_PER_SECOND if embedded else 1  # the contract's clock unit per second
        self._accounts: dict[str, LocalAccount] = {}
        self._identities: dict[str, str] = {}
        self._send_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._view_cache: dict[tuple[str, tuple[Any, ...]], Any] = {}
        self._view_height = -1
        self._history = HistoryReader(w3, contract, load_artifact().bytecode, self._who)
        self.external: bool = not embedded
        self.operator_address: str = operator.address
        self.contract_address: str = contract.address

    # ---------------------------------------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        chain: EmbeddedChain | None = None,
        w3: Web3 | None = None,
        default_training: str = DEFAULT_TRAINING,
        contract_address: str | None = None,
        operator: LocalAccount | None = None,
        fees: FeePolicy | None = None,
    ) -> LedgerService:
        """Open the SN's ledger in ``data_dir``: first start deploys the contract, later starts find it again.

        ``operator`` replaces the operator key kept in ``data_dir``; ``fees`` defaults to the fee-free embedded
        policy (see ``open_external`` for an existing network).
        """
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        if operator is None:
            operator = Account.from_key(_secret_file(data_dir / cls.OPERATOR_KEY_FILE))
        identity_secret = _secret_file(data_dir / cls.IDENTITY_SECRET_FILE)
        owns_chain = False
        if w3 is None:
            if chain is None:
                chain = EmbeddedChain(data_dir / cls.CHAIN_DIR)
                owns_chain = True
            w3 = Web3(EmbeddedProvider(chain))
        artifact = load_artifact()
        deployment_file = data_dir / cls.DEPLOYMENT_FILE
        fees = fees or ZeroFees()
        if deployment_file.exists():
            deployment = json.loads(deployment_file.read_text())
            address = deployment["contract_address"]
            _check_same_chain(deployment_file, int(deployment.get("chain_id", w3.eth.chain_id)), int(w3.eth.chain_id))
        else:
            address = contract_address
        if address is None:
            address = _deploy(w3, operator, default_training, fees)
            _write_json(deployment_file, {"contract_address": address, "chain_id": int(w3.eth.chain_id)})
            logger.info("deployed the Swarm contract at %s", address)
        elif not deployment_file.exists():
            _write_json(deployment_file, {"contract_address": address, "chain_id": int(w3.eth.chain_id)})
        if len(w3.eth.get_code(Web3.to_checksum_address(address))) == 0:
            raise ChainError(
                f"no Swarm contract at {address} on this chain: the chain data in {data_dir} is "
                f"missing or belongs to another network; restore it or remove {deployment_file}"
            )
        if not artifact.is_code_of(bytes(w3.eth.get_code(Web3.to_checksum_address(address)))):
            raise ChainError(
                f"the Swarm contract at {address} was deployed by another release of this software (its code is not "
                f"this release's contracts/build/SwarmTraining.json): run the release that deployed it, or start a "
                f"new swarm network (remove {deployment_file} and the chain data in {data_dir})"
            )
        contract = w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact.abi)
        return cls(w3, contract, operator, identity_secret, chain=chain, owns_chain=owns_chain, fees=fees)

    @classmethod
    def open_external(
        cls,
        data_dir: Path,
        rpc_url: str,
        operator_key_file: Path,
        *,
        chain_id: int | None = None,
        contract_address: str | None = None,
        fees: FeePolicy | None = None,
        default_training: str = DEFAULT_TRAINING,
    ) -> LedgerService:
        """Open the SN's ledger on an existing Ethereum network at ``rpc_url``, paying with the operator key in
        ``operator_key_file``; the first SN deploys, the others pass its ``contract_address``."""
        operator = load_operator_key(operator_key_file)
        w3 = connect(rpc_url, chain_id)
        try:
            balance = int(w3.eth.get_balance(operator.address))
        except Web3Exception as exc:
            raise ChainError(f"could not read the operator's balance at {rpc_url}: {exc}") from exc
        if balance == 0:
            raise ChainError(
                f"the operator account {operator.address} has no funds on chain {w3.eth.chain_id}; fund it or "
                "give the SN a funded key with --eth-operator-key-file"
            )
        return cls.open(
            data_dir,
            w3=w3,
            default_training=default_training,
            contract_address=contract_address,
            operator=operator,
            fees=fees or MarketFees(),
        )

    def close(self) -> None:
        if self._owns_chain and self._chain is not None:
            self._chain.close()

    # ------------------------------------------------------------------------------------------- identities

    def account_for(self, identity: str) -> str:
        """The account this SN signs with for ``identity`` (derived from the SN's identity secret)."""
        return self._signer(identity).address

    def _signer(self, identity: str) -> LocalAccount:
        with self._locks_guard:
            account = self._accounts.get(identity)
            if account is None:
                key = keccak(self._secret + identity.encode("utf-8"))
                while not 0 < int.from_bytes(key, "big") < SECPK1_N:
                    key = keccak(key)
                account = Account.from_key(key)
                self._accounts[identity] = account
            return account

    def _who(self, address: str) -> str:
        if address == self._operator.address:
            return "operator"
        identity = self._identity_of(address)
        return identity if identity else f"sn:{address}"

    def _identity_of(self, address: str) -> str:
        if address == _ZERO_ADDRESS or int(address, 16) == 0:
            return ""
        with self._locks_guard:
            known = self._identities.get(address)
        if known is not None:
            return known
        identity = str(self._view("getNode", address)[0])
        if identity:  # an account never changes identity once registered, so this is safe to keep
            with self._locks_guard:
                self._identities[address] = identity
        return identity

    # ---------------------------------------------------------------------------------------- node registry

    def add_operator(self, address: str) -> None:
        """Let another SN's operator account register nodes (signed by this SN's operator)."""
        self._transact(self._operator, "addOperator", Web3.to_checksum_address(address))

    def register_node(self, identity: str, kind: str, host: str, port: int) -> NodeInfo:
        account = self.account_for(identity)
        self._transact(self._operator, "registerNode", account, identity, kind, host, int(port))
        if self._fees.needs_funding:
            self._top_up(account, self._fees.funding_wei)
        return self._node(account)

    def heartbeat(self, identity: str) -> None:
        self._transact(self._signer(identity), "heartbeat")

    def nodes(self) -> list[NodeInfo]:
        count = int(self._view("nodeCount"))
        accounts = [str(self._view("nodeAt", i)) for i in range(count)]
        return [node for node in (self._node(a) for a in accounts) if node.registered]

    def _node(self, account: str) -> NodeInfo:
        identity, kind, host, port, last_seen, registered = self._view("getNode", account)
        return NodeInfo(
            identity=identity,
            account=account,
            kind=kind,
            host=host,
            port=int(port),
            last_seen=self._ms(last_seen),
            registered=bool(registered),
        )

    # ------------------------------------------------------------------------------------------- trainings

    def create_training(self, identity: str, name: str) -> None:
        self._transact(self._signer(identity), "createTraining", name)

    def reset_training(self, identity: str, name: str) -> None:
        self._transact(self._signer(identity), "resetTraining", name)

    def training_names(self) -> list[str]:
        return [str(n) for n in self._view("trainingNames")]

    def join_training(
        self, identity: str, name: str, min_peers: int, eligible_leader: bool, leader_timeout_s: int
    ) -> None:
        self._transact(
            self._signer(identity),
            "joinTraining",
            name,
            int(min_peers),
            bool(eligible_leader),
            int(leader_timeout_s) * self._chain_ticks,
        )

    def training_status(self, name: str) -> TrainingInfo:
        """The training's counters only (one contract call): round, quorum, over, member and finished counts."""
        exists, current, min_peers, over, count, finished = self._view("getTraining", name)
        return TrainingInfo(
            name=name,
            exists=bool(exists),
            current_round=int(current),
            min_peers=int(min_peers),
            over=bool(over),
            finished_count=int(finished),
            member_count=int(count),
        )

    def training(self, name: str) -> TrainingInfo:
        """The training's counters and every member's state and progress."""
        status = self.training_status(name)
        members: list[MemberInfo] = []
        if status.exists:
            for account in self._view("getMembers", name):
                _, done, eligible, loss, metric, epochs, total = self._view("getMember", name, account)
                members.append(
                    MemberInfo(
                        identity=self._identity_of(account),
                        account=str(account),
                        finished=bool(done),
                        eligible_leader=bool(eligible),
                        loss=_from_fixed(loss),
                        metric=_from_fixed(metric),
                        epochs_done=int(epochs),
                        total_epochs=int(total),
                    )
                )
        return replace(status, members=tuple(members))

    # ------------------------------------------------------------------------------------------ sync rounds

    def check_in(
        self, identity: str, name: str, round: int, uri: str, weightage: int, samples: int, final: bool
    ) -> None:
        self._transact(
            self._signer(identity),
            "checkIn",
            name,
            int(round),
            uri,
            int(weightage),
            int(samples),
            bool(final),
        )

    def close_round(self, identity: str, name: str, round: int) -> None:
        self._transact(self._signer(identity), "closeRound", name, int(round))

    def publish_merge(
        self,
        identity: str,
        name: str,
        round: int,
        uri: str,
        digest_hex: str,
        excluded: list[str],
        final: bool,
    ) -> None:
        digest = _digest_bytes(digest_hex)
        accounts = [str(self._view("accountOf", peer)) for peer in excluded]
        self._transact(self._signer(identity), "publishMerge", name, int(round), uri, digest, accounts, bool(final))

    def take_over_leadership(self, identity: str, name: str, round: int) -> None:
        self._transact(self._signer(identity), "takeOverLeadership", name, int(round))

    def report_progress(
        self, identity: str, name: str, loss: float, metric: float, epochs_done: int, total_epochs: int
    ) -> None:
        self._transact(
            self._signer(identity),
            "reportProgress",
            name,
            _to_fixed(loss),
            _to_fixed(metric),
            int(epochs_done),
            int(total_epochs),
        )

    def finish_training(self, identity: str, name: str) -> None:
        self._transact(self._signer(identity), "finishTraining", name)

    def round(self, name: str, round: int) -> RoundInfo:
        (participants, leader, closed, merged, uri, digest, excluded, opened_at, closed_at, final) = self._view(
            "getRound", name, int(round)
        )
        check_ins = []
        for account in participants:
            _, peer_uri, weightage, samples, peer_final, stale = self._view("getCheckIn", name, int(round), account)
            check_ins.append(
                CheckInInfo(
                    identity=self._identity_of(account),
                    account=str(account),
                    uri=peer_uri,
                    weightage=int(weightage),
                    samples=int(samples),
                    final=bool(peer_final),
                    stale=bool(stale),
                )
            )
        return RoundInfo(
            training=name,
            round=int(round),
            participants=tuple(c.identity for c in check_ins),
            check_ins=tuple(check_ins),
            leader=self._identity_of(leader) or None,
            closed=bool(closed),
            merged=bool(merged),
            merged_uri=str(uri),
            digest_hex=HexBytes(digest).hex() if merged else "",
            excluded=tuple(self._identity_of(a) for a in excluded),
            opened_at=self._ms(opened_at),
            closed_at=self._ms(closed_at),
            final=bool(final),
        )

    # ------------------------------------------------------------------ other contracts (sn.task_ledger)

    @property
    def w3(self) -> Web3:
        return self._w3

    def who(self, address: str) -> str:
        """The identity behind an account ("operator" for this SN's operator, "sn:<address>" if unknown)."""
        return self._who(address)

    def deploy_contract(self, abi: Sequence[Mapping[str, Any]], bytecode: str, *args: Any) -> str:
        """Deploy another contract on this chain, signed (and paid) by the operator; returns its address."""
        with self._send_lock(self._operator.address):
            return _deploy_code(self._w3, self._operator, abi, bytecode, args, self._fees)

    def transact_on(self, contract: Contract, identity: str | None, function: str, *args: Any) -> Any:
        """Send ``function`` of another contract on this chain, signed for ``identity`` (None: the operator)."""
        account = self._operator if identity is None else self._signer(identity)
        return self._transact(account, function, *args, contract=contract)

    def watch_contract(self, contract: Contract, bytecode: str) -> None:
        """List the operations of another contract on this chain in ``history()`` too."""
        self._history.add_contract(contract, bytecode)

    def call_on(self, contract: Contract, function: str, *args: Any, block: int | None = None) -> Any:
        """Call a view of another contract on this chain (at ``block``, default the head)."""
        try:
            return getattr(contract.functions, function)(*args).call(
                block_identifier="latest" if block is None else block
            )
        except ContractLogicError as exc:
            raise ContractRevert(str(exc.message or "").removeprefix("execution reverted: ")) from exc
        except Web3Exception as exc:
            raise ChainError(f"reading {function} from the chain failed: {exc}") from exc

    # ---------------------------------------------------------------------------------------- chain status

    def history(self, training: str | None = None, limit: int | None = None) -> list[Operation]:
        """Decoded contract operations, oldest first (with ``limit``: the most recent ``limit``)."""
        operations = self._history.operations(training, limit)
        if self._chain_ticks == TICKS_PER_SECOND:
            return operations
        return [replace(op, timestamp=self._ms(op.timestamp)) for op in operations]

    def head(self) -> ChainHead:
        block = self._w3.eth.get_block("latest")
        return ChainHead(
            height=int(block["number"]),
            hash=HexBytes(block["hash"]).to_0x_hex(),
            timestamp=self._ms(block["timestamp"]),
        )

    def _ms(self, chain_time: int) -> int:
        """Chain time in milliseconds (the embedded chain's unit already; seconds elsewhere)."""
        return int(chain_time) * (TICKS_PER_SECOND // self._chain_ticks)

    def wait_for_change(self, after_height: int, timeout: float) -> int:
        """Block until the chain is higher than ``after_height`` or ``timeout`` seconds pass; return the height."""
        if self._chain is not None:
            return self._chain.wait_for_height(after_height, timeout)
        deadline = time.monotonic() + max(0.0, timeout)
        pause = threading.Event()
        while True:
            height = int(self._w3.eth.block_number)
            remaining = deadline - time.monotonic()
            if height > after_height or remaining <= 0:
                return height
            pause.wait(min(0.2, remaining))

    # -------------------------------------------------------------------------------------------- reading

    def _view(self, function: str, *args: Any) -> Any:
        """Call a view at the current head; answers are cached until the chain grows (views are pure)."""
        height = self._chain.height if self._chain is not None else int(self._w3.eth.block_number)
        key = (function, args)
        with self._locks_guard:
            if self._view_height != height:
                self._view_cache.clear()
                self._view_height = height
            if key in self._view_cache:
                return self._view_cache[key]
        try:
            value = getattr(self._contract.functions, function)(*args).call(block_identifier=height)
        except ContractLogicError as exc:
            raise ContractRevert(str(exc.message or "").removeprefix("execution reverted: ")) from exc
        except Web3Exception as exc:
            raise ChainError(f"reading {function} from the chain failed: {exc}") from exc
        with self._locks_guard:
            if self._view_height == height and len(self._view_cache) < _VIEW_CACHE_SIZE:
                self._view_cache[key] = value
        return value

    # -------------------------------------------------------------------------------------------- sending

    def _send_lock(self, address: str) -> threading.Lock:
        with self._locks_guard:
            return self._send_locks.setdefault(address, threading.Lock())

    def _transact(self, account: LocalAccount, function: str, *args: Any, contract: Contract | None = None) -> Any:
        target = self._contract if contract is None else contract
        try:
            data = target.encode_abi(function, args=list(args))
        except (Web3Exception, ValueError, TypeError, OverflowError) as exc:
            raise ConfigurationError(f"bad arguments for {function}: {exc}") from exc
        tx: dict[str, Any] = {"from": account.address, "to": target.address, "value": 0, "data": data}
        with self._send_lock(account.address):
            receipt = self._sign_and_send(account, function, tx)
        if receipt["status"] != 1:
            reason = self._revert_reason(receipt, account.address, data, target.address)
            logger.info("%s by %s reverted: %s", function, account.address, reason)
            raise ContractRevert(reason)
        return receipt

    def _sign_and_send(self, account: LocalAccount, function: str, tx: dict[str, Any]) -> Any:
        """Price, size, sign and send ``tx`` for ``account`` (its send lock held); wait for the receipt."""
        try:
            fees = self._fees.fees(self._w3)
            try:
                gas = self._fees.gas_for(self._w3, tx, TX_GAS)
            except ContractLogicError as exc:  # external chains: refused before paying for a failing transaction
                reason = str(exc.message or "").removeprefix("execution reverted: ") or "transaction reverted"
                logger.info("%s by %s would revert: %s", function, account.address, reason)
                raise ContractRevert(reason) from exc
            if self._fees.needs_funding and account.address != self._operator.address:
                needed = gas * fees.max_price + int(tx.get("value", 0))
                if int(self._w3.eth.get_balance(account.address)) < needed:
                    self._top_up(account.address, max(self._fees.funding_wei, 2 * needed))
            if self._chain is not None:  # the identity may have written through another SN a moment ago
                self._chain.catch_up(self._receipt_timeout)
            nonce = self._w3.eth.get_transaction_count(account.address, "pending")
            signed = {key: value for key, value in tx.items() if key != "from"}
            signed.update(fees.fields, chainId=self._chain_id, nonce=nonce, gas=gas)
            raw = account.sign_transaction(signed).raw_transaction
            tx_hash = self._w3.eth.send_raw_transaction(raw)
            return self._w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self._receipt_timeout, poll_latency=0.05)
        except TimeExhausted as exc:
            raise ChainError(f"{function} was not confirmed within {self._receipt_timeout:.0f} s") from exc
        except (Web3Exception, OSError) as exc:
            who = "operator" if account.address == self._operator.address else "identity account"
            raise ChainError(_send_failure(function, account.address, who, exc)) from exc

    def _top_up(self, address: str, amount: int) -> None:
        """Send ``amount`` wei from the operator to ``address`` (external chains, where accounts pay fees)."""
        if amount <= 0:
            return
        with self._send_lock(self._operator.address):
            fees = self._fees.fees(self._w3)
            try:
                nonce = self._w3.eth.get_transaction_count(self._operator.address, "pending")
                signed: dict[str, Any] = {"to": address, "value": amount, "data": b"", "chainId": self._chain_id}
                signed.update(fees.fields, nonce=nonce, gas=TRANSFER_GAS)
                raw = self._operator.sign_transaction(signed).raw_transaction
                receipt = self._w3.eth.wait_for_transaction_receipt(
                    self._w3.eth.send_raw_transaction(raw), timeout=self._receipt_timeout, poll_latency=0.05
                )
            except TimeExhausted as exc:
                raise ChainError(f"funding {address} was not confirmed within {self._receipt_timeout:.0f} s") from exc
            except (Web3Exception, OSError) as exc:
                raise ChainError(_send_failure("funding " + address, self._operator.address, "operator", exc)) from exc
        if receipt["status"] != 1:
            raise ChainError(f"the operator could not fund {address}: the transfer failed")
        logger.info("funded %s with %s wei", address, amount)

    def _revert_reason(self, receipt: Any, sender: str, data: str, to: str) -> str:
        output = receipt.get("revertReason")
        if output is not None:
            reason = revert_reason(HexBytes(output))
            if reason is not None:
                return reason
        try:  # a node without revertReason in receipts: re-run the call on the parent block's state
            self._w3.eth.call(
                {"from": sender, "to": to, "data": HexBytes(data)},
                block_identifier=int(receipt["blockNumber"]) - 1,
            )
        except ContractLogicError as exc:
            message = str(exc.message or "")
            return message.removeprefix("execution reverted: ") or "transaction reverted"
        except Web3Exception:
            pass
        return "transaction reverted"


# ------------------------------------------------------------------------------------------------ helpers


def _deploy(w3: Web3, operator: LocalAccount, default_training: str, fees: FeePolicy) -> str:
    artifact = load_artifact()
    return _deploy_code(w3, operator, artifact.abi, artifact.bytecode, (default_training,), fees)


def _deploy_code(
    w3: Web3,
    operator: LocalAccount,
    abi: Sequence[Mapping[str, Any]],
    bytecode: str,
    args: Sequence[Any],
    fees: FeePolicy,
) -> str:
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    data = factory.constructor(*args).data_in_transaction
    try:
        gas = fees.gas_for(w3, {"from": operator.address, "data": data, "value": 0}, 20_000_000)
        tx = {
            **fees.fees(w3).fields,
            "chainId": int(w3.eth.chain_id),
            "nonce": w3.eth.get_transaction_count(operator.address, "pending"),
            "to": b"",
            "value": 0,
            "gas": gas,
            "data": data,
        }
        tx_hash = w3.eth.send_raw_transaction(operator.sign_transaction(tx).raw_transaction)
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.05)
    except (Web3Exception, OSError) as exc:
        raise ChainError(
            f"could not deploy the Swarm contract: {_send_failure('deploy', operator.address, 'operator', exc)}"
        ) from exc
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise ChainError("deploying the Swarm contract failed")
    return str(receipt["contractAddress"])


def _send_failure(what: str, address: str, who: str, exc: BaseException) -> str:
    """A message for a transaction the node refused, saying what to do about the usual causes."""
    text = str(exc)
    lowered = text.lower()
    if "insufficient funds" in lowered:
        return (
            f"{what}: account {address} ({who}) cannot pay for gas ({text}); fund the operator account "
            "(--eth-operator-key-file) so it can pay and top up the identity accounts"
        )
    if "fee" in lowered or "underpriced" in lowered or "gas price" in lowered:
        return f"{what} was underpriced for the network's fee market ({text}); the base fee may have jumped, retry"
    if "nonce" in lowered:
        return f"{what}: nonce conflict for {address} ({text}); is another SN signing with the same operator key?"
    return f"{what} could not be sent: {text}"


def _check_same_chain(deployment_file: Path, recorded: int, current: int) -> None:
    if recorded != current:
        raise ChainError(
            f"{deployment_file} records a contract on chain {recorded}, but this node is chain {current}; "
            "connect to the original network or remove the file to deploy anew"
        )


def _secret_file(path: Path) -> bytes:
    """32 random bytes kept hex-encoded in ``path`` (created once, mode 0600)."""
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    value = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value.hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return value


def _write_json(path: Path, value: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(tmp, path)


def _digest_bytes(digest_hex: str) -> bytes:
    text = digest_hex.removeprefix("0x")
    try:
        digest = bytes.fromhex(text)
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise WeightsError(f"the merged model's digest must be a SHA-256 in hex (64 digits), got {digest_hex!r}")
    return digest


def _to_fixed(value: float) -> int:
    """Fixed point 1e9 in int128; NaN and infinities map to the extremes of the range."""
    if math.isnan(value):
        return _INT128_MIN
    if math.isinf(value):
        return _INT128_MAX if value > 0 else _INT128_MIN + 1
    return max(_INT128_MIN + 2, min(_INT128_MAX - 1, round(value * FIXED_POINT)))


def _from_fixed(value: int) -> float:
    if value == _INT128_MIN:
        return math.nan
    if value == _INT128_MAX:
        return math.inf
    if value == _INT128_MIN + 1:
        return -math.inf
    return value / FIXED_POINT
