"""Alert documents shaped like Kibana's: the source event plus `kibana.alert.*` fields.

Ids are deterministic as in Kibana (`wrap_hits.ts`, `generate_building_block_ids.ts`), so the
same event, or the same sequence of events, seen by the same rule in any number of windows
gives the same alert id, and storing it twice stores it once.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

import orjson

from lanner.detection.guide import expand_transforms
from lanner.rules import Rule
from lanner.store.documents import path_splits

SPACE_ID = "default"
# Rule uuids are derived from rule_id, so every Lanner install gives a rule the same uuid.
_RULE_NAMESPACE = uuid.UUID("6f2c0a8e-5b1d-4c52-9d8e-7a0c1b7d4e21")
_SEVERITY_ORDER = {"low": 0, "medium": 1, "high": 2, "critical": 3}
_ECS_SEVERITY = "event.severity"
# Kibana's alerting rule type id and category (its rule type's name) for each rule type
# (security_solution rule_types/*/create_*_alert_type.ts).
RULE_TYPE_IDS = {
    "eql": ("siem.eqlRule", "Event Correlation Rule"),
    "query": ("siem.queryRule", "Custom Query Rule"),
    "saved_query": ("siem.savedQueryRule", "Saved Query Rule"),
    "threshold": ("siem.thresholdRule", "Threshold Rule"),
    "new_terms": ("siem.newTermsRule", "New Terms Rule"),
    "esql": ("siem.esqlRule", "ES|QL Rule"),
    "threat_match": ("siem.indicatorRule", "Indicator Match Rule"),
    "machine_learning": ("siem.mlRule", "Machine Learning Rule"),
}


def rule_uuid(rule: Rule) -> str:
    """The rule's saved-object id in Kibana terms; stable for a rule_id."""
    return _uuid_of(rule.rule_id)


@functools.lru_cache(maxsize=4096)
def _uuid_of(rule_id: str) -> str:
    """uuid5 per rule_id, once: every alert's id and guard ask for it."""
    return str(uuid.uuid5(_RULE_NAMESPACE, rule_id))


@dataclass(frozen=True, slots=True)
class SourceEvent:
    """An event as a search returned it."""

    index: str
    id: str
    source: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AlertContext:
    """What every alert of one rule execution shares."""

    rule: Rule
    started_at: datetime.datetime
    execution_type: str = "scheduled"  # or "manual" (replays, hunts)
    execution_uuid: str = ""

    @property
    def rule_uuid(self) -> str:
        return rule_uuid(self.rule)


@functools.lru_cache(maxsize=256)
def iso(moment: datetime.datetime) -> str:
    """Kibana's timestamp text: UTC, milliseconds, `Z`. Cached: a rule execution stamps every
    alert with the same moment."""
    moment = moment.astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def lookup(source: Mapping[str, Any], path: str) -> Any:
    """A field of a document, written nested, dotted, or mixed (lodash `get` semantics)."""
    if path in source:
        return source[path]
    for head, rest in path_splits(path):
        value = source.get(head)
        # `type(...) is dict` first: parsed JSON is plain dicts, and the ABC check is slow.
        if value is not None and (type(value) is dict or isinstance(value, Mapping)):
            # the rest spelt out below is what the call would find first: no call for it
            found = value[rest] if rest in value else lookup(value, rest)
            if found is not None:
                return found
    return None


def alert_id(event: SourceEvent, rule: Rule, version: int = 1) -> str:
    """Kibana's `generateId(_index, _id, String(_version), "<space>:<rule id>")`."""
    text = f"{event.index}{event.id}{version}{SPACE_ID}:{rule_uuid(rule)}"
    return hashlib.sha256(text.encode()).hexdigest()


def is_own_alert(event: SourceEvent, rule: Rule) -> bool:
    """Kibana's guard: a rule never alerts on an alert it raised itself."""
    ancestors = lookup(event.source, "kibana.alert.ancestors") or []
    own = rule_uuid(rule)
    return any(isinstance(a, Mapping) and a.get("rule") == own for a in ancestors)


def event_alert(event: SourceEvent, context: AlertContext) -> dict[str, Any]:
    """The alert for one event matched by an event query."""
    return _alert(event.source, [event], alert_id(event, context.rule), context,
                  overrides=True)


