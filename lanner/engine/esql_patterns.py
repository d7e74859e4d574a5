"""The patterns of ES|QL as RE2 regular expressions: LIKE wildcards, REPLACE's Java regexes
and their replacements, GROK patterns and DISSECT patterns.

DuckDB's regex functions run RE2, which matches in linear time but has no lookaround,
backreferences or possessive quantifiers: what can be rewritten exactly is (a negative
lookahead of single characters before a class), possessive quantifiers become greedy, and the
rest is refused by name rather than run differently.
"""

from __future__ import annotations

import re

from lanner.esql import ast
from lanner.esql.checks import dissect_columns
from lanner.esql.errors import EsqlVerificationError


def _refused(message: str, node: ast.Node | None) -> EsqlVerificationError:
    return EsqlVerificationError(message, getattr(node, "span", None))


# ES's grok patterns (`libs/grok/src/main/resources/patterns/legacy`) the rules use, written
# with non-capturing groups: only `%{NAME:field}` and `(?<field>…)` capture.
_GROK = {
    "GREEDYDATA": ".*", "DATA": ".*?", "NOTSPACE": r"\S+", "SPACE": r"\s*", "WORD": r"\b\w+\b",
    "INT": r"(?:[+-]?(?:[0-9]+))", "POSINT": r"\b(?:[1-9][0-9]*)\b",
    "NUMBER": r"(?:[+-]?(?:(?:[0-9]+(?:\.[0-9]+)?)|(?:\.[0-9]+)))",
    "URIPROTO": r"[A-Za-z](?:[A-Za-z0-9+\-.]+)+",
    "IPV4": r"(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])\.){3}"
            r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])",
    "IPV6": r"(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:%[0-9A-Za-z]+)?",
    "HOSTNAME": r"\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*"
                r"(?:\.?|\b)",
    "USERNAME": r"[a-zA-Z0-9._-]+", "USER": r"[a-zA-Z0-9._-]+",
}
_GROK["IP"] = f"(?:{_GROK['IPV6']}|{_GROK['IPV4']})"
_GROK["IPORHOST"] = f"(?:{_GROK['IP']}|{_GROK['HOSTNAME']})"
_GROK["URIHOST"] = f"{_GROK['IPORHOST']}(?::{_GROK['POSINT']})?"


def wildcard_regex(pattern: str) -> str:
    """ES|QL LIKE: `*` any run, `?` one character, `\\` escapes the next character."""
    out, escaped = [], False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        else:
            out.append(re.escape(char))
    return "(?s)" + "".join(out)


# What a Java regex may use that RE2 cannot run: lookaround, backreferences, atomic groups;
# and possessive quantifiers, which RE2 reads as greedy ones.
_BEYOND_RE2 = re.compile(r"\(\?<?[=!]|\(\?>|\\[1-9]")
_POSSESSIVE = re.compile(r"(?<!\\)([*+?}])\+")


def re2_regex(regex: str, node: ast.Node) -> str:
    """A Java regex (REPLACE) as RE2 runs it. Possessive quantifiers become greedy: RE2 never
    backtracks into them anyway, so they match the same text except where a possessive one
    would make the whole match fail. Lookaround and backreferences are refused."""
    regex = _lookahead_as_class(regex)
    if _BEYOND_RE2.search(regex):
        raise _refused(f"regex [{regex}] uses lookaround or backreferences, which Lanner's "
                       "regex engine (RE2) cannot run", node)
    return _POSSESSIVE.sub(r"\1", regex)


_LOOKAHEAD_CLASS = re.compile(r"\(\?!((?:[^()\[\]\\|]|\\.|\[[^\]]*\])(?:\|(?:[^()\[\]\\|]|\\.|"
                              r"\[[^\]]*\]))*)\)\[([^\]^]*)\]")
_ESCAPED_SETS = {"d": "0123456789", "r": "\r", "n": "\n", "t": "\t"}


def _lookahead_as_class(regex: str) -> str:
    """`(?!a|[bc]|\\d)[A-Za-z0-9]`, a negative lookahead of single characters before a
    character class, is that class without those characters: RE2 can run it."""
    def subtract(match: re.Match[str]) -> str:
        excluded = set()
        for option in match.group(1).split("|"):
            chars = _class_chars(option[1:-1]) if option.startswith("[") \
                else _class_chars(option)
            if chars is None:
                return match.group(0)
            excluded |= chars
        kept = _class_chars(match.group(2))
        if kept is None:
            return match.group(0)
        return "[" + "".join(re.escape(c) for c in sorted(kept - excluded)) + "]"
    return _LOOKAHEAD_CLASS.sub(subtract, regex)


