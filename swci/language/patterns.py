"""The little notation in which every command's syntax is written once, and its compiled form.

A pattern reads like the usage line of the help table::

    ASSIGN TASK <taskName> TO [TASKRUNNER] <trName> (WITH <peersNeeded> PEERS | WITH ALL PEERS | TARGET <SWOP-UID>)

- ``WORD`` in capitals: a keyword, matched case-insensitively (with the few aliases of ``KEYWORD_ALIASES``);
- ``<label>``: an argument; the label names the dataclass field and the argument's kind (``ArgumentSpec``);
- ``[ ... ]``: optional; ``( a | b )``: one of the alternatives; both nest.

``compile_pattern`` turns the text into ``Item`` values for the matcher; ``render`` turns them back into the usage
line, so the help table and the parser's "expected form" both come from this one text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

# Alternative spellings of keywords (after upper-casing): the shell's ``ls()``/``pwd()`` API names, and the singular.
KEYWORD_ALIASES: Mapping[str, str] = {"LS()": "LS", "PWD()": "PWD", "PEER": "PEERS"}


def canonical_keyword(word: str) -> str:
    upper = word.upper()
    return KEYWORD_ALIASES.get(upper, upper)


def keyword_matches(word: str, keyword: str) -> bool:
    """Whether ``word`` as written is ``keyword`` (upper-case) or one of its aliases."""
    upper = word.upper()
    return upper == keyword or KEYWORD_ALIASES.get(upper) == keyword


@dataclass(frozen=True)
class ArgumentKind:
    """How an argument's text becomes a value. ``convert`` raises ValueError when the text is not acceptable."""

    describe: str  # shown after the label when a value is rejected, e.g. "a whole number >= 1"
    convert: Callable[[str], object]
    rest_of_line: bool = False  # takes every remaining token
    verbatim: bool = False  # with rest_of_line: the raw text to the end of the line, ``#`` included


@dataclass(frozen=True)
class ArgumentSpec:
    field: str
    kind: ArgumentKind


@dataclass(frozen=True)
class Keyword:
    word: str
    expect: str  # how a failure here is described: the keyword, or the whole alternative it starts


@dataclass(frozen=True)
class Argument:
    label: str
    field: str
    kind: ArgumentKind
    expect: str


@dataclass(frozen=True)
class Optional:
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Choice:
    branches: tuple[tuple[Item, ...], ...]


Item = Keyword | Argument | Optional | Choice

_LEXEME = re.compile(r"\s*(?:(<[^>]+>)|([\[\]()|])|([A-Z][A-Z0-9_]*(?:\(\))?))")


def compile_pattern(pattern: str, arguments: Mapping[str, ArgumentSpec]) -> tuple[Item, ...]:
    """Compile a pattern; every ``<label>`` must be a key of ``arguments``."""
    lexemes: list[str] = []
    pos = 0
    stripped = pattern.rstrip()
    while pos < len(stripped):
        m = _LEXEME.match(stripped, pos)
        if m is None:
            raise ValueError(f"bad pattern {pattern!r} at offset {pos}")
        lexemes.append(m.group(m.lastindex or 0))
        pos = m.end()
    items, used = _sequence(lexemes, 0, arguments)
    if used != len(lexemes):
        raise ValueError(f"bad pattern {pattern!r}: unexpected {lexemes[used]!r}")
    return items


def _sequence(lexemes: list[str], i: int, arguments: Mapping[str, ArgumentSpec]) -> tuple[tuple[Item, ...], int]:
    items: list[Item] = []
    while i < len(lexemes) and lexemes[i] not in ("]", ")", "|"):
        lexeme = lexemes[i]
        if lexeme in ("[", "("):
            closing = "]" if lexeme == "[" else ")"
            branches: list[tuple[Item, ...]] = []
            while True:
                branch, i = _sequence(lexemes, i + 1, arguments)
                branches.append(_hinted(branch))
                if i >= len(lexemes):
                    raise ValueError(f"unclosed {lexeme!r} in pattern")
                if lexemes[i] == closing:
                    break
                if lexemes[i] != "|":
                    raise ValueError(f"mismatched {lexemes[i]!r} in pattern")
            if lexeme == "[":
                items.append(Optional(branches[0]) if len(branches) == 1 else Optional((Choice(tuple(branches)),)))
            else:
                items.append(Choice(tuple(branches)))
        elif lexeme.startswith("<"):
            label = lexeme[1:-1]
            spec = arguments[label]
            items.append(Argument(label, spec.field, spec.kind, lexeme))
        else:
            items.append(Keyword(lexeme, lexeme))
        i += 1
    return tuple(items), i


def _hinted(branch: tuple[Item, ...]) -> tuple[Item, ...]:
    """A failure at the first word of an alternative is reported as the whole alternative (``WITH ALL PEERS``)."""
    if len(branch) > 1 and isinstance(branch[0], Keyword | Argument):
        return (replace(branch[0], expect=render(branch)), *branch[1:])
    return branch


def render(items: tuple[Item, ...]) -> str:
    """The pattern text of ``items``: the usage line shown by HELP and in error messages."""
    parts: list[str] = []
    for item in items:
        if isinstance(item, Keyword):
            parts.append(item.word)
        elif isinstance(item, Argument):
            parts.append(f"<{item.label}>")
        elif isinstance(item, Optional):
            inner = item.items
            if len(inner) == 1 and isinstance(inner[0], Choice):
                parts.append("[" + " | ".join(render(b) for b in inner[0].branches) + "]")
            else:
                parts.append(f"[{render(inner)}]")
        else:
            parts.append("(" + " | ".join(render(b) for b in item.branches) + ")")
    return " ".join(parts)


def leading_keywords(items: tuple[Item, ...]) -> tuple[str, ...]:
    """The keywords a command starts with, before its first argument or optional part (its HELP topic)."""
    words: list[str] = []
    for item in items:
        if not isinstance(item, Keyword):
            break
        words.append(item.word)
    return tuple(words)
