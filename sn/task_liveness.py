"""The SN's watch over SWOP liveness: a SWOP enrolled in a running task that stops beating is reported lost.

Every ``period`` seconds the SN reads each task runner that has unfinished workers and lets
``TaskLedger.report_lost_peers`` fail the workers of every SWOP whose last beat is older than the window it promised
(the contract checks the rule against block time, so an SN with a skewed clock only gets a refusal). Every SN runs
the watch; when two report the same SWOP, the second is refused and only logged.
"""

from __future__ import annotations

import logging
import threading

from sn.task_ledger import TaskLedger
from swarm_learning.errors import SwarmLearningError

log = logging.getLogger(__name__)


class LostPeerWatch:
    def __init__(self, tasks: TaskLedger, period: float = 2.0) -> None:
        self.tasks = tasks
        self.period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sn-swop-liveness", daemon=True)

    def start(self) -> LostPeerWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.period + 10)

    def check_once(self) -> list[str]:
        """One pass over every task runner; the peers reported lost."""
        lost: list[str] = []
        for runner in self.tasks.task_runner_names():
            lost += self.tasks.report_lost_peers(runner)
        return lost

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.check_once()
            except (SwarmLearningError, OSError) as exc:  # the chain is busy or closing: try again next period
                log.debug("liveness check skipped: %s", exc)
