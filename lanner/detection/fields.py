"""The fields a set of rules can read: what a hunt asks the store to load, and no more.

A store that loads only these (lanner.store.columnar) refuses questions about any other
field, so a field missing here shows up as a rule error, never as a silently absent value.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from lanner import eql, esql, kql
from lanner.detection.exceptions import (
    ExceptionEntry,
    ExceptionLists,
    load_rule_exceptions,
)
from lanner.engine.search import prepare
from lanner.errors import LannerError
from lanner.kql import ast as kql_ast
from lanner.rules import Rule, known

# Read for every rule: the default timestamp and category, and what exception items with
# os_types compare.
ALWAYS_READ = frozenset({"@timestamp", "event.category", "host.os.type", "host.os.name"})


def fields_read(rules: Iterable[Rule],
                exceptions: ExceptionLists | None = None) -> set[str] | None:
    """Every field the rules' queries, timestamps, tiebreakers, categories and exception items
    (from the loaded lists and the rules' own files) refer to; None when an exception item has
    a `nested` entry, which reads each document's `_source`, or when a rule's fields cannot be
    listed (a KQL field-name pattern, free text), so every field must be kept."""
    fields = set(ALWAYS_READ)
    for rule in rules:
        if rule.needs_ml:
            continue
        try:
            own = _query_fields(rule)
        except (eql.EqlError, kql.KqlError):
            continue  # the rule fails with this error when it runs
        if own is None:
            return None
        fields.update(own)
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


def _query_fields(rule: Rule) -> set[str] | None:
    """The fields the rule's queries and type parameters read, or None when they cannot be
    listed."""
    if rule.is_eql:
        cached = known.query_fields(rule.query)  # the rules loader's: no need to parse it
        return set(cached if cached is not None else prepare(rule.query).fields)
    if rule.language == "esql":
        return set(esql.fields_read(rule.query))
    if not rule.is_kql:
        return None
    found = _kql_fields(rule.query)
    for extra in (_dsl_fields(rule.filters),
                  _kql_fields(rule.threat_query or "") if rule.type == "threat_match" else set(),
                  _dsl_fields(rule.threat_filters)):
        if found is None or extra is None:
            return None
        found |= extra
    found.update(e.field for group in rule.threat_mapping for e in group)
    found.update(e.value for group in rule.threat_mapping for e in group)
    if rule.threshold is not None:
        found.update(rule.threshold.field)
        found.update(c.field for c in rule.threshold.cardinality)
    found.update(rule.new_terms_fields)
    if rule.alert_suppression is not None:
        found.update(rule.alert_suppression.group_by)
    return found


def _kql_fields(query: str) -> set[str] | None:
    """The field names of a KQL query; None for a name pattern or free text (every field)."""
    found: set[str] = set()
    for node in kql.parse(query).walk():
        if isinstance(node, kql_ast.Nested):
            return None
        if isinstance(node, kql_ast.FieldValue | kql_ast.Range):
            name = node.field
            if not isinstance(name, kql_ast.Literal) or not isinstance(name.value, str):
                return None
            found.add(name.value)
    return found


# Query DSL leaves whose body is {field: ...}, as Kibana filters write them.
_FIELD_KEYED = ("term", "terms", "match", "match_phrase", "wildcard", "prefix", "range")


def _dsl_fields(clauses: Iterable[object]) -> set[str] | None:
    """The field names of Kibana filters (or Query DSL clauses); None for a query type whose
    fields cannot be listed."""
    found: set[str] = set()
    for clause in clauses:
        if not isinstance(clause, dict):
            return None
        for key, body in clause.items():
            if key in ("meta", "$state"):
                continue
            if key == "query" or key == "bool":
                inner = [body] if key == "query" else [
                    c for part in body.values() if isinstance(part, list | dict)
                    for c in (part if isinstance(part, list) else [part])]
                more = _dsl_fields(inner)
                if more is None:
                    return None
                found |= more
            elif key == "exists" and isinstance(body, dict):
                found.add(str(body.get("field")))
            elif key in _FIELD_KEYED and isinstance(body, dict):
                found.update(body)
            else:
                return None
    return found


def _entry_fields(entries: Iterable[ExceptionEntry], prefix: str = "") -> set[str]:
    found: set[str] = set()
    for entry in entries:
        name = prefix + entry.field
        found.add(name)
        found.update(_entry_fields(entry.entries, name + "."))
    return found
