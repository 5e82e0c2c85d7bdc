"""Match SWCI lines against the command table and build the command dataclasses.

Matching is a small backtracking walk over each command's compiled pattern (optional parts are tried present
first, alternatives left to right). When no command matches, the error is reported at the furthest token any command
reached, listing what those commands expected there and their usage lines: "the longest-match" rule of PEG parsers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from swci.language.commands import Command
from swci.language.errors import SwciSyntaxError
from swci.language.grammar import COMMANDS, Captures, CommandSpec
from swci.language.patterns import Argument, Choice, Item, Keyword, Optional, canonical_keyword, keyword_matches
from swci.language.tokens import Token, TokenKind, tokenize

_MAX_USAGES = 3  # more than this many candidate commands: point at HELP instead of quoting every usage
_MAX_GOT = 40


@dataclass(frozen=True)
class ScriptLine:
    """One line of a script as written, with its command (None for blank and comment lines)."""

    number: int
    text: str
    command: Command | None


def parse_line(text: str, line: int = 1) -> Command | None:
    """Parse one command line; None when it holds only blanks or a comment. Raises SwciSyntaxError."""
    tokens = tokenize(text, line)
    comment = tokens[-1] if tokens and tokens[-1].kind is TokenKind.COMMENT else None
    words = tokens[:-1] if comment else tokens
    if not words:
        return None
    furthest = _Furthest()
    for spec in COMMANDS:
        captures = _LineMatcher(spec, text, words, comment, furthest).first_match()
        if captures is not None:
            return spec.command(**spec.build(captures), line=line, source=text)
    raise furthest.error(text, words, line)


def parse_script_lines(text: str) -> list[ScriptLine]:
    """Every line of a script with its command; raises at the FIRST malformed line (nothing is returned then)."""
    lines = text.splitlines()
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    return [ScriptLine(number, raw, parse_line(raw, number)) for number, raw in enumerate(lines, start=1)]


def parse_script(text: str) -> list[Command]:
    """The commands of a script, in order; raises SwciSyntaxError at the first malformed line."""
    return [entry.command for entry in parse_script_lines(text) if entry.command is not None]


@dataclass
class _Furthest:
    """The furthest token index where some command failed, and what was expected there."""

    index: int = -1
    expected: list[str] = field(default_factory=list)
    specs: list[CommandSpec] = field(default_factory=list)

    def note(self, index: int, expected: str, spec: CommandSpec) -> None:
        if index > self.index:
            self.index, self.expected, self.specs = index, [], []
        if index == self.index:
            if expected not in self.expected:
                self.expected.append(expected)
            if spec not in self.specs:
                self.specs.append(spec)

    def error(self, text: str, words: list[Token], line: int) -> SwciSyntaxError:
        if self.index <= 0:
            first = words[0]
            known = sorted({spec.topic[0] for spec in COMMANDS})
            return SwciSyntaxError(
                line,
                first.column,
                f"unknown command {_shown(first.text)}; expected one of {', '.join(known)} (type HELP for the list)",
                expected=" | ".join(known),
                got=first.text,
            )
        if self.index < len(words):
            column, got = words[self.index].column, _shown(words[self.index].text)
        else:
            column, got = words[-1].end + 1, "end of line"
        after = text[words[0].start : words[self.index - 1].end]
        expected = " | ".join(self.expected)
        if len(self.specs) > _MAX_USAGES:
            usage = f"see HELP {canonical_keyword(words[0].value)}"
        else:
            usage = " | ".join(spec.usage for spec in self.specs)
        return SwciSyntaxError(
            line,
            column,
            f"expected {expected} after '{after}', got {got}; usage: {usage}",
            expected=expected,
            got=got,
            usage=usage,
        )


def _shown(text: str) -> str:
    return repr(text if len(text) <= _MAX_GOT else text[: _MAX_GOT - 3] + "...")


def completions(text: str) -> list[str]:
    """Keywords that may come next after the partial line ``text`` (for the shell's tab completion).

    The last word is taken as a prefix unless ``text`` ends with a space. Arguments are not completed.
    """
    try:
        tokens = [t for t in tokenize(text) if t.kind is not TokenKind.COMMENT]
    except SwciSyntaxError:
        return []
    prefix = ""
    if tokens and not text[-1:].isspace():
        prefix = tokens.pop().value.upper()
    found: list[str] = []
    for spec in COMMANDS:
        matcher = _LineMatcher(spec, text, tokens, None, _Furthest(), probe=found)
        matcher.first_match()
    return sorted({word for word in found if word.startswith(prefix)})


class _LineMatcher:
    """Matches one command's pattern against one line's tokens."""

    def __init__(
        self,
        spec: CommandSpec,
        text: str,
        words: list[Token],
        comment: Token | None,
        furthest: _Furthest,
        probe: list[str] | None = None,
    ) -> None:
        self.spec, self.text, self.words, self.comment, self.furthest = spec, text, words, comment, furthest
        self.probe = probe  # collects the keywords expected just past the last word

    def first_match(self) -> Captures | None:
        for end, captures in self._walk(self.spec.items, 0, Captures({}, ())):
            if end == len(self.words):
                return captures
            self.furthest.note(end, "end of line", self.spec)
        return None

    def _walk(self, items: tuple[Item, ...], i: int, captures: Captures) -> Iterator[tuple[int, Captures]]:
        if not items:
            yield i, captures
            return
        head, rest = items[0], items[1:]
        if isinstance(head, Optional):
            yield from self._walk(head.items + rest, i, captures)
            yield from self._walk(rest, i, captures)
        elif isinstance(head, Choice):
            for branch in head.branches:
                yield from self._walk(branch + rest, i, captures)
        elif isinstance(head, Keyword):
            word = self.words[i] if i < len(self.words) else None
            if word is not None and word.kind is TokenKind.WORD and keyword_matches(word.value, head.word):
                yield from self._walk(rest, i + 1, Captures(captures.values, (*captures.keywords, head.word)))
            else:
                self.furthest.note(i, head.expect, self.spec)
                if self.probe is not None and i == len(self.words):
                    self.probe.append(head.word)
        else:
            matched = self._argument(head, i)
            if matched is not None:
                end, value = matched
                values = {**captures.values, head.field: value}
                yield from self._walk(rest, end, Captures(values, captures.keywords))

    def _argument(self, arg: Argument, i: int) -> tuple[int, object] | None:
        """(index after the argument, its value), or None after noting why it does not fit."""
        remaining = self.words[i:]
        if arg.kind.rest_of_line:
            if len(remaining) == 1 and remaining[0].kind is TokenKind.STRING:
                raw: str | None = remaining[0].value
            elif remaining:
                stop = len(self.text) if arg.kind.verbatim else remaining[-1].end
                raw = self.text[remaining[0].start : stop].rstrip()
            elif arg.kind.verbatim and self.comment is not None:
                raw = self.comment.text.rstrip()
            else:
                raw = None
            end = len(self.words)
        else:
            raw = remaining[0].value if remaining else None
            end = i + 1
        if raw is None:
            self.furthest.note(i, arg.expect, self.spec)
            return None
        try:
            return end, arg.kind.convert(raw)
        except ValueError:
            self.furthest.note(i, f"<{arg.label}> ({arg.kind.describe})", self.spec)
            return None
