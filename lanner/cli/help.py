"""What `--help` shows: a word for what an option takes (PATH, N, DATE), never a Python type.

Typer's help puts a type column beside each parameter, spelled the Python way (`<list[str]>`,
`<bool>` even on flags). `LannerGroup`, the class of the `lanner` group, goes once over every
command below it when the group is built: flags show nothing, options show their metavar (or,
when a command declared none, a word made from the option's choices, its number type or its
name), and arguments show only their name, which is their metavar already.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

# What the store reads (lanner.store.readers, lanner.store.evtx), in the words of every
# command that takes event files: one text, so that no command's help forgets a format.
INPUT_FORMATS = ("NDJSON, JSON arrays or documents, Elasticsearch search and _eql/search "
                 "responses, exports (elasticdump too) and _bulk bodies, Parquet, EVTX; gzip, "
                 "bzip2 or zip")


class LannerGroup(TyperGroup):
    """The `lanner` group: its commands, and theirs, get plain help placeholders."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain_placeholders(self)


class _NamedArgument(TyperArgument):
    """An argument whose help shows its name (its metavar) and no type beside it."""

    def display_type_rich(self, ctx: typer.Context) -> str | None:
        return None


def plain_placeholders(command: Any) -> None:
    """Give every parameter of `command` and of its subcommands a plain help placeholder."""
    params = list(command.params)
    help_option = command.get_help_option(typer.Context(command))
    if help_option is not None:  # made on demand, then kept: the one help will show
        params.append(help_option)
    for param in params:
        if isinstance(param, TyperArgument):
            param.__class__ = _NamedArgument
        elif isinstance(param, TyperOption) and param.metavar is None:
            param.metavar = _option_placeholder(param)
    for subcommand in getattr(command, "commands", {}).values():
        plain_placeholders(subcommand)


def _option_placeholder(option: TyperOption) -> str:
    if option.is_flag or option.count:
        return ""
    descriptor = option.type_descriptor
    if descriptor.is_choice:
        return "[" + "|".join(str(choice) for choice in descriptor.choices or ()) + "]"
    if descriptor.is_ranged or option.bare_type() in ("int", "float"):
        return "N"
    return (option.name or "value").upper()