def sequence_alerts(events: Sequence[SourceEvent], context: AlertContext) -> list[dict[str, Any]]:
    """A sequence's alerts: the shell first, then one building block per event.

    The shell holds only what all the events share (Kibana's objectArrayIntersection) and
    links to them through `kibana.alert.group.id`; building blocks carry their position in
    `kibana.alert.group.index`. Neither takes severity, risk or name overrides (Kibana
    builds them without overrides).
    """
    base = "".join(f"{event.id}{event.index}" for event in events) + context.rule_uuid
    shell_id = hashlib.sha256(base.encode()).hexdigest()
    blocks = []
    for position, event in enumerate(events):
        block_id = hashlib.sha256(f"{base}{position}".encode()).hexdigest()
        block = _alert(event.source, [event], block_id, context, overrides=False)
        block["kibana.alert.building_block_type"] = "default"
        block["kibana.alert.group.id"] = shell_id
        block["kibana.alert.group.index"] = position
        blocks.append(block)
    shared = _intersection([event.source for event in events])
    shell = _alert(shared, events, shell_id, context, overrides=False)
    shell["kibana.alert.group.id"] = shell_id
    shell["kibana.alert.original_time"] = _original_time(events[0].source)
    return [shell, *blocks]


# The fields a reason names, in its order; the first and the last two do not make it say
# "with".
_REASON_FIELDS = ("event.category", "process.name", "process.parent.name", "file.name",
                  "source.ip", "source.port", "destination.ip", "destination.port",
                  "user.name", "host.name")


def reason(source: Mapping[str, Any], severity: str, rule_name: str) -> str:
    """`kibana.alert.reason`, worded as Kibana's buildReasonMessageUtil words it."""
    shown: list[str | None] = []
    for path in _REASON_FIELDS:  # a loop, not a helper per field: it runs for every alert
        found = lookup(source, path)
        # Kibana tests `.length`: numbers and booleans have none, so they never show.
        if not isinstance(found, str | list) or not found or found == ["-"]:
            shown.append(None)
        else:
            shown.append(", ".join(map(str, found)) if isinstance(found, list) else found)
    (category, process, parent, file, source_ip, source_port, dest_ip, dest_port,
     user, host) = shown
    interesting = any(shown[1:8])
    parts = [f"{category} event" if category else "event", " with" if interesting else ""]
    parts.append(f" process {process}," if process else "")
    parts.append(f" parent process {parent}," if parent else "")
    parts.append(f" file {file}," if file else "")
    parts.append(f" source {source_ip}" if source_ip else "")
    parts.append(f":{source_port}," if source_port else "")
    parts.append(f" destination {dest_ip}" if dest_ip else "")
    parts.append(f":{dest_port}," if dest_port else "")
    parts.append(f" by {user}" if user else "")
    parts.append(f" on {host}" if host else "")
    parts.append(f" created {severity} alert {rule_name}.")
    return "".join(parts)


def severity_for(rule: Rule, source: Mapping[str, Any]) -> tuple[str, str | None]:
    """The rule's severity, or the highest `severity_mapping` entry the event matches (Kibana
    compares as strings, except `event.severity` as integers). Returns the field that won."""
    severity, field = rule.severity, None
    for mapping in sorted(rule.severity_mapping, key=lambda m: _SEVERITY_ORDER[m.severity]):
        found = lookup(source, mapping.field)
        values = found if isinstance(found, list) else [found]
        if mapping.field == _ECS_SEVERITY:
            wanted: object = _floor_number(mapping.value)
            candidates = {v for v in values if isinstance(v, int) and not isinstance(v, bool)}
        else:
            wanted = mapping.value
            candidates = {str(v) for v in values
                          if isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))}
        if wanted in candidates:
            severity, field = mapping.severity, mapping.field
    return severity, field


def risk_score_for(rule: Rule, source: Mapping[str, Any]) -> tuple[int | float, bool]:
    """The rule's risk score, or the event's value of the first `risk_score_mapping` field
    when that is a number from 0 to 100."""
    if rule.risk_score_mapping:
        found = lookup(source, rule.risk_score_mapping[0].field)
        if isinstance(found, int | float | str) and not isinstance(found, bool):
            try:
                number = float(found)
            except ValueError:
                number = -1.0
            if 0 <= number <= 100:
                return (int(number) if number.is_integer() else number), True
    return rule.risk_score, False


