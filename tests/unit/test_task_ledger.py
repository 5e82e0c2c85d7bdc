"""Tasks and task runners on the real embedded chain: what SWCI registers and assigns, what SWOPs report."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from sn import task_ledger
from sn.chain.engine import EmbeddedChain
from sn.chain.provider import EmbeddedProvider
from sn.task_ledger import (
    DEFAULT_TASK_RUNNER,
    MAX_CHUNK_BYTES,
    ROOT_TASK,
    TX_GAS,
    DirectGateway,
    TaskLedger,
    find_task_store,
    split_body,
)
from swarm_learning.errors import ChainError, ContractRevert

TR = DEFAULT_TASK_RUNNER
SWCI = "swci-1"

BUILD_TASK_YAML = """\
---
Name: user_env_tf_build_task
TaskType: MAKE_USER_CONTAINER
Author: Zoë Ñúñez – 张伟 (Équipe ML) 🚀
Prereq: ROOTTASK
Outcome: user-env-tf2.7.0-swop
Body:
    BuildContext: sl-cli-lib
    BuildType: INLINE
    BuildSteps:
    - FROM tensorflow/tensorflow:2.7.0
    - ' '
    - RUN pip3 install --upgrade pip==23.3.2 && \\
    -   pip3 install \\
    -   keras matplotlib opencv-python pandas protobuf==3.15.6
    - ' '
    - '# Größe prüfen — naïve café “quotes” ✓'
    - RUN mkdir -p /tmp/hpe-swarmcli-pkg
    - COPY swarmlearning-client-py3-none-manylinux_2_24_x86_64.whl /tmp/hpe-swarmcli-pkg/swarmlearning-client-py3-none-manylinux_2_24_x86_64.whl
    - RUN pip3 install /tmp/hpe-swarmcli-pkg/swarmlearning-client-py3-none-manylinux_2_24_x86_64.whl
"""


def derived_signer(secret: bytes) -> Callable[[str], LocalAccount]:
    """Per-identity accounts derived from an SN's secret, as the SN derives them."""
    accounts: dict[str, LocalAccount] = {}

    def signer(identity: str) -> LocalAccount:
        if identity not in accounts:
            accounts[identity] = Account.from_key(keccak(secret + identity.encode()))
        return accounts[identity]

    return signer


def gateway_on(w3: Web3, name: str) -> DirectGateway:
    """What one SN brings: its operator key and its per-identity accounts."""
    return DirectGateway(w3, Account.from_key(keccak(text=f"{name}-operator")), derived_signer(name.encode()))


@pytest.fixture
def w3(tmp_path: Path) -> Web3:
    return Web3(EmbeddedProvider(EmbeddedChain(tmp_path / "chain")))


@pytest.fixture
def ledger(w3: Web3, tmp_path: Path) -> TaskLedger:
    return TaskLedger.open(gateway_on(w3, "sn-1"), tmp_path / "sn-1")


def finalized(ledger: TaskLedger, name: str, task_type: str = "PULL_IMAGE", body: str = "Body: {}\n") -> str:
    ledger.register_task(SWCI, name, task_type, "tester", ROOT_TASK, f"{name}-outcome", body)
    return name


def twenty_kb_build_task() -> bytes:
    steps = "".join(
        f"    - RUN pip3 install --no-cache-dir package-{i:03d}==1.{i}.0  # étape {i} — vérifiée ✓\n"
        for i in range(224)
    )
    text = BUILD_TASK_YAML.split("    BuildSteps:\n")[0] + "    BuildSteps:\n" + steps
    return text.encode("utf-8")


# -------------------------------------------------------------------------------------------------- tasks


def test_the_defaults_exist_right_after_deployment(ledger: TaskLedger) -> None:
    assert ledger.task_names() == [ROOT_TASK]
    root = ledger.task(ROOT_TASK)
    assert root.finalized and root.task_type == "ROOT" and root.body_hash == "0x" + keccak(b"").hex()
    assert ledger.task_runner_names() == [TR]
    runner = ledger.task_runner(TR)
    assert (runner.exists, runner.state, runner.run, runner.task, runner.creator) == (True, "IDLE", 1, "", "operator")


