"""Live progress of a local swarm: a rich table on a terminal, one line per change otherwise (logs, CI)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from swarm_learning.sn_api import MemberView


@dataclass(frozen=True)
class SiteProgress:
    name: str
    state: str
    member: MemberView | None

    def line(self) -> str:
        m = self.member
        if m is None or not m.joined:
            return f"{self.name}: {self.state}, waiting for its session"
        epochs = f"{m.epochs_done}/{m.total_epochs}" if m.total_epochs else str(m.epochs_done)
        return f"{self.name}: {self.state}, epochs {epochs}, loss {m.loss:.4f}, metric {m.metric:.4f}" + (
            ", local training finished" if m.finished else ""
        )


class ProgressView:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=False)
        self.interactive = self.console.is_terminal
        self._live: Live | None = None
        self._last: list[str] = []
        self._last_rounds = -1

    def _table(self, rounds: int, sites: list[SiteProgress]) -> Table:
        table = Table(title=f"Swarm training — {rounds} merge rounds")
        for col in ("site", "state", "epochs", "loss", "metric"):
            table.add_column(col)
        for s in sites:
            m = s.member
            table.add_row(
                s.name,
                s.state + (" (finished local)" if m and m.finished else ""),
                f"{m.epochs_done}/{m.total_epochs}" if m else "-",
                f"{m.loss:.4f}" if m else "-",
                f"{m.metric:.4f}" if m else "-",
            )
        return table

    def update(self, rounds: int, sites: list[SiteProgress]) -> None:
        if self.interactive:
            if self._live is None:
                self._live = Live(self._table(rounds, sites), console=self.console, refresh_per_second=2)
                self._live.start()
            else:
                self._live.update(self._table(rounds, sites))
            return
        lines = [s.line() for s in sites]
        if lines != self._last or (rounds != self._last_rounds and rounds % 10 == 0):
            self.console.print(f"[round {rounds}] " + " | ".join(lines), markup=False, highlight=False, soft_wrap=True)
            self._last, self._last_rounds = lines, rounds

    def message(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def summary(self, summary: dict[str, Any]) -> None:
        table = Table(title=f"run-local: {summary['rounds']} rounds in {summary['wall_seconds']}s")
        for col in ("site", "exit code", "final weights sha256", "log"):
            table.add_column(col)
        for s in summary["sites"]:
            table.add_row(s["name"], str(s["exit_code"]), (s["final_weights_sha256"] or "-")[:16], s["log"])
        self.console.print(table)
        digests = {s["final_weights_sha256"] for s in summary["sites"]}
        same = len(digests) == 1 and None not in digests
        self.console.print(f"same final model on every site: {'yes' if same else 'NO'}")
        sys.stdout.flush()
