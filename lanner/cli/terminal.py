"""Text from data, made safe for a terminal: what events, rules and files say is shown, never
obeyed.

An event field, a rule name or a file name may hold control characters: an escape sequence
(`\\x1b]52;c;…\\x07` writes the clipboard, `\\x1b]8;;url\\x07` makes a link, CSI sequences move
the cursor and rewrite lines) or bidirectional overrides that reorder what is shown. Rich passes
ESC through, and reads `[link=…]` in a string as its own markup. So every piece of data goes to
a console through `visible` (control characters written as escapes, `\\x1b`, `\\u202e`) and as a
`Text`, which Rich never reads as markup; `data` does both. `SafeConsole` escapes what a caller
forgot, as a last line of defence: the consoles of every command are SafeConsoles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.segment import Segment
from rich.text import Text

# C1 controls, DEL, and the invisible marks that reorder or hide text (bidi overrides and
# isolates, the Arabic letter mark, line and paragraph separators); then with the C0 controls.
_INVISIBLE = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x1f{_INVISIBLE}]")
# The same, but new lines and tabs are kept: for text of several lines (a description).
_UNSAFE_KEEPING_LINES = re.compile(f"[\x00-\x08\x0b-\x1f{_INVISIBLE}]")


def visible(value: Any, *, lines: bool = False) -> str:
    """`value` as text with every control character shown as an escape (`\\x1b`), so that a
    terminal prints it rather than obeys it. `lines`: keep new lines and tabs."""
    text = value if isinstance(value, str) else str(value)
    return (_UNSAFE_KEEPING_LINES if lines else _UNSAFE).sub(_escape, text)


def data(value: Any, style: str = "", *, lines: bool = False) -> Text:
    """Data as a Rich Text: control characters shown (see `visible`), and no markup read."""
    return Text(visible(value, lines=lines), style=style)


_SHORT = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _SHORT.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


class SafeConsole(Console):
    """A Rich console that shows, rather than sends, any control character in the text it
    prints: Rich's own control sequences (cursor moves of a live display) and the styles it
    renders are kept; new lines and tabs too. It writes `\\u001b`, the JSON escape, so that
    JSON printed with a raw C1 control or bidi mark in a string stays JSON, meaning the same."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(_shown(buffer))


def _shown(buffer: Iterable[Segment]) -> Iterable[Segment]:
    for segment in buffer:
        text, style, control = segment
        if control is None and _UNSAFE_KEEPING_LINES.search(text):
            yield Segment(_UNSAFE_KEEPING_LINES.sub(_json_escape, text), style)
        else:
            yield segment