def test_a_task_yaml_with_unicode_reads_back_byte_for_byte(ledger: TaskLedger) -> None:
    original = BUILD_TASK_YAML.encode("utf-8")
    ledger.create_task(SWCI, "user_env_tf_build_task", "MAKE_USER_CONTAINER", "Zoë – 张伟", ROOT_TASK, "user-env")
    upload = ledger.write_body(SWCI, "user_env_tf_build_task", original, chunk_bytes=61)  # many small chunks
    assert upload.chunks == len(split_body(original, 61)) > 10 and upload.body_length == len(original)
    assert ledger.body("user_env_tf_build_task") == original  # readable before finalizing too
    ledger.finalize_task(SWCI, "user_env_tf_build_task")

    info = ledger.task("user_env_tf_build_task")
    assert (info.task_type, info.author, info.prereq, info.outcome) == (
        "MAKE_USER_CONTAINER",
        "Zoë – 张伟",
        ROOT_TASK,
        "user-env",
    )
    assert (info.state, info.chunk_count, info.body_length) == ("FINALIZED", upload.chunks, len(original))
    assert info.body_hash == "0x" + keccak(original).hex() and info.creator == SWCI
    assert ledger.body_text("user_env_tf_build_task") == BUILD_TASK_YAML
    assert ledger.task_names() == [ROOT_TASK, "user_env_tf_build_task"]


def test_a_finalized_task_body_cannot_change(ledger: TaskLedger) -> None:
    finalized(ledger, "pull-task-tf2")
    with pytest.raises(ContractRevert, match="^task pull-task-tf2 is finalized: its body cannot change$"):
        ledger.append_body(SWCI, "pull-task-tf2", 1, "Tag: '2.8.0'\n")
    with pytest.raises(ContractRevert, match="is already finalized"):
        ledger.finalize_task(SWCI, "pull-task-tf2")
    assert ledger.body_text("pull-task-tf2") == "Body: {}\n"


def test_append_task_body_replaces_a_line_by_index_and_refuses_gaps(ledger: TaskLedger) -> None:
    ledger.create_task(SWCI, "manual", "PULL_IMAGE", "me", ROOT_TASK, "img")
    ledger.append_body(SWCI, "manual", 0, "Tag: 2.7.0\n")
    ledger.append_body(SWCI, "manual", 1, "RepoName: tf\n")
    ledger.append_body(SWCI, "manual", 0, "Tag: '2.7.0'\n")
    with pytest.raises(ContractRevert, match="^body chunk 5 is beyond the end: the next is 2$"):
        ledger.append_body(SWCI, "manual", 5, "Auth: ~\n")
    assert ledger.body_text("manual") == "Tag: '2.7.0'\nRepoName: tf\n"


def test_malformed_tasks_are_refused_with_the_reason(ledger: TaskLedger) -> None:
    with pytest.raises(ContractRevert, match="^unknown task type BUILD: expected MAKE_USER_CONTAINER, PULL_IMAGE"):
        ledger.create_task(SWCI, "t", "BUILD", "me", ROOT_TASK, "x")
    ledger.create_task(SWCI, "t", "RUN_SWARM", "me", ROOT_TASK, "x")
    with pytest.raises(ContractRevert, match="^task t exists$"):
        ledger.create_task(SWCI, "t", "RUN_SWARM", "me", ROOT_TASK, "x")
    with pytest.raises(ContractRevert, match=f"^body chunk is too long: {MAX_CHUNK_BYTES + 1} bytes, at most 4096$"):
        ledger.append_body(SWCI, "t", 0, b"x" * (MAX_CHUNK_BYTES + 1))
    with pytest.raises(ContractRevert, match="^no such task: nope$"):
        ledger.finalize_task(SWCI, "nope")


def test_a_20_kb_task_body_fits_in_a_few_transactions_well_below_the_gas_cap(ledger: TaskLedger) -> None:
    body = twenty_kb_build_task()
    assert 20_480 <= len(body) <= 21_000
    ledger.create_task(SWCI, "big-build", "MAKE_USER_CONTAINER", "me", ROOT_TASK, "big-image")
    upload = ledger.write_body(SWCI, "big-build", body)
    finalize_gas = ledger.finalize_task(SWCI, "big-build")
    print(
        f"\n{len(body)} byte task body: {upload.chunks} append transactions, {upload.gas_used:,} gas in all, "
        f"at most {upload.max_tx_gas:,} per transaction; finalize {finalize_gas:,} gas (tx gas limit {TX_GAS:,})"
    )
    assert upload.chunks <= len(body) // 4000 + 1
    assert upload.max_tx_gas < 0.7 * TX_GAS and finalize_gas < 0.5 * TX_GAS
    assert ledger.body("big-build") == body


