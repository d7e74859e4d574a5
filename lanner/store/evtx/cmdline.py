"""Command lines split into arguments the two ways Elastic's Windows pipelines split them.

Sysmon and PowerShell events get Windows' own rules (CommandLineToArgvW, with the "prior to
2008" treatment of doubled quotes), as the pipelines' `commandLineToArgv` script does. Security
event 4688 gets a simpler quote-aware split on whitespace that keeps the quotes and yields an
empty argument for each extra space: rules written against 4688 data expect exactly that.
"""

from __future__ import annotations

_BLANKS = (" ", "\t")
# Characters str.isspace() accepts and Java's Character.isWhitespace (the pipeline's) does not.
_NOT_JAVA_WHITESPACE = frozenset("\u00a0\u2007\u202f\x85")


def split_command_line(command_line: str) -> list[str]:
    """Arguments as a Windows program's `argv` would hold them."""
    args: list[str] = []
    position, end = 0, len(command_line)
    while position < end:
        if command_line[position] in _BLANKS:
            position += 1
            continue
        arg, position = _next_argument(command_line, position)
        args.append(arg)
    return args


def _next_argument(text: str, position: int) -> tuple[str, int]:
    """One argument starting at `position`, and where the rest of the line starts."""
    parts: list[str] = []
    in_quote = False
    backslashes = 0
    end = len(text)
    while position < end:
        char = text[position]
        if char in _BLANKS and not in_quote:
            parts.append("\\" * backslashes)
            return "".join(parts), position + 1
        if char == '"':
            parts.append("\\" * (backslashes // 2))
            if backslashes % 2 == 0:
                if in_quote and position + 1 < end and text[position + 1] == '"':
                    parts.append('"')  # "" inside quotes: a literal quote, and quoting ends
                    position += 1
                in_quote = not in_quote
            else:
                parts.append('"')
            backslashes = 0
        elif char == "\\":
            backslashes += 1
        else:
            parts.append("\\" * backslashes)
            backslashes = 0
            parts.append(char)
        position += 1
    parts.append("\\" * backslashes)
    return "".join(parts), end


def split_on_unquoted_whitespace(command_line: str) -> list[str]:
    """The 4688 split of Elastic's Security pipeline: cut at each whitespace character outside
    double quotes, keeping quotes and the empty pieces between consecutive blanks."""
    pieces: list[str] = []
    start = 0
    in_quote = False
    last = len(command_line) - 1
    for index, char in enumerate(command_line):
        if char == '"':
            in_quote = not in_quote
        if not in_quote and _is_java_whitespace(char):
            pieces.append(command_line[start:index])
            start = index + 1
        if index == last:
            pieces.append(command_line[start : index + 1])
    return pieces


def _is_java_whitespace(char: str) -> bool:
    return char.isspace() and char not in _NOT_JAVA_WHITESPACE
