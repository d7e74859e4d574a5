"""Wildcard and Lucene-regex patterns of EQL, translated once for every SQL backend.

`:`/`like` patterns know only `*` (any run of characters) and `?` (one character); a backslash
is an ordinary character. `regex` patterns use Lucene's RegExp syntax, which differs from the
RE2/Java syntax that DuckDB and Spark run: the whole value must match, `^` and `$` are plain
characters, `"…"` quotes a literal run, `@` is any string, `#` matches nothing, and `&`, `~` and
`<n-m>` exist (Lanner reports those three as unsupported rather than guess).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from lanner.errors import LannerError


class PatternError(LannerError):
    """A regex that Lanner cannot translate faithfully; names the pattern and the position."""


def wildcard_to_like(pattern: str, escape: str = "\\") -> str:
    """A SQL LIKE pattern (with `escape` as its ESCAPE character) for an EQL wildcard."""
    out = []
    for char in pattern:
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char in ("%", "_", escape):
            out.append(escape + char)
        else:
            out.append(char)
    return "".join(out)


def wildcard_to_regex(pattern: str) -> str:
    """An anchored RE2 pattern for an EQL wildcard (for backends without LIKE ESCAPE)."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return f"^(?s:{body})$"


def is_plain(pattern: str) -> bool:
    """True when a wildcard has no wildcard characters: plain equality does the job."""
    return "*" not in pattern and "?" not in pattern


class PatternForm(StrEnum):
    """How a backend tests a wildcard: equality, SQL LIKE, or an anchored RE2 regex."""

    EQUAL = "equal"
    LIKE = "like"
    REGEX = "regex"


# The longest run of a wildcard that LIKE may look for at every position of a value. DuckDB's
# LIKE (with ESCAPE) finds each run between `*`s by comparing it at every position, so a test
# costs value length x run length: "*" + "a" * 1000 + "b*" over 100 KB values took 9.8 s, where
# RE2 (a DFA: each character of the value read once) takes 0.04 s. Runs this short keep LIKE,
# as fast as RE2 or faster on the short values most fields hold, within 16 steps a character.
MAX_LIKE_RUN = 16


@dataclass(frozen=True, slots=True)
class WildcardForm:
    """A wildcard as a backend runs it: `text` is the value to compare for EQUAL, the LIKE
    pattern (backslash as ESCAPE) for LIKE, the anchored RE2 pattern for REGEX."""

    kind: PatternForm
    text: str


def wildcard_form(pattern: str) -> WildcardForm:
    """The form of an EQL wildcard that matches in time linear in the value: equality for a
    pattern without wildcards, LIKE while every run LIKE scans for is short (see
    MAX_LIKE_RUN), RE2 otherwise. All three match exactly the same values."""
    if is_plain(pattern):
        return WildcardForm(PatternForm.EQUAL, pattern)
    if like_scan_run(pattern) <= MAX_LIKE_RUN:
        return WildcardForm(PatternForm.LIKE, wildcard_to_like(pattern))
    return WildcardForm(PatternForm.REGEX, wildcard_to_regex(pattern))


def like_scan_run(pattern: str) -> int:
    """The longest run of a wildcard (characters and `?`s between `*`s) that LIKE compares at
    every position of a value: any run but a leading one, which is compared once, at the
    start. LIKE costs at most value length x this, per value."""
    runs = pattern.split("*")
    return max(map(len, runs[1:]), default=0)


# Lucene 8.6+ shorthand classes (LUCENE-9336), as Java defines them (ASCII).
_SHORTHANDS = {
    "d": "0-9", "s": r" \t\n\x0B\f\r", "w": "a-zA-Z_0-9",
}
_RE2_SPECIAL = set(r"\.^$|?*+()[]{}")
# Lucene's `<n-m>` and `{n,m}`; possessive, so that matching is linear in the pattern.
_INTERVAL = re.compile(r"\d++-\d++>")
_REPETITION = re.compile(r"(\d++)(,(\d*+))?+}")


def lucene_to_re2(pattern: str) -> str:
    """An anchored RE2 pattern equivalent to a Lucene RegExp (ES `regexp` query semantics)."""
    return f"^(?s:{_Translator(pattern).run()})$"


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.pos = 0

    def error(self, what: str) -> PatternError:
        return PatternError(f"regex {self.pattern!r}, position {self.pos + 1}: {what}")

    def run(self) -> str:
        out: list[str] = []
        pattern = self.pattern
        while self.pos < len(pattern):
            char = pattern[self.pos]
            self.pos += 1
            if char == "\\":
                out.append(self._escape(in_class=False))
            elif char == "[":
                out.append(self._char_class())
            elif char == '"':
                end = pattern.find('"', self.pos)
                if end < 0:
                    raise self.error("unterminated quoted string")
                out.append(re.escape(pattern[self.pos:end]))
                self.pos = end + 1
            elif char == "@":
                out.append(".*")
            elif char == "#":
                out.append("[^\\x00-\\x{10FFFF}]")  # the empty language: matches nothing
            elif char in "&~":
                raise self.error(f"the Lucene operator {char!r} is not supported by Lanner")
            elif char == "<" and _INTERVAL.match(pattern, self.pos):
                raise self.error("numeric intervals <n-m> are not supported by Lanner")
            elif char == "{":
                out.append(self._repeat())
            elif char in "^$":
                out.append("\\" + char)  # plain characters in Lucene
            else:
                out.append(char)  # . * + ? | ( ) mean the same in both syntaxes
        return "".join(out)

    def _escape(self, *, in_class: bool) -> str:
        if self.pos >= len(self.pattern):
            raise self.error("a pattern cannot end with a backslash")
        char = self.pattern[self.pos]
        self.pos += 1
        lower = char.lower()
        if lower in _SHORTHANDS:
            body = _SHORTHANDS[lower]
            if in_class and char.islower():
                return body
            if in_class:
                raise self.error(f"\\{char} inside [...] is not supported by Lanner")
            return f"[{'^' if char.isupper() else ''}{body}]"
        return re.escape(char) if char in _RE2_SPECIAL or not char.isalnum() else char

    def _char_class(self) -> str:
        pattern = self.pattern
        out = ["["]
        if self.pos < len(pattern) and pattern[self.pos] == "^":
            out.append("^")
            self.pos += 1
        start = self.pos
        while self.pos < len(pattern):
            char = pattern[self.pos]
            self.pos += 1
            if char == "]" and self.pos - 1 > start:
                out.append("]")
                return "".join(out)
            if char == "\\":
                out.append(self._escape(in_class=True))
            elif char in "[]^":
                out.append("\\" + char)
            else:
                out.append(char)
        raise self.error("unterminated character class")

    def _repeat(self) -> str:
        match = _REPETITION.match(self.pattern[self.pos:])
        if match is None:
            raise self.error("expected a repetition such as {2}, {2,} or {2,5}")
        self.pos += match.end()
        return "{" + match.group(0)
