"""Split one SWCI line into tokens: bare words, quoted strings and a trailing comment.

Rules (see the package docstring for why):

- tokens are separated by whitespace;
- a token starting with ``"`` or ``'`` is a quoted string; inside it a backslash escapes the quote character or a
  backslash, and ``#`` has no special meaning; the closing quote must be followed by whitespace or the end of line;
- a ``#`` that starts a token begins a comment running to the end of the line; a ``#`` inside a bare word (``a#b``)
  is part of the word.

Columns are 1-based character positions in the line, as shown in error messages.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from swci.language.errors import SwciSyntaxError


class TokenKind(enum.Enum):
    WORD = "word"
    STRING = "string"
    COMMENT = "comment"


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str  # exactly as written, quotes included
    value: str  # the word, the unquoted string, or the comment without its ``#``
    start: int  # 0-based offset in the line
    end: int  # offset just past the token

    @property
    def column(self) -> int:
        return self.start + 1


def tokenize(text: str, line: int = 1) -> list[Token]:
    """The tokens of ``text`` (one line; a final comment, if any, is the last token)."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if text[i] == "#":
            tokens.append(Token(TokenKind.COMMENT, text[i:], text[i + 1 :], i, n))
            break
        if text[i] in "\"'":
            token = _quoted(text, i, line)
        else:
            j = i
            while j < n and not text[j].isspace():
                j += 1
            token = Token(TokenKind.WORD, text[i:j], text[i:j], i, j)
        tokens.append(token)
        i = token.end
    return tokens


def _quoted(text: str, start: int, line: int) -> Token:
    quote = text[start]
    chars: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in (quote, "\\"):
            chars.append(text[i + 1])
            i += 2
            continue
        if ch == quote:
            end = i + 1
            if end < n and not text[end].isspace():
                raise SwciSyntaxError(
                    line,
                    end + 1,
                    f"expected a space after the closing {quote} of the string at col {start + 1}, got {text[end]!r}",
                )
            return Token(TokenKind.STRING, text[start:end], "".join(chars), start, end)
        chars.append(ch)
        i += 1
    raise SwciSyntaxError(line, start + 1, f"unterminated string: no closing {quote} before the end of the line")