def _alert(source: Mapping[str, Any], events: Sequence[SourceEvent], alert_uuid: str,
           context: AlertContext, *, overrides: bool) -> dict[str, Any]:
    rule = context.rule
    document = _without_event_kind(source)
    severity, severity_field = severity_for(rule, source) if overrides else (rule.severity, None)
    risk_score, risk_overridden = (risk_score_for(rule, source) if overrides
                                   else (rule.risk_score, False))
    name = rule.name
    if overrides and rule.rule_name_override:
        override = lookup(source, rule.rule_name_override)
        if isinstance(override, str) and override:
            name = override
    document.update(_original_event(source))
    document.update({
        "@timestamp": iso(context.started_at),
        "event.kind": "signal",
        "kibana.space_ids": [SPACE_ID],
        "kibana.alert.uuid": alert_uuid,
        "kibana.alert.status": "active",
        "kibana.alert.workflow_status": "open",
        "kibana.alert.workflow_tags": [],
        "kibana.alert.workflow_assignee_ids": [],
        "kibana.alert.depth": 1,
        "kibana.alert.ancestors": [{"id": e.id, "type": "event", "index": e.index, "depth": 0}
                                   for e in events],
        "kibana.alert.original_time": _original_time(source),
        "kibana.alert.reason": reason(source, severity, name),
        "kibana.alert.severity": severity,
        "kibana.alert.risk_score": risk_score,
        "kibana.alert.intended_timestamp": iso(context.started_at),
        "kibana.alert.rule.execution.type": context.execution_type,
        "kibana.alert.rule.execution.uuid": context.execution_uuid,
    })
    document.update(_rule_fields(rule))
    if name != rule.name:
        document["kibana.alert.rule.name"] = name
    meta = {}
    if severity_field:
        meta["severityOverrideField"] = severity_field
    if risk_overridden:
        meta["riskScoreOverridden"] = True
    if meta:
        document["kibana.alert.rule.meta"] = meta
    if rule.building_block_type:
        document["kibana.alert.building_block_type"] = rule.building_block_type
    return document


def _rule_fields(rule: Rule) -> dict[str, Any]:
    """`kibana.alert.rule.*`: the same for every alert of a rule, so built once per rule (the
    alerts share it; nothing edits it in place). Cached by identity: hashing a Rule hashes
    every field of it, once per alert."""
    found = _RULE_FIELDS.get(id(rule))
    if found is not None and found[0] is rule:
        return found[1]
    if len(_RULE_FIELDS) >= _RULE_FIELDS_KEPT:
        _RULE_FIELDS.clear()
    fields = _build_rule_fields(rule)
    _RULE_FIELDS[id(rule)] = (rule, fields)
    if len(_TEMPLATES) >= _RULE_FIELDS_KEPT:
        _TEMPLATES.clear()
    _TEMPLATES[id(fields[_PARAMETERS])] = _Template(fields)
    return fields


_RULE_FIELDS: dict[int, tuple[Rule, dict[str, Any]]] = {}
_RULE_FIELDS_KEPT = 4096
_PARAMETERS = "kibana.alert.rule.parameters"
_ABSENT = object()


@dataclass(slots=True)
class _Template:
    """A rule's `kibana.alert.rule.*` fields and, once asked, their JSON members."""

    fields: dict[str, Any]
    members: bytes = b""


# The template of each rule's fields, by the identity of its parameters object, which every
# alert of the rule shares (and the template keeps alive, so the id is not reused).
_TEMPLATES: dict[int, _Template] = {}


