"""Tasks and task runners on the chain: the ``SwarmTasks`` and ``SwarmTaskRunners`` contracts over web3.

``SwarmTasks`` holds the task definitions (a header and a body, the task's YAML text, written in chunks of at most
``MAX_CHUNK_BYTES`` bytes and recovered byte for byte), ``SwarmTaskRunners`` the task runners and their runs. The
runner contract is attached to the task store once, so a task held by a runner cannot be deleted.

Sending goes through a ``ContractGateway``: in the SN it is the ``LedgerService`` (same web3 connection, operator,
per-identity accounts, send locks and fee policy as the training contract); ``DirectGateway`` is a stand-alone one
for fee-free chains (tests, tools). ``TaskLedger.open`` deploys the two contracts on first use or finds them: a
network of SNs converges on the pair attached first on the chain, so no address has to be handed around.

Timestamps are milliseconds whatever the chain (the embedded chain's clock already ticks in milliseconds).

Liveness of SWOPs: a SWOP beats by listening again, saying how long it may stay silent (``stale_after``). Reading a
task runner through the SN (``report_lost_peers``) fails the unfinished workers of an enrolled SWOP that has been
silent for longer, with a reason that says how to recover; the contract checks the rule against its block time.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, TimeExhausted, Web3Exception

from contracts import ContractArtifact, load_artifact
from sn.chain.provider import EmbeddedProvider
from sn.chain.rpc import revert_reason
from swarm_learning.errors import ChainError, ConfigurationError, ContractRevert

logger = logging.getLogger(__name__)

DEFAULT_TASK_RUNNER = "defaulttaskbb.taskdb.sml.hpe"
ROOT_TASK = "ROOTTASK"
TASK_TYPES = ("MAKE_USER_CONTAINER", "PULL_IMAGE", "MAKE_SWARM_USER_CONTENT", "RUN_SWARM")
MAX_CHUNK_BYTES = 4096  # the contract's limits (SwarmTasks / SwarmTaskRunners constants)
MAX_BODY_BYTES = 32768
MAX_TEXT_BYTES = 1024
TASKS_CONTRACT = "SwarmTasks"
RUNNERS_CONTRACT = "SwarmTaskRunners"
TX_GAS = 5_000_000  # DirectGateway's fixed gas per transaction (a full 4 KiB chunk needs about 3.0 M)
DEPLOY_GAS = 20_000_000
RUNNER_STATES = ("IDLE", "ASSIGNED", "RUNNING", "COMPLETE", "ERROR")
ASSIGN_MODES = ("NONE", "PEERS", "ALL_PEERS", "TARGET")
WORKER_STATUSES = ("ENROLLED", "RUNNING", "COMPLETE", "FAILED")
_ATTACH_SELECTOR = keccak(text="attachRunners(address)")[:4]

__all__ = [
    "DEFAULT_TASK_RUNNER",
    "ROOT_TASK",
    "TASK_TYPES",
    "BodyUpload",
    "ContractGateway",
    "DirectGateway",
    "ListenerInfo",
    "PeerInfo",
    "TaskInfo",
    "TaskLedger",
    "TaskRunnerInfo",
    "WorkerInfo",
    "split_body",
]


# ------------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class TaskInfo:
    name: str
    exists: bool
    task_type: str = ""  # one of TASK_TYPES ("ROOT" for ROOTTASK)
    author: str = ""
    prereq: str = ""
    outcome: str = ""
    finalized: bool = False
    body_hash: str = ""  # 0x keccak-256 of the whole body once finalized, else ""
    chunk_count: int = 0
    body_length: int = 0
    use_count: int = 0  # task runners (not IDLE) holding the task
    held_by: str = ""  # the task runner that took it last
    creator: str = ""  # identity (or "operator" / an address)
    created_at: int = 0
    finalized_at: int = 0

    @property
    def state(self) -> str:
        return "FINALIZED" if self.finalized else "CREATED"


@dataclass(frozen=True)
class BodyUpload:
    """What writing a body cost: one transaction per chunk."""

    task: str
    body_length: int
    chunks: int
    gas_used: int
    max_tx_gas: int


@dataclass(frozen=True)
class WorkerInfo:
    uid: str  # an SL/ML pair of a RUN_SWARM task, else the SWOP itself
    status: str  # ENROLLED, RUNNING, COMPLETE or FAILED
    description: str  # the last progress note, success note or failure reason
    updated_at: int


@dataclass(frozen=True)
class PeerInfo:
    uid: str  # the SWOP's uid
    exists: bool
    enrolled: bool = False
    targeted: bool = False
    awaiting_target: bool = False  # targeted, not enrolled (again) since
    enrollment: int = 0
    active: int = 0
    completed: int = 0
    failed: int = 0
    enrolled_at: int = 0
    workers: tuple[WorkerInfo, ...] = ()

    @property
    def status(self) -> str:
        """WAITING (targeted, not enrolled), FAILED, COMPLETE, RUNNING or ENROLLED."""
        if not self.enrolled or self.awaiting_target:
            return "WAITING"
        statuses = {w.status for w in self.workers}
        if "FAILED" in statuses:
            return "FAILED"
        if statuses == {"COMPLETE"}:
            return "COMPLETE"
        return "RUNNING" if "RUNNING" in statuses or "COMPLETE" in statuses else "ENROLLED"


@dataclass(frozen=True)
class TaskRunnerInfo:
    name: str
    exists: bool
    run: int = 0  # changes with every reset: SWOPs report against the run they enrolled in
    state: str = "IDLE"  # RUNNER_STATES
    mode: str = "NONE"  # ASSIGN_MODES
    task: str = ""
    task_type: str = ""
    peers_needed: int = 0
    enrolled_peers: int = 0
    pending_targets: int = 0
    active: int = 0  # workers
    completed: int = 0
    failed: int = 0
    error_peer: str = ""
    error_worker: str = ""
    error_reason: str = ""
    listeners: int = 0
    creator: str = ""
    assigned_by: str = ""
    created_at: int = 0
    assigned_at: int = 0
    started_at: int = 0
    finished_at: int = 0
    changed_at: int = 0
    reset_at: int = 0

    @property
    def peer_type(self) -> str:
        """``SL`` for RUN_SWARM (peers count SL/ML pairs), ``SWOP`` for other tasks, "" when idle."""
        if not self.task_type:
            return ""
        return "SL" if self.task_type == "RUN_SWARM" else "SWOP"

    @property
    def done(self) -> bool:
        """Nothing more will happen without SWCI: COMPLETE, ERROR or IDLE (what ``WAIT FOR TASKRUNNER`` waits for)."""
        return self.state in ("COMPLETE", "ERROR", "IDLE")


@dataclass(frozen=True)
class ListenerInfo:
    peer: str
    nodes: int  # SL/ML pairs of the SWOP's profile
    since: int
    last_beat: int = 0  # its last call of listen
    stale_after: int = 0  # silence (ms) after which its unfinished workers count as lost; 0 = never


# ------------------------------------------------------------------------------------------------ sending


class ContractGateway(Protocol):
    """How TaskLedger reaches the chain. ``identity`` None means the operator (deployment, attachment)."""

    @property
    def w3(self) -> Web3: ...

    def deploy_contract(self, abi: Sequence[Mapping[str, Any]], bytecode: str, *args: Any) -> str: ...

    def transact_on(self, contract: Contract, identity: str | None, function: str, *args: Any) -> Any: ...

    def call_on(self, contract: Contract, function: str, *args: Any, block: int | None = None) -> Any: ...

    def who(self, address: str) -> str: ...


class DirectGateway:
    """A ``ContractGateway`` for fee-free chains (the embedded chain): fixed gas, fees 0, one send lock per account.

    ``signer`` gives the account of an identity. In the SN use the ``LedgerService`` instead, so the accounts'
    nonces are not raced by two senders.
    """

    def __init__(
        self,
        w3: Web3,
        operator: LocalAccount,
        signer: Callable[[str], LocalAccount],
        gas: int = TX_GAS,
        receipt_timeout: float = 30.0,
    ) -> None:
        self._w3 = w3
        self._operator = operator
        self._signer = signer
        self._gas = gas
        self._receipt_timeout = receipt_timeout
        self._chain_id = int(w3.eth.chain_id)
        self._locks: dict[str, threading.Lock] = {}
        self._identities: dict[str, str] = {}
        self._guard = threading.Lock()

    @property
    def w3(self) -> Web3:
        return self._w3

    def who(self, address: str) -> str:
        if address == self._operator.address:
            return "operator"
        with self._guard:
            return self._identities.get(address, address)

    def deploy_contract(self, abi: Sequence[Mapping[str, Any]], bytecode: str, *args: Any) -> str:
        data = self._w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args).data_in_transaction
        tx = {"to": b"", "value": 0, "data": data}
        receipt = self._send(self._operator, "deploy", tx, DEPLOY_GAS)
        if receipt["status"] != 1 or not receipt["contractAddress"]:
            raise ChainError(f"deploying a contract failed: {self._reason(receipt, tx)}")
        return str(receipt["contractAddress"])

    def transact_on(self, contract: Contract, identity: str | None, function: str, *args: Any) -> Any:
        account = self._operator if identity is None else self._account(identity)
        try:
            data = contract.encode_abi(function, args=list(args))
        except (Web3Exception, ValueError, TypeError, OverflowError) as exc:
            raise ConfigurationError(f"bad arguments for {function}: {exc}") from exc
        tx = {"to": contract.address, "value": 0, "data": data}
        receipt = self._send(account, function, tx, self._gas)
        if receipt["status"] != 1:
            reason = self._reason(receipt, {**tx, "from": account.address})
            logger.info("%s by %s reverted: %s", function, account.address, reason)
            raise ContractRevert(reason)
        return receipt

    def call_on(self, contract: Contract, function: str, *args: Any, block: int | None = None) -> Any:
        try:
            return getattr(contract.functions, function)(*args).call(
                block_identifier="latest" if block is None else block
            )
        except ContractLogicError as exc:
            raise ContractRevert(str(exc.message or "").removeprefix("execution reverted: ")) from exc
        except Web3Exception as exc:
            raise ChainError(f"reading {function} from the chain failed: {exc}") from exc

    def _account(self, identity: str) -> LocalAccount:
        account = self._signer(identity)
        with self._guard:
            self._identities[account.address] = identity
        return account

    def _send(self, account: LocalAccount, function: str, tx: dict[str, Any], gas: int) -> Any:
        with self._guard:
            lock = self._locks.setdefault(account.address, threading.Lock())
        try:
            with lock:
                nonce = self._w3.eth.get_transaction_count(account.address, "pending")
                fields = {"type": 2, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0, "chainId": self._chain_id}
                signed = account.sign_transaction({**tx, **fields, "nonce": nonce, "gas": gas})
                tx_hash = self._w3.eth.send_raw_transaction(signed.raw_transaction)
                return self._w3.eth.wait_for_transaction_receipt(
                    tx_hash, timeout=self._receipt_timeout, poll_latency=0.05
                )
        except TimeExhausted as exc:
            raise ChainError(f"{function} was not confirmed within {self._receipt_timeout:.0f} s") from exc
        except (Web3Exception, OSError) as exc:
            raise ChainError(f"{function} by {account.address} could not be sent: {exc}") from exc

    def _reason(self, receipt: Any, tx: dict[str, Any]) -> str:
        output = receipt.get("revertReason")
        if output is not None:
            reason = revert_reason(HexBytes(output))
            if reason is not None:
                return reason
        try:  # a node without revertReason in its receipts: re-run the call on the parent block's state
            call = {key: tx[key] for key in ("from", "to", "data") if tx.get(key)}
            self._w3.eth.call(call, block_identifier=int(receipt["blockNumber"]) - 1)  # type: ignore[arg-type]
        except ContractLogicError as exc:
            return str(exc.message or "").removeprefix("execution reverted: ") or "transaction reverted"
        except Web3Exception:
            pass
        return "transaction reverted (out of gas?)"


# --------------------------------------------------------------------------------------------- the ledger


class TaskLedger:
    """Tasks and task runners on the chain, acting for node identities through a ``ContractGateway``."""

    DEPLOYMENT_FILE = "tasks.json"

    def __init__(self, gateway: ContractGateway, tasks: Contract, runners: Contract) -> None:
        self._gateway = gateway
        self._tasks = tasks
        self._runners = runners
        embedded = isinstance(gateway.w3.provider, EmbeddedProvider)
        self._ms_per_tick = 1 if embedded else 1000
        self.tasks_address: str = tasks.address
        self.runners_address: str = runners.address
        self._liveness = threading.Lock()  # one lost-peer check at a time on this SN

    # ---------------------------------------------------------------------------------------------- opening

    @classmethod
    def deploy(cls, gateway: ContractGateway, default_task_runner: str = DEFAULT_TASK_RUNNER) -> TaskLedger:
        """Deploy both contracts (signed by the operator) and attach the runners to the task store."""
        tasks_artifact, runners_artifact = _artifacts()
        tasks_address = gateway.deploy_contract(tasks_artifact.abi, tasks_artifact.bytecode)
        runners_address = gateway.deploy_contract(
            runners_artifact.abi, runners_artifact.bytecode, tasks_address, default_task_runner
        )
        tasks = _contract(gateway.w3, tasks_address, tasks_artifact)
        gateway.transact_on(tasks, None, "attachRunners", runners_address)
        logger.info("deployed the task contracts: tasks %s, task runners %s", tasks_address, runners_address)
        return cls(gateway, tasks, _contract(gateway.w3, runners_address, runners_artifact))

    @classmethod
    def at(cls, gateway: ContractGateway, tasks_address: str) -> TaskLedger:
        """The task contracts whose task store is at ``tasks_address`` (its runners are read from it)."""
        tasks_artifact, runners_artifact = _artifacts()
        w3 = gateway.w3
        if len(w3.eth.get_code(Web3.to_checksum_address(tasks_address))) == 0:
            raise ChainError(f"no task contract at {tasks_address} on this chain")
        _require_this_release(w3, tasks_address, tasks_artifact, TASKS_CONTRACT)
        tasks = _contract(w3, tasks_address, tasks_artifact)
        runners_address = str(gateway.call_on(tasks, "runners"))
        if int(runners_address, 16) == 0:
            raise ChainError(f"the task contract at {tasks_address} has no task runners attached")
        _require_this_release(w3, runners_address, runners_artifact, RUNNERS_CONTRACT)
        return cls(gateway, tasks, _contract(w3, runners_address, runners_artifact))

    @classmethod
    def open(
        cls,
        gateway: ContractGateway,
        data_dir: Path | None = None,
        tasks_address: str | None = None,
        default_task_runner: str = DEFAULT_TASK_RUNNER,
    ) -> TaskLedger:
        """The network's task contracts: the address kept in ``data_dir``, else ``tasks_address``, else the first
        pair attached on the chain; deployed when there is none yet. After deploying it looks again and keeps the
        first attached pair, so SNs that deploy at the same moment still end up sharing one."""
        record = Path(data_dir) / cls.DEPLOYMENT_FILE if data_dir is not None else None
        chain_id = int(gateway.w3.eth.chain_id)
        if record is not None and record.exists():
            kept = json.loads(record.read_text())
            if int(kept.get("chain_id", chain_id)) != chain_id:
                raise ChainError(
                    f"{record} records task contracts on chain {kept['chain_id']}, but this node is chain {chain_id}; "
                    "connect to the original network or remove the file"
                )
            tasks_address = str(kept["tasks_address"])
        if tasks_address is None:
            tasks_address = find_task_store(gateway.w3)
        if tasks_address is None:
            cls.deploy(gateway, default_task_runner)
            tasks_address = find_task_store(gateway.w3)
            if tasks_address is None:
                raise ChainError("the task contracts were deployed but cannot be found on the chain")
        ledger = cls.at(gateway, tasks_address)
        if record is not None and not record.exists():
            record.parent.mkdir(parents=True, exist_ok=True)
            tmp = record.with_suffix(".tmp")
            tmp.write_text(json.dumps({"tasks_address": ledger.tasks_address, "chain_id": chain_id}, indent=2) + "\n")
            os.replace(tmp, record)
        return ledger

    def contracts(self) -> tuple[Contract, Contract]:
        """The task store and the task runner contract."""
        return self._tasks, self._runners

    def watched(self) -> tuple[tuple[Contract, str], ...]:
        """Each contract with its creation bytecode, for a history reader to decode their transactions."""
        tasks_artifact, runners_artifact = _artifacts()
        return (self._tasks, tasks_artifact.bytecode), (self._runners, runners_artifact.bytecode)

    # ------------------------------------------------------------------------------------------------ tasks

    def create_task(self, identity: str, name: str, task_type: str, author: str, prereq: str, outcome: str) -> None:
        self._send(self._tasks, identity, "createTask", name, task_type, author, prereq, outcome)

    def append_body(self, identity: str, name: str, index: int, chunk: bytes | str) -> int:
        """Write body chunk ``index`` (the next index appends, an earlier one replaces); returns the gas used."""
        data = chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)
        receipt = self._send(self._tasks, identity, "appendTaskBody", name, int(index), data)
        return int(receipt["gasUsed"])

    def write_body(
        self, identity: str, name: str, body: bytes | str, chunk_bytes: int = MAX_CHUNK_BYTES, first_index: int = 0
    ) -> BodyUpload:
        """Append ``body`` in chunks of at most ``chunk_bytes`` (cut after a line where possible)."""
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        gas = [
            self.append_body(identity, name, first_index + i, chunk)
            for i, chunk in enumerate(split_body(data, chunk_bytes))
        ]
        return BodyUpload(name, len(data), len(gas), sum(gas), max(gas, default=0))

    def finalize_task(self, identity: str, name: str) -> int:
        """Freeze the task (its body's keccak-256 is computed on chain); returns the gas used."""
        return int(self._send(self._tasks, identity, "finalizeTask", name)["gasUsed"])

    def register_task(
        self,
        identity: str,
        name: str,
        task_type: str,
        author: str,
        prereq: str,
        outcome: str,
        body: bytes | str,
        finalize: bool = True,
    ) -> BodyUpload:
        """Create the task, write its body and (by default) finalize it."""
        self.create_task(identity, name, task_type, author, prereq, outcome)
        upload = self.write_body(identity, name, body)
        if finalize:
            self.finalize_task(identity, name)
        return upload

    def delete_task(self, identity: str, name: str) -> None:
        self._send(self._tasks, identity, "deleteTask", name)

    def task_names(self) -> list[str]:
        """Registered tasks in creation order, ``ROOTTASK`` first."""
        return [str(name) for name in self._call(self._tasks, "taskNames")]

    def task(self, name: str, block: int | None = None) -> TaskInfo:
        (exists, task_name, task_type, author, prereq, outcome, finalized, body_hash, chunks, length, uses, held_by,
         creator, created_at, finalized_at) = self._call(self._tasks, "getTask", name, block=block)  # fmt: skip
        if not exists:
            return TaskInfo(name=name, exists=False)
        return TaskInfo(
            name=str(task_name),
            exists=True,
            task_type=str(task_type),
            author=str(author),
            prereq=str(prereq),
            outcome=str(outcome),
            finalized=bool(finalized),
            body_hash=HexBytes(body_hash).to_0x_hex() if finalized else "",
            chunk_count=int(chunks),
            body_length=int(length),
            use_count=int(uses),
            held_by=str(held_by),
            creator=self._gateway.who(str(creator)),
            created_at=self._ms(created_at),
            finalized_at=self._ms(finalized_at),
        )

    def body(self, name: str) -> bytes:
        """The task's body exactly as written (checked against the recorded hash once finalized)."""
        block = int(self._gateway.w3.eth.block_number)
        info = self.task(name, block=block)
        if not info.exists:
            raise ContractRevert(f"no such task: {name}")
        data = b"".join(
            bytes(self._call(self._tasks, "getTaskBodyChunk", name, i, block=block)) for i in range(info.chunk_count)
        )
        if len(data) != info.body_length or (info.finalized and keccak(data) != HexBytes(info.body_hash)):
            raise ChainError(f"the body of task {name} read from the chain does not match its recorded length/hash")
        return data

    def body_text(self, name: str) -> str:
        return self.body(name).decode("utf-8")

    # ----------------------------------------------------------------------------------------- task runners

    def create_task_runner(self, identity: str, name: str) -> None:
        self._send(self._runners, identity, "createTaskRunner", name)

    def task_runner_names(self) -> list[str]:
        return [str(name) for name in self._call(self._runners, "taskRunnerNames")]

    def listen(self, identity: str, runner: str, peer: str, nodes: int, stale_after_s: float = 0.0) -> None:
        """SWOP ``peer`` listens on ``runner`` with ``nodes`` SL/ML pairs in its profile (counted by ALL PEERS); called
        again, it is the SWOP's beat. ``stale_after_s`` > 0: silent for longer, its unfinished workers count as lost."""
        stale = 0 if stale_after_s <= 0 else max(1, round(stale_after_s * 1000 / self._ms_per_tick))
        self._send(self._runners, identity, "listen", runner, peer, int(nodes), stale)

    def stop_listening(self, identity: str, runner: str, peer: str) -> None:
        self._send(self._runners, identity, "stopListening", runner, peer)

    def listeners(self, runner: str) -> tuple[ListenerInfo, ...]:
        return tuple(
            ListenerInfo(str(peer), int(nodes), self._ms(since), self._ms(seen), self._ms(stale))
            for peer, nodes, since, seen, stale in self._call(self._runners, "getListeners", runner)
        )

    def report_lost_peers(
        self, runner: str, info: TaskRunnerInfo | None = None, now_ms: int | None = None
    ) -> list[str]:
        """Fail the unfinished workers of every SWOP enrolled in the current run of ``runner`` that has not beaten for
        longer than it promised (sent as the operator; the contract checks the rule). Returns the peers reported;
        while a check runs on this SN another one returns at once."""
        info = info or self.task_runner(runner)
        if not info.exists or info.state not in ("ASSIGNED", "RUNNING") or info.active == 0:
            return []
        now = int(time.time() * 1000) if now_ms is None else now_ms
        silent = [li for li in self.listeners(runner) if li.stale_after and now > li.last_beat + li.stale_after]
        if not silent or not self._liveness.acquire(blocking=False):
            return []
        try:
            return [li.peer for li in silent if self._report_lost(runner, info, li, now)]
        finally:
            self._liveness.release()

    def _report_lost(self, runner: str, info: TaskRunnerInfo, listener: ListenerInfo, now: int) -> bool:
        peer = self.peer(runner, listener.peer)
        if not (peer.enrolled and not peer.awaiting_target and peer.active > 0):
            return False
        reason = (
            f"SWOP {peer.uid} stopped reporting: last heartbeat {(now - listener.last_beat) / 1000:.0f} s ago "
            f"(stale after {listener.stale_after / 1000:.0f} s); restart it and "
            f"ASSIGN TASK {info.task} TO {runner} TARGET {peer.uid}"
        )
        try:
            self._send(self._runners, None, "reportLostPeer", runner, info.run, peer.uid, _clip(reason))
        except (ContractRevert, ChainError) as exc:  # it beat meanwhile, or another SN reported it first
            logger.info("task runner %s: %s not reported lost: %s", runner, peer.uid, exc)
            return False
        logger.warning("task runner %s run %s: %s", runner, info.run, reason)
        return True

    def assign_task(self, identity: str, runner: str, task: str, peers_needed: int) -> None:
        """``ASSIGN TASK <task> TO <runner> WITH <peers_needed> PEERS`` (the runner must be IDLE)."""
        self._send(self._runners, identity, "assignTask", runner, task, int(peers_needed))

    def assign_task_to_all_peers(self, identity: str, runner: str, task: str) -> None:
        """``... WITH ALL PEERS``: the minimum is every SWOP listening now (RUN_SWARM: all their SL/ML pairs)."""
        self._send(self._runners, identity, "assignTaskToAllPeers", runner, task)

    def assign_task_to_target(self, identity: str, runner: str, task: str, peer: str) -> None:
        """``... TARGET <peer>``: start an IDLE runner on that SWOP only, or add it to the running task (a retry of a
        failed peer clears the run's failures)."""
        self._send(self._runners, identity, "assignTaskToTarget", runner, task, peer)

    def enroll(self, identity: str, runner: str, run: int, peer: str, workers: Sequence[str] = ()) -> None:
        """SWOP ``peer`` takes part in ``run``; RUN_SWARM peers name their SL/ML pairs, others name none."""
        self._send(self._runners, identity, "enroll", runner, int(run), peer, [str(w) for w in workers])

    def report_progress(
        self, identity: str, runner: str, run: int, peer: str, description: str, worker: str | None = None
    ) -> None:
        """A worker's step (``worker`` defaults to the peer itself, the one worker of non-RUN_SWARM tasks)."""
        self._report("reportProgress", identity, runner, run, peer, worker, description)

    def report_success(
        self, identity: str, runner: str, run: int, peer: str, description: str = "", worker: str | None = None
    ) -> None:
        self._report("reportSuccess", identity, runner, run, peer, worker, description)

    def report_failure(
        self, identity: str, runner: str, run: int, peer: str, reason: str, worker: str | None = None
    ) -> None:
        """The worker failed; the runner goes to ERROR with ``reason`` (cut to the chain's limit if longer)."""
        self._report("reportFailure", identity, runner, run, peer, worker, reason or "failed")

    def reset_task_runner(self, identity: str, runner: str) -> None:
        self._send(self._runners, identity, "resetTaskRunner", runner)

    def task_runner(self, name: str, block: int | None = None) -> TaskRunnerInfo:
        (exists, runner, run, state, mode, task, task_type, needed, enrolled, pending, active, completed, failed,
         error_peer, error_worker, error_reason, listeners, creator, assigned_by, created_at, assigned_at, started_at,
         finished_at, changed_at, reset_at) = self._call(self._runners, "getTaskRunner", name, block=block)  # fmt: skip
        if not exists:
            return TaskRunnerInfo(name=name, exists=False)
        return TaskRunnerInfo(
            name=str(runner),
            exists=True,
            run=int(run),
            state=RUNNER_STATES[int(state)],
            mode=ASSIGN_MODES[int(mode)],
            task=str(task),
            task_type=str(task_type),
            peers_needed=int(needed),
            enrolled_peers=int(enrolled),
            pending_targets=int(pending),
            active=int(active),
            completed=int(completed),
            failed=int(failed),
            error_peer=str(error_peer),
            error_worker=str(error_worker),
            error_reason=str(error_reason),
            listeners=int(listeners),
            creator=self._gateway.who(str(creator)),
            assigned_by=self._gateway.who(str(assigned_by)) if int(str(assigned_by), 16) else "",
            created_at=self._ms(created_at),
            assigned_at=self._ms(assigned_at),
            started_at=self._ms(started_at),
            finished_at=self._ms(finished_at),
            changed_at=self._ms(changed_at),
            reset_at=self._ms(reset_at),
        )

    def peer_names(self, runner: str) -> list[str]:
        """The current run's peers (enrolled or targeted), in the order they joined."""
        return [str(peer) for peer in self._call(self._runners, "getTaskRunnerPeers", runner)]

    def peer(self, runner: str, peer: str) -> PeerInfo:
        (exists, uid, enrolled, targeted, awaiting, enrollment, active, completed, failed, enrolled_at,
         workers) = self._call(self._runners, "getPeer", runner, peer)  # fmt: skip
        if not exists:
            return PeerInfo(uid=str(uid), exists=False)
        return PeerInfo(
            uid=str(uid),
            exists=True,
            enrolled=bool(enrolled),
            targeted=bool(targeted),
            awaiting_target=bool(awaiting),
            enrollment=int(enrollment),
            active=int(active),
            completed=int(completed),
            failed=int(failed),
            enrolled_at=self._ms(enrolled_at),
            workers=tuple(
                WorkerInfo(str(w_uid), WORKER_STATUSES[int(status)], str(text), self._ms(at))
                for w_uid, status, text, at in workers
            ),
        )

    def peers(self, runner: str) -> tuple[PeerInfo, ...]:
        return tuple(self.peer(runner, name) for name in self.peer_names(runner))

    # ------------------------------------------------------------------------------------------- internals

    def _report(
        self, function: str, identity: str, runner: str, run: int, peer: str, worker: str | None, text: str
    ) -> None:
        self._send(self._runners, identity, function, runner, int(run), peer, worker or peer, _clip(text))

    def _send(self, contract: Contract, identity: str | None, function: str, *args: Any) -> Any:
        return self._gateway.transact_on(contract, identity, function, *args)

    def _call(self, contract: Contract, function: str, *args: Any, block: int | None = None) -> Any:
        return self._gateway.call_on(contract, function, *args, block=block)

    def _ms(self, chain_time: int) -> int:
        return int(chain_time) * self._ms_per_tick


# ------------------------------------------------------------------------------------------------ helpers


def split_body(body: bytes, chunk_bytes: int = MAX_CHUNK_BYTES) -> list[bytes]:
    """Cut ``body`` into chunks of at most ``chunk_bytes``: after the last newline of a chunk when that keeps it at
    least half full, else at a UTF-8 character boundary. Joining the chunks gives ``body`` back."""
    if not 4 <= chunk_bytes <= MAX_CHUNK_BYTES:
        raise ConfigurationError(f"chunk size must be 4..{MAX_CHUNK_BYTES} bytes, got {chunk_bytes}")
    return list(_chunks(body, chunk_bytes))


def _chunks(body: bytes, size: int) -> Iterator[bytes]:
    start = 0
    while len(body) - start > size:
        end = start + size
        newline = body.rfind(b"\n", start, end)
        if newline >= start + size // 2:
            end = newline + 1
        else:
            while end > start + 1 and body[end] & 0xC0 == 0x80:  # do not split a UTF-8 sequence
                end -= 1
        yield body[start:end]
        start = end
    if start < len(body):
        yield body[start:]


def find_task_store(w3: Web3) -> str | None:
    """The task store whose task runners were attached first on the chain (None when there is none yet)."""
    height = int(w3.eth.block_number)
    for number in range(1, height + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        transactions: list[Any] = list(block["transactions"])
        for tx in transactions:
            data = HexBytes(tx["input"])
            if tx.get("to") is None or data[:4] != _ATTACH_SELECTOR:
                continue
            if w3.eth.get_transaction_receipt(tx["hash"])["status"] == 1:
                return str(tx["to"])
    return None


def _clip(text: str, limit: int = MAX_TEXT_BYTES) -> str:
    """``text`` cut to ``limit`` UTF-8 bytes (ending in an ellipsis when cut)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "…"


def _artifacts() -> tuple[ContractArtifact, ContractArtifact]:
    return load_artifact(TASKS_CONTRACT), load_artifact(RUNNERS_CONTRACT)


def _require_this_release(w3: Web3, address: str, artifact: ContractArtifact, name: str) -> None:
    if not artifact.is_code_of(bytes(w3.eth.get_code(Web3.to_checksum_address(address)))):
        raise ChainError(
            f"the {name} contract at {address} was deployed by another release of this software (its code is not "
            f"this release's contracts/build/{name}.json): run the release that deployed it, or deploy the task "
            "contracts again (a new SN data folder does)"
        )


def _contract(w3: Web3, address: str, artifact: ContractArtifact) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact.abi)
