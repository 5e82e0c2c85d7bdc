"""The Swarm contract's rules, exercised on the real EVM through the SN's ledger service."""

from __future__ import annotations

from pathlib import Path

import pytest

from sn.chain.engine import TICKS_PER_SECOND, EmbeddedChain
from sn.ledger_service import LedgerService
from swarm_learning.errors import ContractRevert

TRAINING = "defaultbb.cqdb.sml.hpe"
DIGEST = "5f" * 32


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(tmp_path: Path, clock: Clock) -> LedgerService:
    return LedgerService.open(tmp_path / "sn", chain=EmbeddedChain(tmp_path / "sn" / "chain", clock=clock))


def join_all(
    ledger: LedgerService,
    *peers: str,
    min_peers: int = 2,
    not_eligible: tuple[str, ...] = (),
    timeout: int = 600,
) -> None:
    for peer in peers:
        ledger.register_node(peer, "SL", "127.0.0.1", 30305)
        ledger.join_training(peer, TRAINING, min_peers, peer not in not_eligible, timeout)


def check_in(ledger: LedgerService, peer: str, round: int = 1, final: bool = False) -> None:
    ledger.check_in(peer, TRAINING, round, f"https://{peer}:30305/r{round}", 1, 100, final)


def test_only_registered_node_identities_may_act(ledger: LedgerService) -> None:
    with pytest.raises(ContractRevert, match="^not a registered node$"):
        check_in(ledger, "intruder")
    with pytest.raises(ContractRevert, match="^not a registered node$"):
        ledger.join_training("intruder", TRAINING, 2, True, 600)
    with pytest.raises(ContractRevert, match="^not a registered node$"):
        ledger.heartbeat("intruder")
    ledger.register_node("sl-1", "SL", "127.0.0.1", 30305)
    ledger.heartbeat("sl-1")


def test_a_round_closes_only_once_min_peers_have_checked_in(ledger: LedgerService) -> None:
    join_all(ledger, "sl-1", "sl-2", "sl-3", min_peers=2)
    check_in(ledger, "sl-1")
    with pytest.raises(ContractRevert, match="quorum not reached: 1 of 2"):
        ledger.close_round("sl-1", TRAINING, 1)
    check_in(ledger, "sl-2")
    ledger.close_round("sl-1", TRAINING, 1)
    assert ledger.round(TRAINING, 1).closed
    with pytest.raises(ContractRevert, match="round 1 is closed"):
        check_in(ledger, "sl-3")


def test_a_restarted_node_checking_in_again_replaces_its_earlier_contribution_to_the_open_round(
    ledger: LedgerService,
) -> None:
    join_all(ledger, "sl-1", "sl-2", "sl-3")
    check_in(ledger, "sl-1")
    check_in(ledger, "sl-2")
    assert [c.stale for c in ledger.round(TRAINING, 1).check_ins] == [False, False]
    # sl-1 was restarted: its new run registers again, and the check-in of its earlier run (whose weights file went
    # with it) is marked stale until the new run checks in
    ledger.register_node("sl-1", "SL", "127.0.0.1", 31305)
    assert [c.stale for c in ledger.round(TRAINING, 1).check_ins] == [True, False]
    ledger.check_in("sl-1", TRAINING, 1, "https://sl-1:31305/new-life", 3, 50, True)

    rnd = ledger.round(TRAINING, 1)
    assert rnd.participants == ("sl-1", "sl-2")  # counted once, and still the leader
    assert rnd.leader == "sl-1"
    again = rnd.check_ins[0]
    assert (again.uri, again.weightage, again.samples, again.final) == ("https://sl-1:31305/new-life", 3, 50, True)
    assert not again.stale


def test_a_participant_may_replace_its_check_in_in_a_closed_round_until_it_is_merged(ledger: LedgerService) -> None:
    join_all(ledger, "sl-1", "sl-2", "sl-3")
    check_in(ledger, "sl-1")
    check_in(ledger, "sl-2")
    ledger.close_round("sl-1", TRAINING, 1)
    ledger.check_in("sl-2", TRAINING, 1, "https://sl-2:31305/new-life", 1, 100, False)
    assert ledger.round(TRAINING, 1).check_ins[1].uri == "https://sl-2:31305/new-life"
    with pytest.raises(ContractRevert, match="round 1 is closed"):
        check_in(ledger, "sl-3")  # a newcomer still cannot join a closed round
    ledger.publish_merge("sl-1", TRAINING, 1, "https://sl-1/merged/1", DIGEST, [], False)
    with pytest.raises(ContractRevert, match="wrong round: current is 2"):
        ledger.check_in("sl-2", TRAINING, 1, "https://sl-2:31305/too-late", 1, 100, False)
    assert ledger.round(TRAINING, 1).check_ins[1].uri == "https://sl-2:31305/new-life"


def test_min_peers_is_fixed_by_the_first_node_to_join(ledger: LedgerService) -> None:
    join_all(ledger, "sl-1", min_peers=2)
    ledger.register_node("sl-2", "SL", "127.0.0.1", 30305)
    with pytest.raises(ContractRevert, match="minPeers mismatch: training uses 2, this node asked for 3"):
        ledger.join_training("sl-2", TRAINING, 3, True, 600)
    assert ledger.training(TRAINING).min_peers == 2


