"""What a hunt produced, shaped once for every report: the terminal account, the files.

Every report counts alerts the way Kibana's alert table shows them: a sequence counts once (its
shell); the building blocks of a sequence are in the NDJSON but not in counts or timelines.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from lanner.detection.run import RunReport
from lanner.rules import Rule
from lanner.store import BadLine
from lanner.store.documents import field_values

Alert = Mapping[str, Any]

SEVERITY_RANK = {"critical": 3, "high": 2, "medium": 1, "low": 0}
# MITRE ATT&CK Enterprise tactics in kill-chain order, as the Navigator and Kibana lay them out.
ATTACK_TACTICS = (
    ("TA0043", "Reconnaissance"), ("TA0042", "Resource Development"),
    ("TA0001", "Initial Access"), ("TA0002", "Execution"), ("TA0003", "Persistence"),
    ("TA0004", "Privilege Escalation"), ("TA0005", "Defense Evasion"),
    ("TA0006", "Credential Access"), ("TA0007", "Discovery"), ("TA0008", "Lateral Movement"),
    ("TA0009", "Collection"), ("TA0011", "Command and Control"), ("TA0010", "Exfiltration"),
    ("TA0040", "Impact"),
)  # fmt: skip
_TACTIC_POSITION = {tactic_id: position for position, (tactic_id, _) in enumerate(ATTACK_TACTICS)}


@dataclass(slots=True)
class HuntResult:
    """Everything one hunt (or replay) did, for the account and the report files."""

    alerts: list[dict[str, Any]]  # every alert created, building blocks included
    reports: list[RunReport]
    rules: list[Rule]  # the rules that ran
    skipped: list[tuple[Rule, str]] = field(default_factory=list)
    not_loaded: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    events: int = 0
    bad_lines: list[BadLine] = field(default_factory=list)
    without_index: int = 0
    started_at: datetime.datetime = field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC))
    reading_seconds: float = 0.0
    running_seconds: float = 0.0

    @property
    def shown_alerts(self) -> list[dict[str, Any]]:
        """The alerts Kibana lists: all but the building blocks of sequences."""
        return [alert for alert in self.alerts if is_shown(alert)]

    def rule(self, rule_id: str) -> Rule | None:
        """The rule that ran under this rule_id (for its note and transform)."""
        for rule in self.rules:
            if rule.rule_id == rule_id:
                return rule
        return None


@dataclass(slots=True)
class RuleGroup:
    """The alerts of one rule, with what an analyst reads off them first."""

    rule_id: str
    name: str
    severity: str
    risk_score: float
    alerts: list[Alert]
    hosts: list[str]
    users: list[str]
    techniques: list[str]
    tactics: list[str]
    first_seen: str
    last_seen: str


@dataclass(slots=True)
class TechniqueCount:
    """Alerts under one technique (or sub-technique) of one tactic."""

    tactic_id: str
    tactic_name: str
    technique_id: str
    technique_name: str
    alerts: int
    rules: list[str]


def is_shown(alert: Alert) -> bool:
    return not (alert.get("kibana.alert.building_block_type")
                and alert.get("kibana.alert.group.id"))


def event_time(alert: Alert) -> str:
    """The source event's time as text (a sequence: its first event's)."""
    return str(alert.get("kibana.alert.original_time") or "")


def short_time(text: str) -> str:
    """`2026-11-20T10:00:02.114Z` as `2026-11-20 10:00:02`: seconds are enough to read."""
    return text.replace("T", " ").removesuffix("Z").split(".")[0]


def values(alert: Alert, path: str) -> list[str]:
    """A field's values as text, each once, in document order."""
    return list(dict.fromkeys(str(value) for value in field_values(alert, path)))


def distinct(alerts: Iterable[Alert], path: str) -> list[str]:
    """A field's values as text across alerts, each once, sorted."""
    return sorted({str(value) for alert in alerts for value in field_values(alert, path)})


def severity_of(alerts: Iterable[Alert]) -> str:
    return max((str(a["kibana.alert.severity"]) for a in alerts), key=SEVERITY_RANK.__getitem__)


def threat_of(alert: Alert) -> list[dict[str, Any]]:
    threat = alert.get("kibana.alert.rule.threat")
    return [entry for entry in threat if isinstance(entry, dict)] if isinstance(
        threat, list) else []


def technique_ids(alert: Alert) -> list[str]:
    """Technique and sub-technique ids of the alert's rule, in rule order, each once."""
    ids = [ref["id"] for _, ref in _techniques(alert)]
    return list(dict.fromkeys(ids))


def most_specific(technique_ids: Sequence[str]) -> list[str]:
    """The ids without a technique whose sub-technique is listed too (T1059.001, not T1059)."""
    parents = {technique.split(".")[0] for technique in technique_ids if "." in technique}
    return [technique for technique in technique_ids if technique not in parents]


