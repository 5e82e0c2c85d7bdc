"""The error raised when a SWOP profile or task definition is not what the schema allows.

::

    SwarmLearningError
    └── ConfigurationError
        └── SchemaError        a profile or task YAML is malformed; names the file, line, column and field

One :class:`Problem` per thing wrong; the error's own message is the first problem on one line, e.g.
``profile.yaml line 12, col 5: groupname: field required (expected a string)``, and ``problems`` holds them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from swarm_learning.errors import ConfigurationError


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a YAML file. ``line``/``column`` are 1-based; None when the file could not be read."""

    source: str
    line: int | None
    column: int | None
    field: str
    reason: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source} line {self.line}, col {self.column}"
        what = f"{self.field}: {self.reason}" if self.field else self.reason
        return f"{where}: {what}"


class SchemaError(ConfigurationError):
    """A SWOP profile or task definition failed validation; nothing should be started from it."""

    code = "SL-1110"

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("SchemaError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        first = self.problems[0]
        self.source = first.source
        self.line = first.line
        self.column = first.column
        self.field = first.field
        self.reason = first.reason
        more = len(self.problems) - 1
        self.message = str(first) + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")
        super().__init__(self.message)

    @classmethod
    def single(cls, source: str, line: int | None, column: int | None, field: str, reason: str) -> SchemaError:
        return cls([Problem(source, line, column, field, reason)])
