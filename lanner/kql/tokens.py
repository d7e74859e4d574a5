"""The character level of KQL: Kibana's grammar has no separate tokenizer, so this module holds
what a tokenizer would: the character classes, keyword detection and the scanning of quoted
and unquoted literals with their escapes.

A scan returns the decoded literal and where it ends, or None when no literal starts there.
"""

from __future__ import annotations

from typing import NamedTuple

# Kibana's `Space`: the only characters that separate keywords.
SPACE = frozenset(" \t\r\n\u00a0")
# Characters that end an unquoted literal unless escaped with a backslash.
SPECIAL = frozenset('\\():<>"*{}')
# What JavaScript's String.prototype.trim removes (Kibana trims unquoted literals with it).
JS_WHITESPACE = frozenset(
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff")
_HEX = frozenset("0123456789abcdefABCDEF")
_WHITESPACE_ESCAPES = {"t": "\t", "r": "\r", "n": "\n"}
KEYWORDS = ("or", "and", "not")


class Scanned(NamedTuple):
    """A decoded literal: `segments` are the text between unescaped `*` wildcards (one segment
    when there is none); `value` is the literal's value for Kibana (str, True, False or None)."""

    segments: tuple[str, ...]
    quoted: bool
    end: int

    @property
    def is_wildcard(self) -> bool:
        return len(self.segments) > 1


def js_trim(text: str) -> str:
    return js_rstrip(js_lstrip(text))


def js_lstrip(text: str) -> str:
    start = 0
    while start < len(text) and text[start] in JS_WHITESPACE:
        start += 1
    return text[start:]


def js_rstrip(text: str) -> str:
    end = len(text)
    while end > 0 and text[end - 1] in JS_WHITESPACE:
        end -= 1
    return text[:end]


def join_surrogates(text: str) -> str:
    """`\\uD83D\\uDE00` decodes to two UTF-16 halves, as in JavaScript; pair them into one
    character where they form a pair, keep lone halves as they are."""
    if not any("\ud800" <= char <= "\udfff" for char in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def keyword_at(text: str, pos: int) -> bool:
    """Does a keyword start here, as Kibana's `Keyword` rule sees it?

    `or`/`and` need whitespace before and after (`Space+ 'or' Space+`), `not` only after.
    """
    n = len(text)
    word = text[pos:pos + 3].lower()
    if word == "not" and pos + 3 < n and text[pos + 3] in SPACE:
        return True
    j = pos
    while j < n and text[j] in SPACE:
        j += 1
    if j == pos:
        return False
    for keyword in ("or", "and"):
        after = j + len(keyword)
        if text[j:after].lower() == keyword and after < n and text[after] in SPACE:
            return True
    return False


def _unicode_escape(text: str, pos: int) -> str | None:
    """The character of `\\uXXXX` whose `u` is at pos, or None."""
    digits = text[pos + 1:pos + 5]
    if text[pos:pos + 1] == "u" and len(digits) == 4 and all(c in _HEX for c in digits):
        return chr(int(digits, 16))
    return None


def scan_quoted(text: str, pos: int) -> Scanned | None:
    """A `"…"` string starting at pos. Escapes: `\\t \\r \\n`, `\\uXXXX`, `\\\\`, `\\"`; any
    other backslash stays a backslash. Never a wildcard: `*` inside quotes is a star."""
    n = len(text)
    if pos >= n or text[pos] != '"':
        return None
    chars: list[str] = []
    i = pos + 1
    while i < n:
        char = text[i]
        if char == '"':
            return Scanned((join_surrogates("".join(chars)),), True, i + 1)
        if char == "\\" and i + 1 < n:
            following = text[i + 1]
            if following in _WHITESPACE_ESCAPES:
                chars.append(_WHITESPACE_ESCAPES[following])
                i += 2
                continue
            decoded = _unicode_escape(text, i + 1)
            if decoded is not None:
                chars.append(decoded)
                i += 6
                continue
            if following in '\\"':
                chars.append(following)
                i += 2
                continue
        chars.append(char)
        i += 1
    return None


def scan_unquoted(text: str, pos: int) -> Scanned | None:
    """An unquoted literal starting at pos: it runs to a special character or a keyword, and
    may hold whitespace. Escapes: `\\t \\r \\n`, backslash + special character, `\\uXXXX`,
    `\\or \\and \\not` (in that order of trial, so `\\not` is a newline then `ot`). The text is
    trimmed as JavaScript trims; unescaped `*` split it into wildcard segments."""
    n = len(text)
    segments: list[str] = []
    chars: list[str] = []
    i = pos
    while i < n:
        char = text[i]
        if char == "\\":
            following = text[i + 1:i + 2]
            if following in _WHITESPACE_ESCAPES and following:
                chars.append(_WHITESPACE_ESCAPES[following])
                i += 2
                continue
            if following in SPECIAL and following:
                chars.append(following)
                i += 2
                continue
            decoded = _unicode_escape(text, i + 1)
            if decoded is not None:
                chars.append(decoded)
                i += 6
                continue
            keyword = _escaped_keyword(text, i + 1)
            if keyword is None:
                break
            chars.append(keyword)
            i += 1 + len(keyword)
            continue
        if char == "*":
            segments.append("".join(chars))
            chars = []
            i += 1
            continue
        if char in SPECIAL or keyword_at(text, i):
            break
        chars.append(char)
        i += 1
    if i == pos:
        return None
    segments.append("".join(chars))
    segments = [join_surrogates(segment) for segment in segments]
    if len(segments) == 1:
        segments[0] = js_trim(segments[0])
    else:
        segments[0] = js_lstrip(segments[0])
        segments[-1] = js_rstrip(segments[-1])
    return Scanned(tuple(segments), False, i)


def _escaped_keyword(text: str, pos: int) -> str | None:
    for keyword in KEYWORDS:
        written = text[pos:pos + len(keyword)]
        if written.lower() == keyword:
            return written
    return None
