"""A guide's `!{investigate{…}}` blocks as links to the events search, running their query.

Kibana's Markdown plugin turns such a block into a button that opens a Timeline with its
`providers`: groups of filters, the groups OR-ed and the filters of a group AND-ed, each
filter a `field`, a `value` (with `{{field}}` templates filled from the alert), a
`queryType` (`phrase`, `phrases`, `range`, `exists`) and `excluded` (negated); with
`relativeFrom` / `relativeTo`, date math relative to the alert's time, bounding the events'
`@timestamp` (see `lanner.detection.guide`, which renders the blocks as readable text).

Here each block becomes a link to `/app/search` with the providers as a KQL query, as a
Timeline turns its data providers into KQL: a group's filters joined with `and`, the groups
with `or`; `phrase` is `field: "value"`, `phrases` any of its values, `range` comparisons,
`exists` is `field: *`, `excluded` puts `not` before the filter. The time range goes to the
search's `from` / `to` (a range on `@timestamp`).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape

from lanner.detection import datemath
from lanner.detection.guide import expand_transforms, fill_templates, json_or

TITLE = "<strong>Investigate in Timeline: "  # how render_guide titles a block, in HTML
_BLOCK_START = re.compile(r"!\{investigate(?=\{)")


def investigate_queries(note: str, transform: Mapping[str, Any] | None,
                        alert: Mapping[str, Any] | None,
                        moment: datetime.datetime | None) -> list[dict[str, str] | None]:
    """Each investigate block of the note, in order: the search it opens (query, filter as
    JSON, from, to), or None for a block that is not a readable JSON object."""
    expanded = expand_transforms(note, transform)
    found: list[dict[str, str] | None] = []
    decoder = json.JSONDecoder()
    for match in _BLOCK_START.finditer(expanded):
        try:
            config, _ = decoder.raw_decode(expanded, match.end())
        except json.JSONDecodeError:
            config = None
        found.append(search_of(config, alert, moment) if isinstance(config, Mapping)
                     else None)
    return found


def search_of(config: Mapping[str, Any], alert: Mapping[str, Any] | None,
              moment: datetime.datetime | None) -> dict[str, str]:
    """The events search an investigate block stands for."""
    groups = config.get("providers")
    clauses = []
    for group in groups if isinstance(groups, list) else []:
        filters = [provider_kql(p, alert) for p in (group if isinstance(group, list)
                                                    else [group])]
        filters = [f for f in filters if f]
        if filters:
            clauses.append(" and ".join(filters))
    if len(clauses) > 1:
        clauses = [f"({clause})" if " and " in clause else clause for clause in clauses]
    search = {"lang": "kql", "q": " or ".join(clauses)}
    for key, name, round_up in (("relativeFrom", "from", False), ("relativeTo", "to", True)):
        text = config.get(key)
        if isinstance(text, str) and text and moment is not None:
            try:
                bound = datemath.parse(text, now=moment, round_up=round_up)
            except datemath.DateMathError:
                continue
            search[name] = bound.astimezone(datetime.UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z")
    return search


def provider_kql(provider: object, alert: Mapping[str, Any] | None) -> str:
    """One filter as KQL ("" for one that names no field)."""
    if not isinstance(provider, Mapping) or not isinstance(provider.get("field"), str):
        return ""
    field = provider["field"]
    kind = provider.get("queryType", "phrase")
    value = provider.get("value", "")
    if kind == "exists":
        query = f"{field}: *"
    elif kind == "phrases":
        values = json_or(value, [value])
        listed = [f"{field}: {_quoted(_filled(v, alert))}"
                  for v in (values if isinstance(values, list) else [values])]
        query = listed[0] if len(listed) == 1 else "(" + " or ".join(listed) + ")"
    elif kind == "range":
        bounds = json_or(value, {})
        if not isinstance(bounds, Mapping):
            return ""
        parts = [f"{field} {operator} {_quoted(_filled(bounds[key], alert))}"
                 for key, operator in (("gte", ">="), ("gt", ">"), ("lte", "<="), ("lt", "<"))
                 if bounds.get(key) is not None]
        if not parts:
            return ""
        query = parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"
    else:
        query = f"{field}: {_quoted(_filled(value, alert))}"
    return f"not {query}" if provider.get("excluded") in (True, "true") else query


def _quoted(value: object) -> str:
    """A KQL quoted string: backslashes and double quotes escaped."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _filled(value: object, alert: Mapping[str, Any] | None) -> object:
    if not isinstance(value, str):
        return value
    return fill_templates(value, alert)[0]


def with_links(html: Markup, searches: list[dict[str, str] | None]) -> Markup:
    """The rendered guide with a link to its search after each investigate block's title
    (the n-th title is the n-th readable block: unreadable ones get no title)."""
    readable = [search for search in searches if search is not None]
    parts = str(html).split(TITLE)
    out = [parts[0]]
    for number, part in enumerate(parts[1:]):
        end = part.find("</strong>")
        if number < len(readable) and end >= 0:
            href = "/app/search?" + urlencode({k: v for k, v in readable[number].items() if v})
            link = Markup(' <a class="investigate" href="{}">Open in events search</a>').format(
                escape(href))
            part = part[:end + len("</strong>")] + str(link) + part[end + len("</strong>"):]
        out.append(part)
    return Markup(TITLE.join(out))
