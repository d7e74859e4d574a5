"""What the threshold and new_terms executors share.

* The rule's search as Kibana's `getFilter` builds it (OTHER-RULE-TYPES.md §1, [GF]): the
  query rules' `rule_filter` (the KQL query and the rule's `filters`) and the exceptions'
  filter, ANDed, compiled to SQL by the engine's one Query DSL compiler through the backend's
  compiler for the rule's indices.
* The aggregatable timestamp (§1): the override, falling back to `@timestamp`.
* Kibana's `object-hash` (npm `object-hash` v3 defaults: sha1 of a typed serialization), which
  new_terms alert ids use.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from lanner.detection import datemath
from lanner.detection.executors import DEFAULT_INDEX, HuntWindow, Round, WindowJob
from lanner.detection.query_rules import rule_filter
from lanner.engine.aggregate import Aggregator, Timestamp
from lanner.engine.backends.duckdb import SearchScope
from lanner.eql import Issue, Severity
from lanner.errors import LannerError
from lanner.rules import Rule

_NANOS = 1_000_000_000
T = TypeVar("T")


def aggregator(job: WindowJob) -> Aggregator:
    """The aggregations over the events the job's rule searches, in the job's round."""
    return rule_aggregator(job.round, job.rule, job.exceptions)


def rule_aggregator(round_: Round, rule: Rule, exceptions: Mapping[str, Any] | None, *,
                    filtered: bool = True) -> Aggregator:
    """The aggregations over the events of the rule's indices that its query, filters and
    `exceptions` let through (all of them when not `filtered`)."""
    timestamp_field = rule.timestamp_override or "@timestamp"
    compiler = round_.compiler(SearchScope(round_.indices(rule.index), timestamp_field))
    query_filter = None
    if filtered:
        clauses = [rule_filter(rule), exceptions]
        query_filter = {"bool": {"filter": [dict(c) for c in clauses if c]}}
    scope = round_.scope(rule.index, query_filter, timestamp_field=timestamp_field)
    timestamp = Timestamp(timestamp_field,
                          fallback=not rule.timestamp_override_fallback_disabled)
    return Aggregator(round_.backend, scope, compiler, timestamp, rule.type)


def is_hunt(job: WindowJob) -> bool:
    """Whether the job sweeps a range (a hunt, replayed), not one scheduled window."""
    return isinstance(job.window, HuntWindow)


def index_patterns(rule: Rule) -> str:
    """Kibana's `inputIndex` joined by ',': the rule's patterns, or the default ones."""
    return ",".join(rule.index or DEFAULT_INDEX)


class RunMemory(Generic[T]):
    """What an executor remembers from the earlier windows of the current execution (catch-up
    windows, which the store does not hold yet): a run's windows reach the executor one after
    the other, before the next execution's, so one slot suffices."""

    def __init__(self, empty: Callable[[], T]) -> None:
        self._empty = empty
        self._execution: str | None = None
        self._value: T = empty()

    def of(self, job: WindowJob) -> T:
        if job.context.execution_uuid != self._execution or not job.context.execution_uuid:
            self._execution = job.context.execution_uuid
            self._value = self._empty()
        return self._value


# Any instant serves to compare two date math expressions relative to now.
_REFERENCE_NOW = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


def parameter_issues(rule: Rule) -> list[Issue]:
    """What Kibana's rule type `validate` refuses in a new_terms rule's parameters: a history
    window start it cannot parse, or one not before `from` (`validateHistoryWindowStart`,
    new_terms/utils.ts)."""
    if rule.type != "new_terms" or not rule.history_window_start:
        return []
    try:
        begins = datemath.parse(rule.history_window_start, now=_REFERENCE_NOW)
        window = datemath.parse(rule.from_, now=_REFERENCE_NOW)
    except LannerError as error:
        return [Issue(Severity.ERROR, "parameter", f"history_window_start: {error}")]
    if begins >= window:
        return [Issue(Severity.ERROR, "parameter",
                      "History window size is smaller than rule interval + additional "
                      "lookback, 'historyWindowStart' must be earlier than 'from'")]
    return []


def lookback(rule: Rule, now: datetime.datetime) -> datetime.timedelta:
    """How far before a run's start its window begins (`from`, date math against now)."""
    return datemath.to_instant(now) - datemath.parse(rule.from_, now=now)


def span_nanos(duration: datetime.timedelta) -> int:
    """A duration in nanoseconds (microsecond precision)."""
    return duration // datetime.timedelta(microseconds=1) * 1_000


def nanos(moment: datetime.datetime) -> int:
    """Epoch nanoseconds of an aware datetime (microsecond precision)."""
    delta = moment - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    return (delta.days * 86_400 + delta.seconds) * _NANOS + delta.microseconds * 1_000


def moment(epoch_nanos: int) -> datetime.datetime:
    """The UTC datetime of epoch nanoseconds (to the microsecond)."""
    return (datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
            + datetime.timedelta(microseconds=epoch_nanos // 1_000))


def object_hash(value: Any) -> str:
    """npm `object-hash` with its defaults (sha1, hex, ordered arrays), for the values alert
    ids hash: arrays, strings, numbers, booleans and null."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(_hash_text(value).encode("utf-8"))
    return digest.hexdigest()


def _hash_text(value: Any) -> str:
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return f"bool:{'true' if value else 'false'}"
    if isinstance(value, str):
        return f"string:{len(value.encode('utf-16-le')) // 2}:{value}"
    if isinstance(value, int | float):
        return f"number:{js_number(value)}"
    if isinstance(value, list | tuple):
        return f"array:{len(value)}:" + "".join(_hash_text(item) for item in value)
    raise TypeError(f"object_hash does not hash {type(value).__name__}")


def js_number(value: int | float) -> str:
    """A number as JavaScript's `String(number)` writes it (integers without `.0`)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)