def test_the_first_eligible_node_to_check_in_leads_the_round(ledger: LedgerService) -> None:
    join_all(ledger, "sl-1", "sl-2", "sl-3", not_eligible=("sl-1",))
    check_in(ledger, "sl-1")
    assert ledger.round(TRAINING, 1).leader is None
    check_in(ledger, "sl-2")
    check_in(ledger, "sl-3")
    assert ledger.round(TRAINING, 1).leader == "sl-2"


def test_only_the_leader_closes_the_round_and_publishes_the_merge(ledger: LedgerService) -> None:
    join_all(ledger, "sl-1", "sl-2")
    check_in(ledger, "sl-1")
    check_in(ledger, "sl-2")
    with pytest.raises(ContractRevert, match="only the round's leader may do this"):
        ledger.close_round("sl-2", TRAINING, 1)
    with pytest.raises(ContractRevert, match="round 1 is not closed yet"):
        ledger.publish_merge("sl-1", TRAINING, 1, "https://sl-1/merged/1", DIGEST, [], False)
    ledger.close_round("sl-1", TRAINING, 1)
    with pytest.raises(ContractRevert, match="only the round's leader may do this"):
        ledger.publish_merge("sl-2", TRAINING, 1, "https://sl-2/merged/1", DIGEST, [], False)
    ledger.publish_merge("sl-1", TRAINING, 1, "https://sl-1/merged/1", DIGEST, [], False)


def test_the_merged_model_uri_digest_and_exclusions_are_readable_back(ledger: LedgerService) -> None:
    join_all(ledger, "sl-1", "sl-2", "sl-3")
    for peer in ("sl-1", "sl-2", "sl-3"):
        check_in(ledger, peer)
    ledger.close_round("sl-1", TRAINING, 1)
    ledger.publish_merge("sl-1", TRAINING, 1, "https://sl-1/merged/1", "0x" + DIGEST, ["sl-3"], False)

    merged = ledger.round(TRAINING, 1)
    assert merged.merged and merged.merged_uri == "https://sl-1/merged/1"
    assert merged.digest_hex == DIGEST
    assert merged.excluded == ("sl-3",)
    assert merged.participants == ("sl-1", "sl-2", "sl-3")
    assert merged.check_ins[1].uri == "https://sl-2:30305/r1" and merged.check_ins[1].samples == 100
    assert ledger.training(TRAINING).current_round == 2
    with pytest.raises(ContractRevert, match="wrong round: current is 2"):
        check_in(ledger, "sl-2", round=1)
    check_in(ledger, "sl-2", round=2)


def test_a_final_merge_needs_every_remaining_participant_to_be_final(ledger: LedgerService) -> None:
    join_all(ledger, "sl-1", "sl-2", "sl-3")
    check_in(ledger, "sl-1", final=True)
    check_in(ledger, "sl-2", final=True)
    check_in(ledger, "sl-3", final=False)
    ledger.close_round("sl-1", TRAINING, 1)
    with pytest.raises(ContractRevert, match="final merge needs every non-excluded participant"):
        ledger.publish_merge("sl-1", TRAINING, 1, "https://sl-1/merged/1", DIGEST, [], True)
    ledger.publish_merge("sl-1", TRAINING, 1, "https://sl-1/merged/1", DIGEST, ["sl-3"], True)

    training = ledger.training(TRAINING)
    assert training.over and ledger.round(TRAINING, 1).final
    with pytest.raises(ContractRevert, match="training is over"):
        check_in(ledger, "sl-3", round=2)


def test_leadership_can_be_taken_over_only_after_the_leader_timed_out(
    ledger: LedgerService, clock: Clock
) -> None:
    join_all(ledger, "sl-1", "sl-2", "sl-3", not_eligible=("sl-3",), timeout=600)
    for peer in ("sl-1", "sl-2", "sl-3"):
        check_in(ledger, peer)
    ledger.close_round("sl-1", TRAINING, 1)
    with pytest.raises(ContractRevert, match="the leader has not timed out yet"):
        ledger.take_over_leadership("sl-2", TRAINING, 1)

    # the leader went silent for longer than sl-2's leader timeout (chain time may run ahead of the clock when
    # blocks come faster than one per second, so the test counts from the chain's own time)
    clock.now = ledger.round(TRAINING, 1).closed_at + 601 * TICKS_PER_SECOND
    with pytest.raises(ContractRevert, match="this node is not eligible to lead"):
        ledger.take_over_leadership("sl-3", TRAINING, 1)
    ledger.take_over_leadership("sl-2", TRAINING, 1)
    assert ledger.round(TRAINING, 1).leader == "sl-2"
    with pytest.raises(ContractRevert, match="only the round's leader may do this"):
        ledger.publish_merge("sl-1", TRAINING, 1, "https://sl-1/merged/1", DIGEST, [], False)
    ledger.publish_merge("sl-2", TRAINING, 1, "https://sl-2/merged/1", DIGEST, [], False)


