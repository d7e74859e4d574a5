"""Investigation guides (a rule's `note`) rendered as plain, readable Markdown.

A guide is Markdown with Kibana's Markdown plugin blocks in it:

* `!{investigate{…json…}}`: a button opening a Timeline query. Its `providers` are groups of
  filters (`field`, `excluded`, `queryType` phrase|phrases|range|exists, `value`); the groups
  are OR-ed, the filters of a group AND-ed; `relativeFrom`/`relativeTo` are date math relative
  to the alert's time.
* `!{osquery{…json…}}`: a button running an Osquery live query (`label`, `query`, and
  optionally `ecs_mapping`).

detection-rules TOML writes `$investigate_N` / `$osquery_N` in the note instead, and the N-th
`[[transform.investigate]]` / `[[transform.osquery]]` entry supplies the block when the rule is
built (`expand_transforms` does that step).

`render_guide` turns each block into a titled piece of Markdown: the query's filters in words,
or the Osquery SQL in a code block. Values written `{{field}}` are filled from the alert, as
Kibana fills them (in filter values and Osquery queries only; the guide's prose is left
alone). A field the alert lacks stays visibly `{{field}}`, followed by MISSING_MARKER. Without
an alert the templates are left as they are, as Kibana shows them on the rule's page.
Everything else in the note, in any language, comes through unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from lanner.store.documents import field_objects

MISSING_MARKER = "(not in the alert)"
PLUGINS = ("investigate", "osquery")

_TRANSFORM_PLACEHOLDER = re.compile(r"\$(investigate|osquery)_(\d+)\b")
_TEMPLATE = re.compile(r"\{\{([^}]+)\}\}")  # Kibana's placeholder pattern
_BLOCK_START = re.compile(r"!\{(investigate|osquery)")
_LIST_MARKER = re.compile(r"[ \t]*(?:[-*+]|\d+[.)])[ \t]+")


def render_guide(note: str, transform: Mapping[str, Any] | None = None,
                 alert: Mapping[str, Any] | None = None) -> str:
    """The guide as Markdown without plugin syntax, for a reader outside Kibana."""
    return _render_blocks(expand_transforms(note, transform), alert)


def expand_transforms(note: str, transform: Mapping[str, Any] | None) -> str:
    """`$investigate_N` / `$osquery_N` replaced by the plugin block of the N-th transform
    entry, as detection-rules builds the note Kibana gets (compact JSON, sorted keys). A
    placeholder without an entry is left as it is."""
    entries = transform or {}

    def block(match: re.Match[str]) -> str:
        plugin, number = match.group(1), int(match.group(2))
        listed = entries.get(plugin)
        if not isinstance(listed, Sequence) or number >= len(listed):
            return match.group(0)
        data = json.dumps(listed[number], sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False, default=str)
        return f"!{{{plugin}{data}}}"

    return _TRANSFORM_PLACEHOLDER.sub(block, note)


def fill_templates(text: str, alert: Mapping[str, Any] | None) -> tuple[str, list[str]]:
    """`{{field}}` replaced by the alert's values (several joined by ", "); the fields the
    alert lacks are left as written and returned, in order."""
    if alert is None:
        return text, []
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        values = field_objects(alert, name)
        if not values:
            if name not in missing:
                missing.append(name)
            return match.group(0)
        return ", ".join(_plain(value) for value in values)

    return _TEMPLATE.sub(fill, text), missing


# -- blocks -------------------------------------------------------------------------------


def _render_blocks(note: str, alert: Mapping[str, Any] | None) -> str:
    out: list[str] = []
    position = 0
    for match in _BLOCK_START.finditer(note):
        if match.start() < position:  # inside a block already rendered
            continue
        parsed = _read_block(note, match.end())
        if parsed is None:
            continue
        config, end = parsed
        out.append(note[position:match.start()])
        indent = _continuation_indent(note, match.start())
        if isinstance(config, str):  # not valid JSON: keep the block, say so
            out.append(f"{note[match.start():end]} *(unreadable {match.group(1)} block: "
                       f"{config})*")
        else:
            lines = (_investigate(config, alert) if match.group(1) == "investigate"
                     else _osquery(config, alert))
            rest = (indent + line if line else "" for line in lines[1:])
            out.append("\n".join([lines[0], *rest]))
            line_end = note.find("\n", end)
            tail = note[end:line_end if line_end >= 0 else len(note)]
            if tail.strip():  # text after the block goes below it, not into its last line
                out.append("\n" + indent)
                end += len(tail) - len(tail.lstrip())
        position = end
    out.append(note[position:])
    return "".join(out)


def _read_block(note: str, start: int) -> tuple[Mapping[str, Any] | str, int] | None:
    """The configuration of a block whose prefix ends at `start`, and where the block ends.

    Like Kibana's parser it counts braces (not minding strings) from the `{` that opens the
    JSON to the `}` that closes the block. Returns the JSON error text for a bad block, and
    None when no configuration follows the prefix.
    """
    if start >= len(note) or note[start] != "{":
        return None
    depth = 0
    for index in range(start, len(note)):
        char = note[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == -1:
                text = note[start:index]
                try:
                    config = json.loads(text)
                except json.JSONDecodeError as error:
                    return str(error), index + 1
                if not isinstance(config, Mapping):
                    return "the configuration is not a JSON object", index + 1
                return config, index + 1
    return "the block is not closed", len(note)


def _continuation_indent(note: str, at: int) -> str:
    """Indentation that keeps a multi-line rendering inside the list item the block is in."""
    line_start = note.rfind("\n", 0, at) + 1
    line = note[line_start:at]
    marker = _LIST_MARKER.match(line)
    if marker:
        return " " * len(marker.group(0).expandtabs(4))
    return line[:len(line) - len(line.lstrip(" \t"))]


def _investigate(config: Mapping[str, Any], alert: Mapping[str, Any] | None) -> list[str]:
    title = f"**Investigate in Timeline: {config.get('label') or 'query'}**"
    description = config.get("description")
    if description:
        title += f" — {description}"
    relative_from, relative_to = config.get("relativeFrom"), config.get("relativeTo")
    if relative_from and relative_to:
        title += (f" (events from {_code(str(relative_from))} to {_code(str(relative_to))}, "
                  f"relative to the alert's time)")
    groups = config.get("providers")
    lines = [title]
    if not isinstance(groups, list) or not groups:
        return [*lines, "- no filters"]
    for number, group in enumerate(groups):
        filters = group if isinstance(group, list) else [group]
        words = " and ".join(_provider(provider, alert) for provider in filters) or "any event"
        lines.append(f"- {'or ' if number else ''}{words}")
    return lines


def _provider(provider: object, alert: Mapping[str, Any] | None) -> str:
    """One Timeline filter in words: "`host.id` is `h1`", "`x` does not exist (excluded)"."""
    if not isinstance(provider, Mapping):
        return f"unreadable filter {_code(json.dumps(provider, ensure_ascii=False))}"
    name = _code(str(provider.get("field", "?")))
    excluded = provider.get("excluded") in (True, "true")
    query_type = provider.get("queryType", "phrase")
    value = provider.get("value", "")
    tail = " (excluded)" if excluded else ""
    if query_type == "exists":
        return f"{name} {'does not exist' if excluded else 'exists'}{tail}"
    negation = "not " if excluded else ""
    if query_type == "phrases":
        values = json_or(value, [value])
        listed = ", ".join(_value(v, alert) for v in (values if isinstance(values, list)
                                                       else [values]))
        return f"{name} is {negation}one of {listed}{tail}"
    if query_type == "range":
        bounds = json_or(value, {})
        limits = []
        if isinstance(bounds, Mapping):
            for key, words in (("gte", "≥"), ("gt", ">"), ("lte", "≤"), ("lt", "<")):
                if bounds.get(key) is not None:
                    limits.append(f"{words} {_value(bounds[key], alert)}")
        return f"{name} is {negation}in the range {', '.join(limits) or _value(value, alert)}{tail}"
    verb = "is" if query_type == "phrase" else str(query_type)
    return f"{name} {verb} {negation}{_value(value, alert)}{tail}"


def _osquery(config: Mapping[str, Any], alert: Mapping[str, Any] | None) -> list[str]:
    query, missing = fill_templates(str(config.get("query") or ""), alert)
    fence = "`" * max(3, _longest_backtick_run(query) + 1)
    lines = [f"**Osquery: {config.get('label') or 'Run Osquery'}**", "", f"{fence}sql",
             *query.strip("\n").split("\n"), fence]
    mapping = config.get("ecs_mapping")
    if isinstance(mapping, Mapping) and mapping:
        pairs = []
        for ecs_field, source in mapping.items():
            column = source.get("field") if isinstance(source, Mapping) else None
            constant = source.get("value") if isinstance(source, Mapping) else None
            origin = _code(str(column)) if column else f"the value {_code(str(constant))}"
            pairs.append(f"{_code(str(ecs_field))} ← {origin}")
        lines.append("Results mapped to ECS: " + ", ".join(pairs))
    if missing:
        lines.append("Left as written, " + MISSING_MARKER + ": "
                     + ", ".join(_code("{{" + name + "}}") for name in missing))
    return lines


# -- values -------------------------------------------------------------------------------


def _value(value: object, alert: Mapping[str, Any] | None) -> str:
    """A filter value as inline code, its templates filled; missing ones marked."""
    if not isinstance(value, str):
        return _code(_plain(value))
    filled, missing = fill_templates(value, alert)
    return _code(filled) + (f" {MISSING_MARKER}" if missing else "")


def _plain(value: object) -> str:
    """A value as text: JSON's spelling for booleans and objects."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def json_or(value: object, default: Any) -> Any:
    """A Timeline filter's value: Kibana keeps `phrases` and `range` values as JSON text; a
    value that is not text is already parsed, text that is not JSON gives `default`."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return default


def _code(text: str) -> str:
    """Inline code that survives backticks inside the text."""
    ticks = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)