def write_alerts(stream: IO[bytes], alerts: Iterable[Mapping[str, Any]]) -> int:
    """Alerts as NDJSON, each as `orjson.dumps(alert, option=OPT_NON_STR_KEYS)` writes it
    but for the order of its keys: the rule's fields, most of each alert's bytes (the rule's
    note, query and description), are serialised once per rule and written as they are while
    an alert holds them as built; only the rest is serialised per alert. Returns the count."""
    write, count = stream.write, 0
    for alert in alerts:
        count += 1
        template = _TEMPLATES.get(id(alert.get(_PARAMETERS)))
        own: dict[str, Any] = {}
        if template is not None:
            # every member but the rule's fields as built: the alert holds all of those,
            # unchanged, when the rest is that much shorter
            own = {key: value for key, value in alert.items()
                   if template.fields.get(key, _ABSENT) is not value}
        if template is None or len(alert) - len(own) != len(template.fields):
            write(orjson.dumps(alert, option=orjson.OPT_NON_STR_KEYS))
            write(b"\n")
            continue
        if not template.members:
            template.members = orjson.dumps(template.fields,
                                            option=orjson.OPT_NON_STR_KEYS)[1:-1]
        text = orjson.dumps(own, option=orjson.OPT_NON_STR_KEYS)
        write(text[:-1])  # `{` and the alert's own members
        write(b"," if len(text) > 2 else b"")
        write(template.members)
        write(b"}\n")
    return count


def _build_rule_fields(rule: Rule) -> dict[str, Any]:
    prefix = "kibana.alert.rule."
    # The note as detection-rules builds it for Kibana: `$investigate_N` / `$osquery_N` are
    # the plugin blocks of the rule's transform, so a guide read from an alert needs no rule.
    note = expand_transforms(rule.note, rule.transform) if rule.note else rule.note
    parameters: dict[str, Any] = {
        "description": rule.description, "risk_score": rule.risk_score,
        "severity": rule.severity, "license": rule.license, "author": list(rule.author),
        "false_positives": list(rule.false_positives), "from": rule.from_, "to": rule.to,
        "rule_id": rule.rule_id, "max_signals": rule.max_signals,
        "risk_score_mapping": rule.risk_score_mapping_dicts(),
        "severity_mapping": rule.severity_mapping_dicts(),
        "threat": rule.threat_dicts(), "references": list(rule.references),
        "version": rule.version, "type": rule.type, "language": rule_language(rule),
        "query": rule.query, "index": list(rule.index),
        "exceptions_list": [{"id": e.id, "list_id": e.list_id,
                             "namespace_type": e.namespace_type, "type": e.type}
                            for e in rule.exceptions_list],
        "immutable": False, "note": note, "setup": rule.setup, **rule.override_fields(),
        **type_parameters(rule),
    }
    type_id, category = RULE_TYPE_IDS.get(rule.type, (f"siem.{rule.type}", rule.type))
    fields = {
        "uuid": rule_uuid(rule), "rule_id": rule.rule_id, "name": rule.name,
        "description": rule.description, "author": list(rule.author), "license": rule.license,
        "tags": list(rule.tags), "threat": rule.threat_dicts(),
        "references": list(rule.references), "false_positives": list(rule.false_positives),
        "from": rule.from_, "to": rule.to, "interval": rule.interval,
        "max_signals": rule.max_signals, "risk_score": rule.risk_score,
        "severity": rule.severity,
        "risk_score_mapping": parameters["risk_score_mapping"],
        "severity_mapping": parameters["severity_mapping"],
        "timestamp_override": rule.timestamp_override, "note": note,
        "exceptions_list": parameters["exceptions_list"], "immutable": False,
        "version": rule.version, "type": rule.type, "enabled": rule.enabled,
        "consumer": "siem", "producer": "siem", "rule_type_id": type_id,
        "category": category, "indices": list(rule.index),
        "building_block_type": rule.building_block_type,
        "rule_name_override": rule.rule_name_override, "revision": 0,
        "parameters": parameters,
    }
    if rule.investigation_fields:
        fields["investigation_fields"] = {"field_names": list(rule.investigation_fields)}
    return {prefix + key: value for key, value in fields.items()}


def rule_language(rule: Rule) -> str | None:
    """The rule's query language as Kibana's API shows it (defaults: eql for EQL rules, kuery
    for the KQL types, none for ML)."""
    if rule.language:
        return rule.language
    if rule.type in ("eql", "esql"):
        return rule.type
    return "kuery" if rule.is_kql else None


