"""Errors of executing SWCI commands (the language's own errors are in ``swci.language.errors``).

::

    SwarmLearningError                 (swarm_learning.errors)
    └── SwciError                      a command could not be carried out; ``str()`` is one line for the operator
        ├── NoContext                  no such context, or no current context for a Swarm command
        ├── TaskDefinitionError        a task YAML that is malformed or does not fit the task schema (line, column)
        └── CommandFailed              the command ran and ended badly (e.g. a task runner in ERROR); keeps the
                                       lines it printed before failing

Errors of the SN API (``SNUnavailable``, ``ContractRevert``, ``NetworkError``) are turned into one-line messages by
the session; everything else raised on purpose derives from ``SwarmLearningError`` too.
"""

from __future__ import annotations

from collections.abc import Sequence

from swarm_learning.errors import SwarmLearningError


def one_line(text: str) -> str:
    """``text`` with its line breaks folded into spaces (every SWCI error is printed on one line)."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


class SwciError(SwarmLearningError):
    """A command that could not be carried out."""

    code = "SL-2200"

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class NoContext(SwciError):
    code = "SL-2201"


class TaskDefinitionError(SwciError):
    """A task definition that cannot be registered; ``line``/``column`` are 1-based (0 when unknown)."""

    code = "SL-2202"

    def __init__(self, source: str, line: int, column: int, problem: str, expected: str) -> None:
        self.source = source
        self.line = line
        self.column = column
        self.problem = problem
        self.expected = expected
        where = f"{source}: line {line}, col {column}" if line else source
        super().__init__(f"{where}: {problem}; expected {expected}")


class CommandFailed(SwciError):
    """The command ran but its outcome is a failure; ``lines`` is what it printed up to then."""

    code = "SL-2203"

    def __init__(self, message: str, lines: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.lines = list(lines)
