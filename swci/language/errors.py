"""Errors of the SWCI command language.

::

    SwarmLearningError            (swarm_learning.errors)
    └── SwciLanguageError         anything wrong with an SWCI command text
        ├── SwciSyntaxError       a line that does not match any command; carries line, column and expected form
        └── UnknownHelpTopic      ``HELP <words>`` where no command starts with those words
"""

from __future__ import annotations

from swarm_learning.errors import SwarmLearningError


class SwciLanguageError(SwarmLearningError):
    """Root of the errors raised while reading SWCI commands."""

    code = "SL-2100"


class SwciSyntaxError(SwciLanguageError):
    """A malformed command. ``str(err)`` is one line: position, what was expected, what was found, and the usage."""

    code = "SL-2101"

    def __init__(
        self, line: int, column: int, message: str, *, expected: str = "", got: str = "", usage: str = ""
    ) -> None:
        self.line = line
        self.column = column
        self.detail = message
        self.expected = expected
        self.got = got
        self.usage = usage
        super().__init__(f"line {line}, col {column}: {message}")


class UnknownHelpTopic(SwciLanguageError):
    """``HELP`` was asked about words that start no command."""

    code = "SL-2102"

    def __init__(self, topic: str) -> None:
        self.topic = topic
        super().__init__(f"no command starts with {topic!r}; type HELP for the list of commands")