def _class_chars(body: str) -> set[str] | None:
    """The characters of a simple class body (`A-Za-z0-9_-`, `rntb`, `\\d`), None if it
    uses more than literals, ranges and \\d \\r \\n \\t."""
    chars: set[str] = set()
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            escaped = body[i + 1:i + 2]
            if escaped in _ESCAPED_SETS:
                chars.update(_ESCAPED_SETS[escaped])
            elif escaped and not escaped.isalnum():
                chars.add(escaped)
            else:
                return None
            i += 2
        elif i + 2 < len(body) and body[i + 1] == "-":
            chars.update(chr(c) for c in range(ord(char), ord(body[i + 2]) + 1))
            i += 3
        else:
            chars.add(char)
            i += 1
    return chars


def re2_replacement(replacement: str) -> str:
    """Java's replacement (`$1` a group, `\\x` a literal x) as RE2 writes it (`\\1`)."""
    out, i = [], 0
    while i < len(replacement):
        char = replacement[i]
        if char == "\\" and i + 1 < len(replacement):
            out.append("\\\\" if replacement[i + 1] == "\\" else replacement[i + 1])
            i += 2
        elif char == "$" and i + 1 < len(replacement) and replacement[i + 1].isdigit():
            out.append("\\" + replacement[i + 1])
            i += 2
        else:
            out.append("\\\\" if char == "\\" else char)
            i += 1
    return "".join(out)


def grok_regex(pattern: str, node: ast.Node) -> tuple[str, list[str]]:
    """A GROK pattern as one RE2 regex (searched, not anchored, as grok matches) whose
    capturing groups are, in order, the pattern's named fields."""
    names: list[str] = []
    out: list[str] = []
    position = 0
    for match in re.finditer(r"%\{(\w+)(?::([\w.@]+))?(?::\w+)?\}|\(\?<([\w.@]+)>|\\.|\[|\(",
                             pattern):
        out.append(pattern[position:match.start()])
        position = match.end()
        text = match.group(0)
        if text.startswith("%{"):
            definition = _GROK.get(match.group(1))
            if definition is None:
                raise _refused(f"grok pattern %{{{match.group(1)}}} is not supported", node)
            if match.group(2):
                names.append(match.group(2))
                out.append(f"({definition})")
            else:
                out.append(f"(?:{definition})")
        elif match.group(3):
            names.append(match.group(3))
            out.append("(")
        elif text == "(":
            # Joni with named groups captures only those: a plain group does not capture
            out.append("(" if pattern.startswith("?", position) else "(?:")
        elif text == "[":
            end = _class_end(pattern, match.start())
            out.append(pattern[match.start():end])
            position = end
        else:
            out.append(text)
    out.append(pattern[position:])
    if len(set(names)) != len(names):
        raise _refused("a grok field is named twice", node)
    return "".join(out), names


def _class_end(pattern: str, start: int) -> int:
    """The position after the character class opening at `start`."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "]":
            return i + 1
        i += 1
    return len(pattern)


def dissect_regex(pattern: str, node: ast.Node) -> tuple[str, list[str]]:
    """A DISSECT pattern as an anchored regex: each key takes the text up to the first
    occurrence of the delimiter after it, the last key the rest (ES's dissect parser);
    `->` lets a delimiter repeat."""
    parts = re.split(r"(%\{[^}]*\})", pattern)
    regex = ["^"]
    names: list[str] = []
    keys = [p for p in parts if p.startswith("%{")]
    seen_keys = 0
    for part in parts:
        if not part.startswith("%{"):
            regex.append(re.escape(part))
            continue
        seen_keys += 1
        key = part[2:-1]
        padded = key.endswith("->")
        key = key.removesuffix("->").strip()
        last = seen_keys == len(keys)
        body = "(.*)" if last else "(.*?)"
        if not key or key.startswith(("?", "*", "&")):
            body = body.replace("(", "(?:", 1)
        elif key.startswith("+"):
            raise _refused("DISSECT append keys (%{+name}) are not supported", node)
        else:
            names.append(key)
        regex.append(body)
        if padded:
            index = parts.index(part)
            following = parts[index + 1] if index + 1 < len(parts) else ""
            if following:
                regex.append(f"(?:{re.escape(following)})*")
    regex.append("$")
    expected = dissect_columns(pattern)
    if names != expected:
        raise _refused("DISSECT keys repeat", node)
    return "(?s)" + "".join(regex), names
