"""Bounds on what one input may cost, set where a real log never reaches them.

A line longer than `MAX_LINE_BYTES` is skipped (read through in blocks, never held whole) and
reported; compressed data that decompresses to more than `MAX_COMPRESSION_RATIO` times its
compressed size (checked once `RATIO_FLOOR_BYTES` have come out) is cut there and reported;
a document with a key twice is a bad line, as Elasticsearch refuses it, unless duplicates are
allowed (the last value wins). Each default is a module constant, overridden by an environment
variable, and both by an InputLimits given to the reader.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# The longest document line read. Elasticsearch's own request limit (http.max_content_length)
# is 100 MB; ECS documents are a few kilobytes, the largest (scripts in event.original) a few MB.
MAX_LINE_BYTES = 64 * 1024 * 1024
# Logs compress about 10-40 times with gzip (the real data here: 14-42); deflate cannot exceed
# 1032, so only crafted data (a run of one byte: newlines, a giant line), bzip2 runs or archives
# inside archives get past this.
MAX_COMPRESSION_RATIO = 500
# Decompressed bytes before the ratio is checked: a small file may compress oddly well.
RATIO_FLOOR_BYTES = 64 * 1024 * 1024
ALLOW_DUPLICATE_KEYS = False

MAX_LINE_BYTES_VARIABLE = "LANNER_MAX_LINE_BYTES"
MAX_COMPRESSION_RATIO_VARIABLE = "LANNER_MAX_COMPRESSION_RATIO"
ALLOW_DUPLICATE_KEYS_VARIABLE = "LANNER_ALLOW_DUPLICATE_KEYS"


@dataclass(frozen=True, slots=True)
class InputLimits:
    max_line_bytes: int = MAX_LINE_BYTES
    max_compression_ratio: float = MAX_COMPRESSION_RATIO
    ratio_floor_bytes: int = RATIO_FLOOR_BYTES
    allow_duplicate_keys: bool = ALLOW_DUPLICATE_KEYS


def current_limits() -> InputLimits:
    """The module defaults (read now, so that they can be changed at run time), each replaced
    by its environment variable when that is set; a variable that is not a number is ignored."""
    return InputLimits(
        max_line_bytes=int(_number(MAX_LINE_BYTES_VARIABLE, MAX_LINE_BYTES)),
        max_compression_ratio=_number(MAX_COMPRESSION_RATIO_VARIABLE, MAX_COMPRESSION_RATIO),
        ratio_floor_bytes=RATIO_FLOOR_BYTES,
        allow_duplicate_keys=_flag(ALLOW_DUPLICATE_KEYS_VARIABLE, ALLOW_DUPLICATE_KEYS),
    )


def _number(variable: str, default: float) -> float:
    text = os.environ.get(variable, "").strip().replace("_", "")
    try:
        value = float(text) if text else default
    except ValueError:
        return default
    return value if value > 0 else default


def _flag(variable: str, default: bool) -> bool:
    text = os.environ.get(variable, "").strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    return default


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """`text` with every character that is not printable escaped as Python writes it
    (`\\x1b`, `\\n`, `\\u200b`): a name taken from an archive or a file system may hold
    terminal escapes, which must never reach a terminal or a report raw."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
