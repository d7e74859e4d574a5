"""The rule as Lanner sees it: every field that changes detection or the alert, typed.

Field names follow the detection-rules TOML and Kibana's API (snake_case); `from` is
`from_` here. Defaults are Kibana's, so a rule that leaves a key out behaves as in Kibana.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("low", "medium", "high", "critical")
# Kibana's rule types (`type`), and the one Lanner cannot run: an ML rule reads anomaly records
# that Elastic's ML jobs write (OTHER-RULE-TYPES.md §7), never events.
RULE_TYPES = ("eql", "query", "saved_query", "threshold", "new_terms", "esql", "threat_match",
              "machine_learning")
NEEDS_ML = "needs Elastic ML: not run"


@dataclass(frozen=True, slots=True)
class QueryOrigin:
    """Where the query text starts in the rule file, to turn query positions into file ones.

    `line` and `col` are those of the query's first character; `escaped` is true for a TOML
    basic string, where escapes make later columns approximate.
    """

    line: int = 1
    col: int = 1
    escaped: bool = False

    def to_file(self, line: int, col: int) -> tuple[int, int]:
        """File position of a 1-based position inside the query text."""
        if line == 1:
            return self.line, self.col + col - 1
        return self.line + line - 1, col


@dataclass(frozen=True, slots=True)
class AttackRef:
    """A tactic, technique or sub-technique of MITRE ATT&CK (or ATLAS)."""

    id: str
    name: str
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Technique(AttackRef):
    subtechniques: tuple[AttackRef, ...] = ()


@dataclass(frozen=True, slots=True)
class Threat:
    """One `[[rule.threat]]` entry: a tactic and the techniques the rule maps under it."""

    framework: str
    tactic: AttackRef
    techniques: tuple[Technique, ...] = ()


@dataclass(frozen=True, slots=True)
class SeverityMapping:
    """`severity_mapping` entry: an event whose `field` equals `value` gets `severity`."""

    field: str
    value: str
    severity: str
    operator: str = "equals"


@dataclass(frozen=True, slots=True)
class RiskScoreMapping:
    """`risk_score_mapping` entry: the alert's risk score comes from the event's `field`."""

    field: str
    value: str = ""
    operator: str = "equals"


@dataclass(frozen=True, slots=True)
class AlertSuppression:
    """`alert_suppression`: one alert per group of `group_by` values per run or `duration`."""

    group_by: tuple[str, ...]
    duration: str | None = None  # "5m"; None suppresses per rule execution
    missing_fields_strategy: str = "suppress"


@dataclass(frozen=True, slots=True)
class ExceptionListRef:
    """A reference from a rule to an exception list (the items live in the list)."""

    list_id: str
    id: str | None = None
    namespace_type: str = "single"
    type: str = "detection"


@dataclass(frozen=True, slots=True)
class ThresholdCardinality:
    """`threshold.cardinality` entry: at least `value` distinct values of `field` per group."""

    field: str
    value: int


@dataclass(frozen=True, slots=True)
class Threshold:
    """`threshold`: groups by `field` (none: one group) with at least `value` events."""

    field: tuple[str, ...]
    value: int
    cardinality: tuple[ThresholdCardinality, ...] = ()


@dataclass(frozen=True, slots=True)
class ThreatMappingEntry:
    """One `threat_mapping` entry: the event's `field` equals the indicator's `value` field."""

    field: str
    value: str
    type: str = "mapping"
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    """One detection rule: the fields of its table that Lanner reads."""

    name: str
    rule_id: str
    type: str
    language: str | None
    query: str
    index: tuple[str, ...] = ()
    description: str = ""
    severity: str = "low"
    risk_score: int = 0
    severity_mapping: tuple[SeverityMapping, ...] = ()
    risk_score_mapping: tuple[RiskScoreMapping, ...] = ()
    interval: str = "5m"
    from_: str = "now-6m"
    to: str = "now"
    max_signals: int = 100
    timestamp_override: str | None = None
    timestamp_override_fallback_disabled: bool = False
    timestamp_field: str | None = None
    event_category_override: str | None = None
    tiebreaker_field: str | None = None
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    false_positives: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    license: str | None = None
    version: int = 1
    note: str | None = None
    setup: str | None = None
    threat: tuple[Threat, ...] = ()
    building_block_type: str | None = None
    exceptions_list: tuple[ExceptionListRef, ...] = ()
    alert_suppression: AlertSuppression | None = None
    rule_name_override: str | None = None
    investigation_fields: tuple[str, ...] = ()
    transform: dict[str, Any] | None = field(default=None, compare=False)
    enabled: bool = True
    path: str | None = None
    origin: QueryOrigin = QueryOrigin()
    maturity: str | None = None
    # Kibana filters (`filters`): Query DSL clauses beside the query, as the rule's UI saved them
    filters: tuple[dict[str, Any], ...] = field(default=(), compare=False)
    threshold: Threshold | None = None
    new_terms_fields: tuple[str, ...] = ()
    history_window_start: str | None = None
    threat_index: tuple[str, ...] = ()
    threat_query: str | None = None
    threat_language: str | None = None
    threat_filters: tuple[dict[str, Any], ...] = field(default=(), compare=False)
    # groups ORed, the entries of a group ANDed (OTHER-RULE-TYPES.md §6)
    threat_mapping: tuple[tuple[ThreatMappingEntry, ...], ...] = ()
    threat_indicator_path: str | None = None
    machine_learning_job_id: tuple[str, ...] = ()
    anomaly_threshold: int | None = None

    @property
    def is_eql(self) -> bool:
        return self.type == "eql" and (self.language or "eql") == "eql"

    @property
    def is_kql(self) -> bool:
        """A rule whose query is KQL (Kibana's default language for the non-EQL types)."""
        return (self.type in ("query", "saved_query", "threshold", "new_terms", "threat_match")
                and (self.language or "kuery") == "kuery")

    @property
    def needs_ml(self) -> bool:
        """An ML rule: it reads Elastic ML's anomaly records, so Lanner cannot run it."""
        return self.type == "machine_learning"

    @property
    def is_building_block(self) -> bool:
        return self.building_block_type is not None

    @property
    def category_field(self) -> str:
        return self.event_category_override or "event.category"

    @property
    def tactic_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.tactic.id for t in self.threat))

    @property
    def technique_ids(self) -> tuple[str, ...]:
        """Technique and sub-technique ids, in rule order, without repeats."""
        ids = (ref.id for t in self.threat for technique in t.techniques
               for ref in (technique, *technique.subtechniques))
        return tuple(dict.fromkeys(ids))

    def threat_dicts(self) -> list[dict[str, Any]]:
        """The ATT&CK mapping in Kibana's JSON shape, as alerts carry it."""
        return [_threat_dict(t) for t in self.threat]

    def risk_score_mapping_dicts(self) -> list[dict[str, Any]]:
        """`risk_score_mapping` in Kibana's JSON shape (alerts and the rules API)."""
        return [{"field": m.field, "operator": m.operator, "value": m.value}
                for m in self.risk_score_mapping]

    def severity_mapping_dicts(self) -> list[dict[str, Any]]:
        """`severity_mapping` in Kibana's JSON shape (alerts and the rules API)."""
        return [{"field": m.field, "operator": m.operator, "value": m.value,
                 "severity": m.severity} for m in self.severity_mapping]

    def override_fields(self) -> dict[str, Any]:
        """The rule's field overrides, as Kibana's rule parameters name them (None when
        not set)."""
        return {"timestamp_override": self.timestamp_override,
                "timestamp_field": self.timestamp_field,
                "event_category_override": self.event_category_override,
                "tiebreaker_field": self.tiebreaker_field,
                "building_block_type": self.building_block_type,
                "rule_name_override": self.rule_name_override}


def _ref_dict(ref: AttackRef) -> dict[str, Any]:
    return {"id": ref.id, "name": ref.name, "reference": ref.reference}


def _threat_dict(threat: Threat) -> dict[str, Any]:
    techniques = [{**_ref_dict(t), "subtechnique": [_ref_dict(s) for s in t.subtechniques]}
                  for t in threat.techniques]
    return {"framework": threat.framework, "tactic": _ref_dict(threat.tactic),
            "technique": techniques}