# ------------------------------------------------------------------------------------------- task runners


def test_a_task_must_be_finalized_before_it_is_assigned(ledger: TaskLedger) -> None:
    ledger.create_task(SWCI, "draft", "PULL_IMAGE", "me", ROOT_TASK, "img")
    with pytest.raises(ContractRevert, match="^task draft is not finalized: finalize it before assigning it$"):
        ledger.assign_task(SWCI, TR, "draft", 1)
    with pytest.raises(ContractRevert, match="^ROOTTASK cannot be assigned$"):
        ledger.assign_task(SWCI, TR, ROOT_TASK, 1)
    assert ledger.task_runner(TR).state == "IDLE"


def test_assigned_with_two_peers_the_runner_completes_when_both_report_success(ledger: TaskLedger) -> None:
    task = finalized(ledger, "build", "MAKE_USER_CONTAINER")
    ledger.assign_task(SWCI, TR, task, 2)
    status = ledger.task_runner(TR)
    assert (status.state, status.task, status.peers_needed, status.peer_type, status.assigned_by) == (
        "ASSIGNED",
        task,
        2,
        "SWOP",
        SWCI,
    )
    run = status.run
    ledger.enroll("swop-1", TR, run, "swop-1")
    ledger.enroll("swop-2", TR, run, "swop-2")
    with pytest.raises(ContractRevert, match=f"^task runner {TR} has the 2 peers it needs$"):
        ledger.enroll("swop-3", TR, run, "swop-3")
    ledger.report_progress("swop-1", TR, run, "swop-1", "building user-env image: step 3/9")
    ledger.report_success("swop-1", TR, run, "swop-1", "image build-outcome:latest built")
    assert ledger.task_runner(TR).state == "RUNNING"
    with pytest.raises(ContractRevert, match="^task runner .* is busy with task build \\(RUNNING\\): reset it first$"):
        ledger.assign_task(SWCI, TR, task, 1)
    ledger.report_success("swop-2", TR, run, "swop-2", "image built")

    status = ledger.task_runner(TR)
    assert (status.state, status.completed, status.failed, status.enrolled_peers, status.done) == (
        "COMPLETE",
        2,
        0,
        2,
        True,
    )
    assert status.finished_at >= status.started_at >= status.assigned_at > 0
    assert ledger.peer_names(TR) == ["swop-1", "swop-2"]
    one = ledger.peer(TR, "swop-1")
    assert one.status == "COMPLETE" and [(w.uid, w.status, w.description) for w in one.workers] == [
        ("swop-1", "COMPLETE", "image build-outcome:latest built")
    ]
    with pytest.raises(ContractRevert, match="^worker swop-2 of peer swop-2 already reported COMPLETE$"):
        ledger.report_failure("swop-2", TR, run, "swop-2", "too late")


def test_a_failing_peer_puts_the_runner_in_error_with_its_reason(ledger: TaskLedger) -> None:
    task = finalized(ledger, "swarm_mnist_task", "RUN_SWARM")
    ledger.assign_task(SWCI, TR, task, 4)
    run = ledger.task_runner(TR).run
    ledger.enroll("swop-1", TR, run, "swop-1", ["sl-1", "sl-2"])
    ledger.enroll("swop-2", TR, run, "swop-2", ["sl-3", "sl-4"])
    ledger.report_success("swop-1", TR, run, "swop-1", "ML exited 0", worker="sl-1")
    ledger.report_failure("swop-2", TR, run, "swop-2", "ML container exited with code 137 (killed)", worker="sl-3")
    ledger.report_failure("swop-2", TR, run, "swop-2", "SL lost its peer", worker="sl-4")

    status = ledger.task_runner(TR)
    assert (status.state, status.peer_type, status.completed, status.failed, status.active) == ("ERROR", "SL", 1, 2, 1)
    assert (status.error_peer, status.error_worker, status.error_reason) == (
        "swop-2",
        "sl-3",
        "ML container exited with code 137 (killed)",
    )
    assert ledger.peer(TR, "swop-2").status == "FAILED"
    with pytest.raises(ContractRevert, match="is ERROR: peers cannot enroll"):
        ledger.enroll("swop-3", TR, run, "swop-3", ["sl-5"])


