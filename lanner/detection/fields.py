"""The fields a set of rules can read: what a hunt asks the store to load, and no more.

A store that loads only these (lanner.store.columnar) refuses questions about any other
field, so a field missing here shows up as a rule error, never as a silently absent value.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from lanner import eql
from lanner.detection.exceptions import (
    ExceptionEntry,
    ExceptionLists,
    load_rule_exceptions,
)
from lanner.engine.search import prepare
from lanner.errors import LannerError
from lanner.rules import Rule

# Read for every rule: the default timestamp and category, and what exception items with
# os_types compare.
ALWAYS_READ = frozenset({"@timestamp", "event.category", "host.os.type", "host.os.name"})


def fields_read(rules: Iterable[Rule],
                exceptions: ExceptionLists | None = None) -> set[str] | None:
    """Every field the rules' queries, timestamps, tiebreakers, categories and exception items
    (from the loaded lists and the rules' own files) refer to; None when an exception item has
    a `nested` entry, which reads each document's `_source` (so every field must be kept)."""
    fields = set(ALWAYS_READ)
    for rule in rules:
        try:
            plan = prepare(rule.query)  # parsed once: the hunt that follows plans it again
        except eql.EqlError:
            continue  # the rule fails with this error when it runs
        fields.update(plan.fields)
        fields.update(name for name in (rule.timestamp_override, rule.tiebreaker_field,
                                        rule.category_field) if name)
        items = list(exceptions.items_for(rule.exceptions_list)) if exceptions else []
        if rule.path and rule.path.endswith(".toml"):
            with contextlib.suppress(LannerError):  # the rule reports it when it runs
                items.extend(load_rule_exceptions(rule.path))
        for item in items:
            if any(entry.type == "nested" for entry in item.entries):
                return None
            fields.update(_entry_fields(item.entries))
    return fields


def _entry_fields(entries: Iterable[ExceptionEntry], prefix: str = "") -> set[str]:
    found: set[str] = set()
    for entry in entries:
        name = prefix + entry.field
        found.add(name)
        found.update(_entry_fields(entry.entries, name + "."))
    return found