def shown_count(alerts: Iterable[Alert]) -> int:
    return sum(map(is_shown, alerts))


def alert_count(alerts: Sequence[Alert], adjective: str = "") -> str:
    """The one way a count of alert documents is said: the alerts, then the building blocks
    of sequences that come with them (`8 alert(s) (+4 sequence building-block document(s))`)."""
    shown = shown_count(alerts)
    blocks = len(alerts) - shown
    words = f"{shown} {adjective} alert(s)" if adjective else f"{shown} alert(s)"
    return words + (f" (+{blocks} sequence building-block document(s))" if blocks else "")


class Written(NamedTuple):
    """What a report file holds: how many items, and what they are, in words."""

    items: int
    what: str


def tactic_names(alert: Alert) -> list[str]:
    return list(dict.fromkeys(str(entry.get("tactic", {}).get("name", ""))
                              for entry in threat_of(alert)))


def group_by_rule(alerts: Iterable[Alert]) -> list[RuleGroup]:
    """Shown alerts grouped by rule, most severe first, then riskiest, then by name."""
    grouped: dict[str, list[Alert]] = {}
    for alert in alerts:
        if is_shown(alert):
            grouped.setdefault(str(alert["kibana.alert.rule.uuid"]), []).append(alert)
    groups = []
    for members in grouped.values():
        first = members[0]
        times = sorted(filter(None, map(event_time, members)))
        groups.append(RuleGroup(
            rule_id=str(first["kibana.alert.rule.rule_id"]),
            name=str(first["kibana.alert.rule.name"]),
            severity=severity_of(members),
            risk_score=max(a["kibana.alert.risk_score"] for a in members),
            alerts=sorted(members, key=event_time),
            hosts=distinct(members, "host.name"),
            users=distinct(members, "user.name"),
            techniques=technique_ids(first),
            tactics=tactic_names(first),
            first_seen=times[0] if times else "",
            last_seen=times[-1] if times else "",
        ))
    return sorted(groups, key=lambda g: (-SEVERITY_RANK[g.severity], -g.risk_score, g.name))


def technique_counts(alerts: Iterable[Alert]) -> list[TechniqueCount]:
    """Shown alerts counted per (tactic, technique), in kill-chain then technique order."""
    counts: dict[tuple[str, str], TechniqueCount] = {}
    for alert in alerts:
        if not is_shown(alert):
            continue
        rule_name = str(alert["kibana.alert.rule.name"])
        for tactic, technique in _techniques(alert):
            key = (tactic["id"], technique["id"])
            count = counts.get(key)
            if count is None:
                count = counts[key] = TechniqueCount(
                    tactic["id"], tactic["name"], technique["id"], technique["name"], 0, [])
            count.alerts += 1
            if rule_name not in count.rules:
                count.rules.append(rule_name)
    return sorted(counts.values(), key=lambda c: (tactic_position(c.tactic_id), c.tactic_name,
                                                  c.technique_id))


def tactic_counts(alerts: Sequence[Alert]) -> list[tuple[str, str, int]]:
    """(tactic id, name, shown alerts mapped to it), every ATT&CK tactic in kill-chain order,
    then any other tactic (ATLAS) that alerts carry."""
    counts: dict[str, int] = {}
    names = dict(ATTACK_TACTICS)
    for alert in alerts:
        if not is_shown(alert):
            continue
        for entry in threat_of(alert):
            tactic = entry.get("tactic") or {}
            if "id" in tactic:
                names.setdefault(tactic["id"], str(tactic.get("name", tactic["id"])))
                counts[tactic["id"]] = counts.get(tactic["id"], 0) + 1
    ordered = sorted(names, key=lambda tactic_id: (tactic_position(tactic_id), tactic_id))
    return [(tactic_id, names[tactic_id], counts.get(tactic_id, 0)) for tactic_id in ordered]


def tactic_position(tactic_id: str) -> int:
    return _TACTIC_POSITION.get(tactic_id, len(ATTACK_TACTICS))


def severity_counts(alerts: Iterable[Alert]) -> dict[str, int]:
    """Shown alerts per severity, most severe first, every severity present as a key."""
    counts = dict.fromkeys(sorted(SEVERITY_RANK, key=SEVERITY_RANK.__getitem__, reverse=True), 0)
    for alert in alerts:
        if is_shown(alert):
            counts[str(alert["kibana.alert.severity"])] += 1
    return counts


def _techniques(alert: Alert) -> Iterable[tuple[dict[str, Any], dict[str, Any]]]:
    """(tactic, technique or sub-technique) pairs of the alert's rule mapping."""
    for entry in threat_of(alert):
        tactic = entry.get("tactic")
        if not isinstance(tactic, dict) or "id" not in tactic:
            continue
        for technique in entry.get("technique") or ():
            yield tactic, technique
            for sub in technique.get("subtechnique") or ():
                yield tactic, sub