def test_a_targeted_retry_of_the_failed_swop_completes_the_task(ledger: TaskLedger) -> None:
    task = finalized(ledger, "swarm_mnist_task", "RUN_SWARM")
    ledger.assign_task(SWCI, TR, task, 4)
    run = ledger.task_runner(TR).run
    ledger.enroll("swop-1", TR, run, "swop-1", ["sl-1", "sl-2"])
    ledger.enroll("swop-2", TR, run, "swop-2", ["sl-3", "sl-4"])
    ledger.report_failure("sn-1", TR, run, "swop-2", "SWOP swop-2 stopped sending heartbeats", worker="sl-3")
    assert ledger.task_runner(TR).state == "ERROR"

    ledger.assign_task_to_target(SWCI, TR, task, "swop-2")  # the restarted SWOP
    status = ledger.task_runner(TR)
    assert (status.state, status.failed, status.pending_targets) == ("RUNNING", 0, 1)
    assert ledger.peer(TR, "swop-2").status == "WAITING"
    with pytest.raises(ContractRevert, match="^peer swop-2 is not enrolled$"):
        ledger.report_success("swop-2", TR, run, "swop-2", "stale", worker="sl-4")
    ledger.enroll("swop-2", TR, run, "swop-2", ["sl-3", "sl-4"])
    for peer, worker in (("swop-1", "sl-1"), ("swop-1", "sl-2"), ("swop-2", "sl-3")):
        ledger.report_success(peer, TR, run, peer, "done", worker=worker)
    assert ledger.task_runner(TR).state == "RUNNING"
    ledger.report_success("swop-2", TR, run, "swop-2", "done", worker="sl-4")

    status = ledger.task_runner(TR)
    assert (status.state, status.completed, status.peers_needed) == ("COMPLETE", 4, 4)
    assert status.error_reason == "SWOP swop-2 stopped sending heartbeats"  # the last error stays readable
    assert ledger.peer(TR, "swop-2").enrollment == 2


def test_a_target_only_run_waits_for_its_targets(ledger: TaskLedger) -> None:
    task = finalized(ledger, "pull-task-tf2")
    ledger.assign_task_to_target(SWCI, TR, task, "swop-2")
    status = ledger.task_runner(TR)
    assert (status.state, status.mode, status.peers_needed) == ("ASSIGNED", "TARGET", 0)
    with pytest.raises(ContractRevert, match="runs its task on targeted peers only"):
        ledger.enroll("swop-1", TR, status.run, "swop-1")
    ledger.enroll("swop-2", TR, status.run, "swop-2")
    assert (ledger.task_runner(TR).state, ledger.task_runner(TR).peers_needed) == ("RUNNING", 1)
    ledger.report_success("swop-2", TR, status.run, "swop-2", "pulled")
    assert ledger.task_runner(TR).state == "COMPLETE"
    with pytest.raises(ContractRevert, match="has completed its task: reset it first"):
        ledger.assign_task_to_target(SWCI, TR, task, "swop-1")


def test_with_all_peers_the_minimum_is_every_listening_swop(ledger: TaskLedger) -> None:
    ledger.create_task_runner(SWCI, "tr-2")
    run_task, build_task = finalized(ledger, "run", "RUN_SWARM"), finalized(ledger, "build", "MAKE_USER_CONTAINER")
    with pytest.raises(ContractRevert, match="^no SWOP listens on task runner tr-2$"):
        ledger.assign_task_to_all_peers(SWCI, "tr-2", run_task)
    ledger.listen("swop-1", "tr-2", "swop-1", 3)
    ledger.listen("swop-2", "tr-2", "swop-2", 1)
    ledger.listen("swop-3", "tr-2", "swop-3", 2)
    ledger.stop_listening("swop-3", "tr-2", "swop-3")
    assert [(li.peer, li.nodes) for li in ledger.listeners("tr-2")] == [("swop-1", 3), ("swop-2", 1)]

    ledger.assign_task_to_all_peers(SWCI, "tr-2", run_task)
    assert (ledger.task_runner("tr-2").mode, ledger.task_runner("tr-2").peers_needed) == ("ALL_PEERS", 4)
    ledger.reset_task_runner(SWCI, "tr-2")
    ledger.assign_task_to_all_peers(SWCI, "tr-2", build_task)
    assert ledger.task_runner("tr-2").peers_needed == 2
    assert ledger.task_runner(TR).state == "IDLE"  # runners are independent


