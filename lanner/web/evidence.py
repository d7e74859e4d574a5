"""What an alert's page shows beside its events, read through the layers below the UI: the
fields the rule names for investigation, why each event matched (the rule tooling of
`lanner.detection.explain`), the process ancestry the events store holds, and the alerts on
the same host around the same time.

Every function here runs under the service's `write_lock` (the store's one connection).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lanner.detection.explain import explain_query
from lanner.detection.run import DEFAULT_INDEX
from lanner.engine.backends.duckdb import SearchScope
from lanner.engine.backends.sql import sql_literal
from lanner.eql.printer import quote_string
from lanner.errors import LannerError
from lanner.rules import Rule
from lanner.store.documents import field_objects, field_values

log = logging.getLogger(__name__)

# How many parents up the ancestry walk goes (each level is one search of the store).
ANCESTRY_LEVELS = 8
# Related alerts: the same host, within this much of the alert's time.
RELATED_WINDOW = datetime.timedelta(hours=1)
RELATED_SHOWN = 20
_PROCESS_FIELDS = ("name", "pid", "executable", "command_line")


@dataclass(frozen=True, slots=True)
class Clause:
    text: str
    met: bool


@dataclass(frozen=True, slots=True)
class Matched:
    """One event of an alert and the clauses of its stage's filter, each met or not."""

    label: str
    stage: str  # the filter the event was checked against, as EQL
    clauses: tuple[Clause, ...]
    error: str | None = None


def investigation_fields(rule: Rule | None, event: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The rule's `investigation_fields` with the event's values, in the rule's order (a
    field the event lacks shows as empty, so the analyst sees it was looked for)."""
    if rule is None:
        return []
    return [(name, ", ".join(str(value) for value in field_values(event, name)))
            for name in rule.investigation_fields]


def why_matched(service: Any, rule: Rule | None,
                events: Sequence[Mapping[str, Any]]) -> list[Matched]:
    """For each event of the alert (its own, or a sequence's building blocks in order), the
    clauses of the rule's filter it met: the rule's query explained over that one stored
    event (the source named by `kibana.alert.ancestors`), so the answer is the engine's."""
    if rule is None or not rule.is_eql or not rule.query:
        return []
    found = []
    for number, event in enumerate(events):
        source = _source(event)
        label = f"Event {number + 1}"
        if source is None:
            continue
        index, doc_id = source
        scope = SearchScope((index,), rule.timestamp_field or "@timestamp",
                            rule.tiebreaker_field, rule.category_field,
                            filter_sql=f"_id = {sql_literal(doc_id)}")
        try:
            explained = explain_query(service.detector.backend, rule.query, scope, closest=0,
                                      patterns=rule.index or DEFAULT_INDEX)
        except LannerError as error:
            found.append(Matched(label, "", (), str(error)))
            continue
        if not explained.stages or explained.events_in_scope == 0:
            found.append(Matched(label, "", (), "the event is no longer in the store"))
            continue
        position = field_values(event, "kibana.alert.group.index")
        stages = [s for s in explained.stages if not position or s.position == position[0]]
        met = [s for s in stages if all(c.alone for c in s.clauses)]
        stage = (met or stages or list(explained.stages))[0]
        found.append(Matched(label, stage.text, tuple(
            Clause(clause.text, clause.alone > 0) for clause in stage.clauses)))
    return found


def _source(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """The stored event an alert (or building block) was made from: its last ancestor."""
    ancestors = field_objects(event, "kibana.alert.ancestors")
    for ancestor in reversed(ancestors):
        if isinstance(ancestor, Mapping) and ancestor.get("id") and ancestor.get("index"):
            return str(ancestor["index"]), str(ancestor["id"])
    return None


def ancestry(service: Any, event: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The event's process, then its parent, grandparent…, as far as the store has them
    (`process.entity_id` of one is `process.parent.entity_id` of the next), at most
    ANCESTRY_LEVELS parents. A parent the store lacks but the child's event names
    (`process.parent.*`) ends the chain, marked as not stored."""
    process = _process(event, "process")
    if not process["name"] and not process["entity_id"]:
        return []
    chain = [{**process, "stored": True}]
    seen = {process["entity_id"]}
    current = event
    for _ in range(ANCESTRY_LEVELS):
        parent_id = _one(current, "process.parent.entity_id")
        if not parent_id or parent_id in seen:
            break
        seen.add(parent_id)
        parent = _process_event(service, parent_id)
        if parent is None:
            named = _process(current, "process.parent")
            if named["name"] or named["pid"]:
                chain.append({**named, "entity_id": parent_id, "stored": False})
            break
        chain.append({**_process(parent, "process"), "stored": True})
        current = parent
    return chain


def _process_event(service: Any, entity_id: str) -> Mapping[str, Any] | None:
    """An event of the process with this entity id, its start preferred."""
    query = f"any where process.entity_id == {quote_string(entity_id)}"
    try:
        found = service.client.eql.search("*", body={"query": query, "size": 20})
    except LannerError as error:
        log.warning("ancestry search failed: %s", error)
        return None
    events = [hit.get("_source") or {} for hit in found.get("hits", {}).get("events", [])]
    starts = [e for e in events if "start" in field_values(e, "event.type")]
    return (starts or events or [None])[0]


def _process(event: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {"entity_id": _one(event, f"{prefix}.entity_id"),
            **{name: _one(event, f"{prefix}.{name}") for name in _PROCESS_FIELDS}}


def _one(document: Mapping[str, Any], path: str) -> str:
    values = field_values(document, path)
    return str(values[0]) if values else ""


def related_alerts(service: Any, alert: Mapping[str, Any],
                   moment: datetime.datetime | None) -> dict[str, Any] | None:
    """Other alerts (any status) on the alert's hosts within RELATED_WINDOW of its time."""
    hosts = list(dict.fromkeys(str(h) for h in field_values(alert, "host.name")))
    if not hosts or moment is None:
        return None
    since, until = moment - RELATED_WINDOW, moment + RELATED_WINDOW
    own = field_values(alert, "kibana.alert.uuid")
    found = [other for other in service.alerts.find(host=hosts, since=since, until=until,
                                                    limit=RELATED_SHOWN + 1)
             if field_values(other, "kibana.alert.uuid") != own]
    return {"hosts": hosts, "since": since, "until": until,
            "alerts": found[:RELATED_SHOWN], "more": len(found) > RELATED_SHOWN}
