"""Alert suppression, as Kibana applies it to EQL rules in memory.

Alerts whose `group_by` values are equal share an instance id; the first one of a group is
created and later ones only raise its `kibana.alert.suppression.docs_count` and move its
`end`. The group lives for the rule execution (from the window's start) or for `duration`,
across runs when an alert store keeps the earlier alert. A sequence is suppressed as a unit:
its shell decides, and its building blocks go with it.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from lanner.detection.alerts import SPACE_ID, lookup, rule_uuid
from lanner.detection.datemath import parse_duration
from lanner.rules import Rule
from lanner.store.alerts import AlertStore


@dataclass(frozen=True, slots=True)
class SuppressionResult:
    alerts: list[dict[str, Any]]  # to create
    suppressed: int  # alerts folded into another


def suppress(rule: Rule, alerts: Sequence[dict[str, Any]], store: AlertStore | None,
             now: datetime.datetime, window_start: datetime.datetime | None) -> SuppressionResult:
    settings = rule.alert_suppression
    if settings is None:
        return SuppressionResult(list(alerts), 0)
    since = now - parse_duration(settings.duration) if settings.duration else window_start
    created: list[dict[str, Any]] = []
    leaders: dict[str, dict[str, Any]] = {}
    stored: dict[str, dict[str, Any]] = {}  # leaders from earlier runs, by instance
    suppressed = 0
    for unit in _units(alerts):
        head = unit[0]
        terms = [(name, lookup(head, name)) for name in settings.group_by]
        missing = any(value is None for _, value in terms)
        is_sequence = len(unit) > 1
        if missing and (settings.missing_fields_strategy == "doNotSuppress" or is_sequence):
            created.extend(unit)
            continue
        instance = _instance_id(rule, terms)
        leader = leaders.get(instance)
        if leader is None and store is not None and since is not None:
            leader = store.suppression_leader(instance, since)
            if leader is not None:
                leaders[instance] = stored[instance] = leader
        if leader is None:
            _start_group(head, instance, terms)
            leaders[instance] = head
            created.extend(unit)
            continue
        suppressed += 1
        _extend_group(leader, head)
    if store is not None:  # each earlier alert that grew is written once
        for leader in stored.values():
            store.extend_suppression(leader["kibana.alert.uuid"],
                                     leader["kibana.alert.suppression.docs_count"],
                                     leader["kibana.alert.suppression.end"])
    return SuppressionResult(created, suppressed)


def _units(alerts: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Alerts grouped as created together: an event alert alone, a shell with its blocks."""
    units: list[list[dict[str, Any]]] = []
    by_group: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts:
        group = alert.get("kibana.alert.group.id")
        if group is None:
            units.append([alert])
        elif group in by_group:
            by_group[group].append(alert)
        else:
            by_group[group] = [alert]
            units.append(by_group[group])
    return units


def _instance_id(rule: Rule, terms: list[tuple[str, Any]]) -> str:
    text = orjson.dumps([{"field": f, "value": v} for f, v in terms]).decode()
    return hashlib.sha256(f"{text}{rule_uuid(rule)}{SPACE_ID}".encode()).hexdigest()


def _start_group(alert: dict[str, Any], instance: str, terms: list[tuple[str, Any]]) -> None:
    moment = _event_time(alert)
    alert.update({
        "kibana.alert.instance.id": instance,
        "kibana.alert.suppression.terms": [{"field": f, "value": v} for f, v in terms],
        "kibana.alert.suppression.start": moment,
        "kibana.alert.suppression.end": moment,
        "kibana.alert.suppression.docs_count": 0,
    })


def _extend_group(leader: dict[str, Any], alert: dict[str, Any]) -> None:
    leader["kibana.alert.suppression.docs_count"] += 1
    leader["kibana.alert.suppression.end"] = max(leader["kibana.alert.suppression.end"],
                                                 _event_time(alert))


def _event_time(alert: dict[str, Any]) -> str:
    original = alert.get("kibana.alert.original_time")
    return original if isinstance(original, str) else alert["@timestamp"]