def test_reset_returns_to_idle_forgets_the_peers_and_refuses_stale_reports(ledger: TaskLedger) -> None:
    task = finalized(ledger, "build", "MAKE_USER_CONTAINER")
    ledger.reset_task_runner(SWCI, TR)  # scripts reset an idle runner before every ASSIGN
    assert ledger.task_runner(TR).run == 1
    ledger.assign_task(SWCI, TR, task, 1)
    ledger.enroll("swop-1", TR, 1, "swop-1")
    ledger.report_failure("swop-1", TR, 1, "swop-1", "docker build failed: step 4")
    ledger.reset_task_runner(SWCI, TR)

    status = ledger.task_runner(TR)
    assert (status.state, status.run, status.task, status.failed, status.error_reason) == ("IDLE", 2, "", 0, "")
    assert ledger.peer_names(TR) == [] and not ledger.peer(TR, "swop-1").exists
    with pytest.raises(ContractRevert, match="^run 1 of task runner .* is over: the task runner was reset since"):
        ledger.report_progress("swop-1", TR, 1, "swop-1", "still building")
    ledger.assign_task(SWCI, TR, task, 1)  # the same task can run again
    assert ledger.task_runner(TR).state == "ASSIGNED"


def test_a_task_can_be_deleted_only_while_no_runner_holds_it(ledger: TaskLedger) -> None:
    ledger.create_task(SWCI, "oops", "PULL_IMAGE", "me", ROOT_TASK, "img")
    ledger.append_body(SWCI, "oops", 0, "wrong\n")
    ledger.delete_task(SWCI, "oops")
    assert ledger.task_names() == [ROOT_TASK] and not ledger.task("oops").exists
    ledger.create_task(SWCI, "oops", "PULL_IMAGE", "me", ROOT_TASK, "img")  # the name is free again, body empty
    assert ledger.task("oops").chunk_count == 0 and ledger.body("oops") == b""

    task = finalized(ledger, "build", "MAKE_USER_CONTAINER")
    ledger.assign_task(SWCI, TR, task, 1)
    with pytest.raises(ContractRevert, match=f"^task build is assigned to task runner {TR}: reset the task runner"):
        ledger.delete_task(SWCI, task)
    assert ledger.task(task).use_count == 1 and ledger.task(task).held_by == TR
    ledger.reset_task_runner(SWCI, TR)
    ledger.delete_task(SWCI, task)
    with pytest.raises(ContractRevert, match="^ROOTTASK cannot be deleted$"):
        ledger.delete_task(SWCI, ROOT_TASK)
    assert ledger.task_names() == [ROOT_TASK, "oops"]


def test_task_runner_names_are_unique_and_workers_belong_to_run_swarm_tasks(ledger: TaskLedger) -> None:
    with pytest.raises(ContractRevert, match=f"^task runner {TR} exists$"):
        ledger.create_task_runner(SWCI, TR)
    task = finalized(ledger, "build", "MAKE_USER_CONTAINER")
    ledger.assign_task(SWCI, TR, task, 1)
    with pytest.raises(ContractRevert, match="only RUN_SWARM peers name workers"):
        ledger.enroll("swop-1", TR, 1, "swop-1", ["sl-1"])
    with pytest.raises(ContractRevert, match="^no such task runner: nope$"):
        ledger.enroll("swop-1", "nope", 1, "swop-1")


def test_every_runner_state_change_is_an_event_on_the_chain(ledger: TaskLedger, w3: Web3) -> None:
    task = finalized(ledger, "build", "MAKE_USER_CONTAINER")
    ledger.assign_task(SWCI, TR, task, 1)
    ledger.enroll("swop-1", TR, 1, "swop-1")
    ledger.report_success("swop-1", TR, 1, "swop-1", "built")
    ledger.reset_task_runner(SWCI, TR)

    _, runners = ledger.contracts()
    changes = runners.events.TaskRunnerStateChanged.get_logs(from_block=0)
    assert [(e.args.runner, e.args.run, e.args.state) for e in changes] == [
        (TR, 1, 1),  # ASSIGNED
        (TR, 1, 2),  # RUNNING
        (TR, 1, 3),  # COMPLETE
        (TR, 2, 0),  # IDLE
    ]
    enrolled = runners.events.PeerEnrolled.get_logs(from_block=0)
    assert [(e.args.peer, e.args.by) for e in enrolled] == [("swop-1", derived_signer(b"sn-1")("swop-1").address)]