def type_parameters(rule: Rule) -> dict[str, Any]:
    """The parameters only some rule types have, in Kibana's JSON shape (alert parameters and
    the rules API)."""
    found: dict[str, Any] = {}
    if rule.filters:
        found["filters"] = [dict(f) for f in rule.filters]
    if rule.threshold is not None:
        found["threshold"] = {
            "field": list(rule.threshold.field), "value": rule.threshold.value,
            "cardinality": [{"field": c.field, "value": c.value}
                            for c in rule.threshold.cardinality]}
    if rule.type == "new_terms":
        found["new_terms_fields"] = list(rule.new_terms_fields)
        found["history_window_start"] = rule.history_window_start
    if rule.type == "threat_match":
        found.update({
            "threat_index": list(rule.threat_index), "threat_query": rule.threat_query,
            "threat_language": rule.threat_language or "kuery",
            "threat_filters": [dict(f) for f in rule.threat_filters],
            "threat_indicator_path": rule.threat_indicator_path or "threat.indicator",
            "threat_mapping": [{"entries": [{"field": e.field, "type": e.type, "value": e.value}
                                            for e in group]}
                               for group in rule.threat_mapping]})
    if rule.needs_ml:
        found["machine_learning_job_id"] = list(rule.machine_learning_job_id)
        found["anomaly_threshold"] = rule.anomaly_threshold
    return found


def _without_event_kind(source: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the source without its own `event.kind` (the alert's is `signal`)."""
    document = dict(source)
    document.pop("event.kind", None)
    event = document.get("event")
    if isinstance(event, Mapping) and "kind" in event:
        document["event"] = {k: v for k, v in event.items() if k != "kind"}
    return document


def _original_event(source: Mapping[str, Any]) -> dict[str, Any]:
    """`kibana.alert.original_event.*`: the source's `event.*` fields, flattened."""
    found: dict[str, Any] = {}

    def walk(value: Any, path: str) -> None:
        for key, inner in value.items():
            if type(inner) is dict or (type(inner) not in _LEAF_TYPES
                                       and isinstance(inner, Mapping)):
                walk(inner, f"{path}.{key}")
            else:
                found[f"{path}.{key}"] = inner

    for key, value in source.items():
        if key == "event" or key.startswith("event."):
            path = f"kibana.alert.original_{key}"
            if type(value) is dict or isinstance(value, Mapping):
                walk(value, path)
            else:
                found[path] = value
    return found


# Types of parsed JSON that hold no object: `_original_event` need not ask whether they are
# Mappings (an ABC check per value).
_LEAF_TYPES = frozenset({str, int, float, bool, list, type(None)})


def _original_time(source: Mapping[str, Any]) -> Any:
    return lookup(source, "@timestamp")


def _intersection(documents: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What all documents share: equal values kept, objects intersected key by key, arrays
    reduced to the elements all of them hold; an object or array left empty is dropped."""
    first, *others = documents
    shared: dict[str, Any] = {}
    for key, value in first.items():
        if any(key not in other for other in others):
            continue
        values = [value, *(other[key] for other in others)]
        if all(v == value for v in values[1:]):
            # the same in all (`host`, `agent`, ... of a sequence's events): compared in C, then
            # only walked for empty objects and arrays (a sequence shell: 170 -> 90 us)
            kept = _without_empty(value)
            if kept is not _ABSENT:
                shared[key] = kept
        elif all(type(v) is dict or isinstance(v, Mapping) for v in values):
            inner = _intersection(values)
            if inner:
                shared[key] = inner
        elif all(isinstance(v, list) for v in values):
            common = [item for item in value if all(item in v for v in values[1:])]
            if common:
                shared[key] = common
    return shared


def _without_empty(value: Any) -> Any:
    """`_intersection` of a value with itself: objects and arrays left empty are dropped
    (_ABSENT when the value itself is one)."""
    if type(value) is dict or (type(value) not in _LEAF_TYPES and isinstance(value, Mapping)):
        kept = {}
        for key, inner in value.items():
            inner = _without_empty(inner)
            if inner is not _ABSENT:
                kept[key] = inner
        return kept or _ABSENT
    if isinstance(value, list) and not value:
        return _ABSENT
    return value


def _floor_number(text: str) -> int | None:
    try:
        return int(float(text) // 1)
    except ValueError:
        return None
