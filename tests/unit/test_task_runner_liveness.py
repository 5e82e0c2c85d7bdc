"""A SWOP that stops beating on its task runner is reported lost, on the embedded chain with a clock the test moves.

The SWOP beats by listening again and promises a beat within ``stale_after``; ``report_lost_peers`` (what the SN runs
when someone reads the runner) fails the unfinished workers of an enrolled SWOP silent for longer, with a reason
that says how to recover, and the contract refuses the report while the SWOP still beats.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from web3 import Web3

from sn.chain.engine import EmbeddedChain
from sn.chain.provider import EmbeddedProvider
from sn.task_ledger import DEFAULT_TASK_RUNNER, TaskLedger
from swarm_learning.errors import ContractRevert
from tests.unit.test_task_ledger import SWCI, finalized, gateway_on

TR = DEFAULT_TASK_RUNNER
START_MS = 1_900_000_000_000


class Clock:
    def __init__(self) -> None:
        self.ms = float(START_MS)

    def __call__(self) -> float:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += seconds * 1000

    @property
    def now(self) -> int:
        """What the SN's clock says (the chain's next block is stamped at least this)."""
        return int(self.ms)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(tmp_path: Path, clock: Clock) -> TaskLedger:
    w3 = Web3(EmbeddedProvider(EmbeddedChain(tmp_path / "chain", clock=clock)))
    return TaskLedger.open(gateway_on(w3, "sn-1"), tmp_path / "sn-1")


def running_swarm(ledger: TaskLedger, stale_after_s: float) -> int:
    """swop-1 and swop-2 listen (promising a beat within ``stale_after_s``) and each enroll two SL/ML pairs."""
    task = finalized(ledger, "run", "RUN_SWARM")
    for swop in ("swop-1", "swop-2"):
        ledger.listen(swop, TR, swop, 2, stale_after_s)
    ledger.assign_task(SWCI, TR, task, 4)
    run = ledger.task_runner(TR).run
    for swop in ("swop-1", "swop-2"):
        group = swop.replace("-", "")
        ledger.enroll(swop, TR, run, swop, [f"{group}-0", f"{group}-1"])
    return run


def test_a_swop_silent_for_longer_than_it_promised_has_its_unfinished_workers_failed_with_a_reason(
    ledger: TaskLedger, clock: Clock
) -> None:
    run = running_swarm(ledger, stale_after_s=45)
    ledger.report_success("swop-2", TR, run, "swop-2", "done", "swop2-0")
    listener = {li.peer: li for li in ledger.listeners(TR)}["swop-1"]
    assert (listener.stale_after, listener.last_beat) == (45_000, pytest.approx(START_MS, abs=1000))

    clock.advance(30)
    assert ledger.report_lost_peers(TR, now_ms=clock.now) == []  # within the promise: nothing is sent
    ledger.listen("swop-2", TR, "swop-2", 2, 45)  # swop-2 beats; swop-1 (killed) does not
    clock.advance(20)
    assert ledger.report_lost_peers(TR, now_ms=clock.now) == ["swop-1"]

    status = ledger.task_runner(TR)
    assert (status.state, status.error_peer, status.error_worker) == ("ERROR", "swop-1", "swop1-0")
    assert status.error_reason == (
        "SWOP swop-1 stopped reporting: last heartbeat 50 s ago (stale after 45 s); "
        f"restart it and ASSIGN TASK run TO {TR} TARGET swop-1"
    )
    assert [w.status for w in ledger.peer(TR, "swop-1").workers] == ["FAILED", "FAILED"]
    assert [w.status for w in ledger.peer(TR, "swop-2").workers] == ["COMPLETE", "ENROLLED"]
    assert ledger.report_lost_peers(TR, now_ms=clock.now) == []  # reported once


def test_the_contract_refuses_a_lost_report_for_a_swop_that_beats_or_promised_nothing(
    ledger: TaskLedger, clock: Clock
) -> None:
    run = running_swarm(ledger, stale_after_s=10)
    clock.advance(5)
    # an SN whose clock runs a minute ahead takes both for lost: the contract, on the block's time, refuses
    assert ledger.report_lost_peers(TR, now_ms=clock.now + 60_000) == []
    assert ledger.task_runner(TR).state == "RUNNING"
    runners = ledger.contracts()[1]
    with pytest.raises(ContractRevert, match="^peer swop-1 is not lost"):  # whoever sends it
        gateway_on(runners.w3, "sn-2").transact_on(runners, None, "reportLostPeer", TR, run, "swop-1", "dead?")
    ledger.listen("swop-1", TR, "swop-1", 2, 0)  # no promise (0): never judged by time
    clock.advance(3600)
    assert ledger.report_lost_peers(TR, now_ms=clock.now) == ["swop-2"]
    assert ledger.peer(TR, "swop-1").status == "ENROLLED"


def test_a_lost_swop_retried_with_target_completes_the_run(ledger: TaskLedger, clock: Clock) -> None:
    run = running_swarm(ledger, stale_after_s=6)
    for worker in ("swop2-0", "swop2-1"):
        ledger.report_success("swop-2", TR, run, "swop-2", "done", worker)
    clock.advance(7)
    assert ledger.report_lost_peers(TR, now_ms=clock.now) == ["swop-1"]
    assert ledger.task_runner(TR).state == "ERROR"

    ledger.listen("swop-1", TR, "swop-1", 2, 6)  # restarted: it beats again
    ledger.assign_task_to_target(SWCI, TR, "run", "swop-1")
    ledger.enroll("swop-1", TR, run, "swop-1", ["swop1-0", "swop1-1"])
    for worker in ("swop1-0", "swop1-1"):
        ledger.report_success("swop-1", TR, run, "swop-1", "done", worker)
    assert ledger.task_runner(TR).state == "COMPLETE"