def test_a_node_that_took_over_has_its_own_full_timeout_before_another_may_take_over_from_it(
    ledger: LedgerService, clock: Clock
) -> None:
    # two peers notice the silent leader at the same moment: the first take-over wins, the second is refused
    # instead of replacing the new leader at once (which left the first without the round it was closing)
    join_all(ledger, "sl-1", "sl-2", "sl-3", timeout=600)
    for peer in ("sl-3", "sl-1", "sl-2"):
        check_in(ledger, peer)
    clock.now = ledger.round(TRAINING, 1).opened_at + 1200 * TICKS_PER_SECOND
    ledger.take_over_leadership("sl-2", TRAINING, 1)
    with pytest.raises(ContractRevert, match="the leader has not timed out yet"):
        ledger.take_over_leadership("sl-1", TRAINING, 1)
    assert ledger.round(TRAINING, 1).leader == "sl-2"
    ledger.close_round("sl-2", TRAINING, 1)

    clock.now += 601 * TICKS_PER_SECOND  # sl-2 went silent too, for longer than its own timeout
    ledger.take_over_leadership("sl-1", TRAINING, 1)
    assert ledger.round(TRAINING, 1).leader == "sl-1"


def test_a_leader_that_never_closes_can_be_replaced_after_quorum_plus_timeout(
    ledger: LedgerService, clock: Clock
) -> None:
    join_all(ledger, "sl-1", "sl-2", timeout=60)
    check_in(ledger, "sl-1")
    with pytest.raises(ContractRevert, match="only a participant of the round may lead it"):
        ledger.take_over_leadership("sl-2", TRAINING, 1)
    check_in(ledger, "sl-2")  # quorum reached now
    clock.now = ledger.head().timestamp + 61 * TICKS_PER_SECOND
    ledger.take_over_leadership("sl-2", TRAINING, 1)
    ledger.close_round("sl-2", TRAINING, 1)


def test_progress_and_local_finish_are_recorded_per_member(ledger: LedgerService) -> None:
    join_all(ledger, "sl-1", "sl-2")
    ledger.report_progress("sl-1", TRAINING, loss=0.25, metric=0.875, epochs_done=3, total_epochs=5)
    ledger.finish_training("sl-1", TRAINING)
    ledger.finish_training("sl-1", TRAINING)  # idempotent

    training = ledger.training(TRAINING)
    member = {m.identity: m for m in training.members}["sl-1"]
    assert (member.loss, member.metric, member.epochs_done, member.total_epochs) == (0.25, 0.875, 3, 5)
    assert member.finished and training.finished_count == 1


def test_trainings_are_created_by_name_and_listed(ledger: LedgerService) -> None:
    ledger.register_node("sl-1", "SL", "127.0.0.1", 30305)
    ledger.create_training("sl-1", "mnist")
    with pytest.raises(ContractRevert, match="^training exists$"):
        ledger.create_training("sl-1", "mnist")
    with pytest.raises(ContractRevert, match="^not a registered node$"):
        ledger.create_training("stranger", "cifar")
    assert ledger.training_names() == [TRAINING, "mnist"]
    with pytest.raises(ContractRevert, match="no such training: cifar"):
        ledger.join_training("sl-1", "cifar", 2, True, 600)
    assert not ledger.training("cifar").exists


def test_reset_returns_the_training_to_its_uninitialised_state_while_history_stays(
    ledger: LedgerService,
) -> None:
    join_all(ledger, "sl-1", "sl-2")
    check_in(ledger, "sl-1", final=True)
    check_in(ledger, "sl-2", final=True)
    ledger.close_round("sl-1", TRAINING, 1)
    ledger.publish_merge("sl-1", TRAINING, 1, "https://sl-1/merged/1", DIGEST, [], True)
    assert ledger.training(TRAINING).over

    ledger.reset_training("sl-1", TRAINING)
    training = ledger.training(TRAINING)
    assert (training.current_round, training.over, training.members, training.min_peers) == (1, False, (), 0)
    assert ledger.round(TRAINING, 1).participants == ()
    assert [op.what for op in ledger.history(TRAINING) if op.what == "publishMerge"] == ["publishMerge"]
    join_all(ledger, "sl-1", min_peers=3)  # a fresh training: a new minPeers is accepted
    assert ledger.training(TRAINING).min_peers == 3


def test_re_registering_an_identity_moves_it_to_the_new_account(
    tmp_path: Path, ledger: LedgerService
) -> None:
    ledger.register_node("sl-1", "SL", "127.0.0.1", 30305)
    other_sn = LedgerService.open(
        tmp_path / "other-sn", w3=ledger._w3, contract_address=ledger.contract_address
    )
    ledger.add_operator(other_sn.operator_address)
    moved = other_sn.register_node("sl-1", "SL", "127.0.0.2", 30305)

    assert moved.account == other_sn.account_for("sl-1") != ledger.account_for("sl-1")
    with pytest.raises(ContractRevert, match="^not a registered node$"):
        ledger.heartbeat("sl-1")  # the old account lost its rights
    other_sn.heartbeat("sl-1")
    assert [(n.identity, n.host) for n in ledger.nodes()] == [("sl-1", "127.0.0.2")]
