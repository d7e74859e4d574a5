"""A Rule from the rule object both formats share: the TOML `[rule]` table and a line of
Kibana's rule export carry the same snake_case keys.

Every value is checked for its type and range as it is read, so a bad rule fails with the key
at fault and where it is, not later in the middle of a run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from lanner.errors import LannerError, Location
from lanner.rules.model import (
    SEVERITIES,
    AlertSuppression,
    AttackRef,
    ExceptionListRef,
    RiskScoreMapping,
    Rule,
    SeverityMapping,
    Technique,
    Threat,
    ThreatMappingEntry,
    Threshold,
    ThresholdCardinality,
)

REQUIRED_KEYS = ("name", "rule_id", "type")
# Every type but ML searches with a query; an ML rule names its anomaly jobs instead.
QUERYLESS_TYPES = ("machine_learning",)
_DURATION = re.compile(r"^[1-9][0-9]*[smhd]$")
_SUPPRESSION_UNITS = ("s", "m", "h")


class RuleLoadError(LannerError):
    """A rule that could not be loaded, with the place and the key at fault."""

    def __init__(self, message: str, location: Location, key: str | None = None) -> None:
        super().__init__(f"{location}: {message}")
        self.message = message
        self.location = location
        self.key = key


Locate = Callable[[str], Location]


def rule_from_mapping(data: Mapping[str, Any], locate: Locate, *,
                      transform: dict[str, Any] | None = None,
                      maturity: str | None = None) -> Rule:
    """Build a Rule; `locate(key)` says where a key sits, for errors."""
    read = _Reader(data, locate)
    for key in REQUIRED_KEYS:
        if key not in data:
            raise RuleLoadError(f"missing required key rule.{key}", locate(key), key)
    rule_type = read.text("type")
    if "query" not in data and rule_type not in QUERYLESS_TYPES:
        raise RuleLoadError("missing required key rule.query", locate("query"), "query")
    severity = read.choice("severity", SEVERITIES, "low")
    index = data.get("index", ())
    return Rule(
        name=read.text("name"),
        rule_id=read.text("rule_id"),
        type=rule_type,
        language=read.optional_text("language"),
        query=read.text("query") if "query" in data else "",
        index=(index,) if isinstance(index, str) else read.texts("index"),
        description=read.optional_text("description") or "",
        severity=severity,
        risk_score=read.integer("risk_score", 0, low=0, high=100),
        severity_mapping=tuple(_severity_mapping(read, item)
                               for item in read.objects("severity_mapping")),
        risk_score_mapping=tuple(_risk_mapping(read, item)
                                 for item in read.objects("risk_score_mapping")),
        interval=read.duration("interval", "5m"),
        from_=read.optional_text("from") or "now-6m",
        to=read.optional_text("to") or "now",
        max_signals=read.integer("max_signals", 100, low=1),
        timestamp_override=read.optional_text("timestamp_override"),
        timestamp_override_fallback_disabled=read.flag(
            "timestamp_override_fallback_disabled", False),
        timestamp_field=read.optional_text("timestamp_field"),
        event_category_override=read.optional_text("event_category_override"),
        tiebreaker_field=read.optional_text("tiebreaker_field"),
        tags=read.texts("tags"),
        references=read.texts("references"),
        false_positives=read.texts("false_positives"),
        author=read.texts("author"),
        license=read.optional_text("license"),
        version=read.integer("version", 1, low=1),
        note=read.optional_text("note", allow_empty=True),
        setup=read.optional_text("setup", allow_empty=True),
        threat=tuple(_threat(read, item) for item in read.objects("threat")),
        building_block_type=read.optional_text("building_block_type"),
        exceptions_list=tuple(_exception_ref(read, item)
                              for item in read.objects("exceptions_list")),
        alert_suppression=_suppression(read),
        rule_name_override=read.optional_text("rule_name_override"),
        investigation_fields=_investigation_fields(read),
        transform=transform,
        enabled=read.flag("enabled", True),
        maturity=maturity,
        filters=tuple(dict(f) for f in read.objects("filters")),
        threshold=_threshold(read),
        new_terms_fields=_new_terms_fields(read),
        history_window_start=_history_window_start(read),
        threat_index=read.texts("threat_index"),
        threat_query=read.optional_text("threat_query"),
        threat_language=read.optional_text("threat_language"),
        threat_filters=tuple(dict(f) for f in read.objects("threat_filters")),
        threat_mapping=_threat_mapping(read),
        threat_indicator_path=read.optional_text("threat_indicator_path"),
        machine_learning_job_id=_job_ids(read),
        anomaly_threshold=(read.integer("anomaly_threshold", 0, low=0, high=100)
                           if "anomaly_threshold" in data else None),
    )


class _Reader:
    """Typed access to the rule object; every failure names its key."""

    def __init__(self, data: Mapping[str, Any], locate: Locate) -> None:
        self.data = data
        self.locate = locate

    def fail(self, key: str, message: str) -> RuleLoadError:
        return RuleLoadError(f"rule.{key}: {message}", self.locate(key.split(".")[0]), key)

    def text(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"expected a non-empty string, found {value!r}")
        return value

    def optional_text(self, key: str, *, allow_empty: bool = False) -> str | None:
        """The key's text, None when absent (or empty, where Kibana accepts an empty one)."""
        value = self.data.get(key)
        if value is None or (allow_empty and value == ""):
            return None
        return self.text(key)

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"expected a list of strings, found {value!r}")
        return tuple(value)

    def integer(self, key: str, default: int, *, low: int | None = None,
                high: int | None = None) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer, found {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise self.fail(key, f"must be {bounds}, found {value}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, found {value!r}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.data.get(key, default)
        if value not in choices:
            raise self.fail(key, f"expected one of {', '.join(choices)}, found {value!r}")
        return value

    def duration(self, key: str, default: str) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or not _DURATION.match(value):
            raise self.fail(key, f"expected a duration like 5m, 1h, 30s, 1d, found {value!r}")
        return value

    def objects(self, key: str) -> list[Mapping[str, Any]]:
        value = self.data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.fail(key, f"expected a list of tables, found {value!r}")
        return value

    def member(self, key: str, item: Mapping[str, Any], name: str, *,
               required: bool = True) -> Any:
        if name not in item and required:
            raise self.fail(key, f"an entry lacks {name!r}: {dict(item)!r}")
        return item.get(name)


def _severity_mapping(read: _Reader, item: Mapping[str, Any]) -> SeverityMapping:
    severity = read.member("severity_mapping", item, "severity")
    if severity not in SEVERITIES:
        raise read.fail("severity_mapping", f"unknown severity {severity!r}")
    return SeverityMapping(field=str(read.member("severity_mapping", item, "field")),
                           value=str(read.member("severity_mapping", item, "value")),
                           severity=severity,
                           operator=str(item.get("operator", "equals")))


def _risk_mapping(read: _Reader, item: Mapping[str, Any]) -> RiskScoreMapping:
    return RiskScoreMapping(field=str(read.member("risk_score_mapping", item, "field")),
                            value=str(item.get("value", "")),
                            operator=str(item.get("operator", "equals")))


def _attack_ref(read: _Reader, item: Any) -> AttackRef:
    if not isinstance(item, Mapping):
        raise read.fail("threat", f"expected a table with id and name, found {item!r}")
    return AttackRef(id=str(read.member("threat", item, "id")),
                     name=str(read.member("threat", item, "name")),
                     reference=item.get("reference"))


def _threat(read: _Reader, item: Mapping[str, Any]) -> Threat:
    techniques = []
    for technique in item.get("technique") or []:
        ref = _attack_ref(read, technique)
        subtechniques = tuple(_attack_ref(read, sub)
                              for sub in technique.get("subtechnique") or [])
        techniques.append(Technique(ref.id, ref.name, ref.reference, subtechniques))
    return Threat(framework=str(item.get("framework", "MITRE ATT&CK")),
                  tactic=_attack_ref(read, read.member("threat", item, "tactic")),
                  techniques=tuple(techniques))


def _exception_ref(read: _Reader, item: Mapping[str, Any]) -> ExceptionListRef:
    return ExceptionListRef(list_id=str(read.member("exceptions_list", item, "list_id")),
                            id=item.get("id"),
                            namespace_type=str(item.get("namespace_type", "single")),
                            type=str(item.get("type", "detection")))


def _suppression(read: _Reader) -> AlertSuppression | None:
    value = read.data.get("alert_suppression")
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise read.fail("alert_suppression", f"expected a table, found {value!r}")
    group_by = value.get("group_by")
    if (not isinstance(group_by, list) or not 1 <= len(group_by) <= 3
            or not all(isinstance(f, str) for f in group_by)):
        raise read.fail("alert_suppression.group_by",
                        f"expected a list of 1 to 3 field names, found {group_by!r}")
    strategy = value.get("missing_fields_strategy", "suppress")
    if strategy not in ("suppress", "doNotSuppress"):
        raise read.fail("alert_suppression.missing_fields_strategy",
                        f"expected suppress or doNotSuppress, found {strategy!r}")
    duration = value.get("duration")
    text = None
    if duration is not None:
        unit = duration.get("unit") if isinstance(duration, Mapping) else None
        amount = duration.get("value") if isinstance(duration, Mapping) else None
        if (unit not in _SUPPRESSION_UNITS or isinstance(amount, bool)
                or not isinstance(amount, int) or amount < 1):
            raise read.fail("alert_suppression.duration",
                            f"expected {{value >= 1, unit s|m|h}}, found {duration!r}")
        text = f"{amount}{unit}"
    return AlertSuppression(tuple(group_by), text, strategy)


def _investigation_fields(read: _Reader) -> tuple[str, ...]:
    value = read.data.get("investigation_fields")
    if value is None:
        return ()
    names = value.get("field_names") if isinstance(value, Mapping) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise read.fail("investigation_fields",
                        f"expected {{field_names = [...]}}, found {value!r}")
    return tuple(names)


def _threshold(read: _Reader) -> Threshold | None:
    """`threshold = {field, value, cardinality}`; `field` is a name or a list of up to 5."""
    value = read.data.get("threshold")
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise read.fail("threshold", f"expected a table, found {value!r}")
    fields = value.get("field", [])
    fields = [fields] if isinstance(fields, str) else fields
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise read.fail("threshold.field", f"expected a list of field names, found {fields!r}")
    count = value.get("value")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise read.fail("threshold.value", f"expected an integer >= 1, found {count!r}")
    cardinality = []
    for item in value.get("cardinality") or []:
        name, distinct = (item.get("field"), item.get("value")) if isinstance(item, Mapping) \
            else (None, None)
        if (not isinstance(name, str) or isinstance(distinct, bool)
                or not isinstance(distinct, int)):
            raise read.fail("threshold.cardinality",
                            f"expected {{field, value}} entries, found {item!r}")
        cardinality.append(ThresholdCardinality(name, distinct))
    return Threshold(tuple(f for f in fields if f), count, tuple(cardinality))


def _new_terms_value(read: _Reader, key: str) -> Any:
    """A new_terms parameter written as Kibana's API does (`new_terms_fields = [...]`) or as
    detection-rules' TOML does (`[rule.new_terms] field = "new_terms_fields", value = [...]`,
    with `[[rule.new_terms.history_window_start]]` inside)."""
    if key in read.data:
        return read.data[key]
    table = read.data.get("new_terms")
    if not isinstance(table, Mapping):
        return None
    if table.get("field") == key:
        return table.get("value")
    for entry in table.get("history_window_start") or []:
        if isinstance(entry, Mapping) and entry.get("field") == key:
            return entry.get("value")
    return None


def _new_terms_fields(read: _Reader) -> tuple[str, ...]:
    value = _new_terms_value(read, "new_terms_fields")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise read.fail("new_terms", f"expected a list of field names, found {value!r}")
    return tuple(value)


def _history_window_start(read: _Reader) -> str | None:
    value = _new_terms_value(read, "history_window_start")
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise read.fail("new_terms", f"expected history_window_start like now-14d, found "
                                     f"{value!r}")
    return value


def _threat_mapping(read: _Reader) -> tuple[tuple[ThreatMappingEntry, ...], ...]:
    groups = []
    for group in read.objects("threat_mapping"):
        entries = group.get("entries")
        if not isinstance(entries, list) or not entries:
            raise read.fail("threat_mapping", f"a group lacks its entries: {dict(group)!r}")
        built = []
        for entry in entries:
            if (not isinstance(entry, Mapping) or not isinstance(entry.get("field"), str)
                    or not isinstance(entry.get("value"), str)):
                raise read.fail("threat_mapping",
                                f"expected {{field, type, value}} entries, found {entry!r}")
            built.append(ThreatMappingEntry(entry["field"], entry["value"],
                                            str(entry.get("type", "mapping")),
                                            bool(entry.get("negate", False))))
        groups.append(tuple(built))
    return tuple(groups)


def _job_ids(read: _Reader) -> tuple[str, ...]:
    value = read.data.get("machine_learning_job_id")
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return read.texts("machine_learning_job_id")