def test_long_failure_reasons_are_cut_to_the_chains_limit(ledger: TaskLedger) -> None:
    task = finalized(ledger, "build", "MAKE_USER_CONTAINER")
    ledger.assign_task(SWCI, TR, task, 1)
    ledger.enroll("swop-1", TR, 1, "swop-1")
    ledger.report_failure("swop-1", TR, 1, "swop-1", "é" * 2000)
    reason = ledger.task_runner(TR).error_reason
    assert reason.endswith("…") and len(reason.encode()) <= 1024 and reason.startswith("éé")


# ----------------------------------------------------------------------------------------- finding them


def test_sns_of_one_chain_share_the_task_contracts_without_handing_addresses_around(w3: Web3, tmp_path: Path) -> None:
    first = TaskLedger.open(gateway_on(w3, "sn-1"), tmp_path / "sn-1")
    again = TaskLedger.open(gateway_on(w3, "sn-1"), tmp_path / "sn-1")
    other = TaskLedger.open(gateway_on(w3, "sn-2"), tmp_path / "sn-2")
    assert first.tasks_address == again.tasks_address == other.tasks_address
    assert first.runners_address == other.runners_address
    assert (tmp_path / "sn-1" / "tasks.json").exists()


def test_two_sns_deploying_at_once_converge_on_the_first_attached_pair(w3: Web3, tmp_path: Path) -> None:
    one = TaskLedger.deploy(gateway_on(w3, "sn-1"))
    two = TaskLedger.deploy(gateway_on(w3, "sn-2"))
    assert one.tasks_address != two.tasks_address
    assert find_task_store(w3) == one.tasks_address
    assert TaskLedger.open(gateway_on(w3, "sn-2"), tmp_path / "sn-2").tasks_address == one.tasks_address


def test_tasks_survive_a_restart_of_the_chain(tmp_path: Path) -> None:
    chain = EmbeddedChain(tmp_path / "chain")
    ledger = TaskLedger.open(gateway_on(Web3(EmbeddedProvider(chain)), "sn-1"), tmp_path / "sn-1")
    finalized(ledger, "build", "MAKE_USER_CONTAINER", BUILD_TASK_YAML)
    ledger.assign_task(SWCI, TR, "build", 1)
    chain.close()

    again = TaskLedger.open(
        gateway_on(Web3(EmbeddedProvider(EmbeddedChain(tmp_path / "chain"))), "sn-1"), tmp_path / "sn-1"
    )
    assert again.body_text("build") == BUILD_TASK_YAML
    assert (again.task_runner(TR).state, again.task_runner(TR).task) == ("ASSIGNED", "build")


def test_split_body_cuts_after_lines_and_never_inside_a_character() -> None:
    body = ("line with ü\n" * 50).encode() + "ü".encode() * 100
    chunks = split_body(body, 64)
    assert b"".join(chunks) == body and all(len(c) <= 64 for c in chunks)
    assert all(c.endswith(b"\n") for c in chunks[:8])
    for chunk in chunks:
        chunk.decode("utf-8")  # every chunk is whole characters


def test_task_contracts_deployed_by_another_release_are_refused_with_what_to_do(
    ledger: TaskLedger, w3: Web3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the chain keeps this release's contracts (their code carries filled-in immutables, and still matches) ...
    assert TaskLedger.open(gateway_on(w3, "sn-1"), tmp_path / "sn-1").tasks_address == ledger.tasks_address
    # ... but to a release whose task runner contract differs they are another release's
    tasks, runners = task_ledger._artifacts()
    other = dataclasses.replace(runners, deployed_bytecode=tasks.deployed_bytecode)
    monkeypatch.setattr(task_ledger, "_artifacts", lambda: (tasks, other))
    with pytest.raises(ChainError, match="SwarmTaskRunners contract at 0x[0-9a-fA-F]{40} was deployed by another release"):
        TaskLedger.open(gateway_on(w3, "sn-1"), tmp_path / "sn-1")

