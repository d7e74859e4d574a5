"""Why a threshold or new_terms rule does not fire in a hunt: where the events fall out.

The counts follow the executors' own path (lanner.detection.aggregating, one Aggregator per
question), step by step: events in the rule's indices; those the query, filters and exceptions
let through; those with a value for each of the rule's fields (an event missing one is in no
bucket and has no term); then, for a threshold rule, the groups closest to the threshold within
one replayed rule window (their count against `threshold.value`, their distinct values against
the cardinality's). A new_terms rule whose events have all its fields fires in a hunt (each
combination's first sighting in the range is new), so its explanation ends at the fields.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from lanner.detection.aggregating import lookback, rule_aggregator, span_nanos
from lanner.detection.datemath import humanize, parse_duration
from lanner.detection.executors import DEFAULT_INDEX, Round
from lanner.engine.aggregate import Bucket, Schedule
from lanner.engine.backends.base import Backend
from lanner.rules import Rule

AGGREGATING_TYPES = ("threshold", "new_terms")


@dataclass(frozen=True, slots=True)
class Step:
    """Events left after one more condition."""

    label: str
    count: int


@dataclass(frozen=True, slots=True)
class AggregationExplanation:
    """The steps the events went through, the sentence saying where they stopped, and for a
    threshold rule the groups that came closest (one line each)."""

    rule: Rule
    steps: list[Step] = field(default_factory=list)
    verdict: str = ""
    closest: list[str] = field(default_factory=list)

    @property
    def past_query(self) -> bool:
        """Whether some event got past the query and filters (else the query's own
        explanation, clause by clause, says more: lanner.detection.explain)."""
        return len(self.steps) >= 2 and self.steps[1].count > 0


def explain_aggregation(backend: Backend, rule: Rule, *, now: datetime.datetime,
                        closest: int = 3) -> AggregationExplanation:
    """Where the rule's events fall out of a hunt; `now` anchors its `from` date math (the
    length of one rule window)."""
    round_ = Round(backend)
    everything = rule_aggregator(round_, rule, None, filtered=False)
    matched = rule_aggregator(round_, rule, None)
    patterns = ", ".join(rule.index or DEFAULT_INDEX)
    steps = [Step(f"events in the rule's indices ({patterns})", everything.count())]
    if not steps[-1].count:
        return AggregationExplanation(rule, steps, "no event is in the rule's indices")
    steps.append(Step("matching the query and filters", matched.count()))
    if not steps[-1].count:
        return AggregationExplanation(rule, steps, "no event matches the rule's query and "
                                                   "filters")
    fields = _fields(rule)
    for position, name in enumerate(fields):
        steps.append(Step(f"with {name}", matched.count(fields[:position + 1])))
        if not steps[-1].count:
            return AggregationExplanation(
                rule, steps, f"no matching event has a value for {name}, which the rule "
                             f"{'groups by' if rule.type == 'threshold' else 'looks for'}")
    if rule.type != "threshold" or rule.threshold is None:
        return AggregationExplanation(rule, steps, "every condition is met by some event")
    threshold = rule.threshold
    schedule = Schedule(0, span_nanos(parse_duration(rule.interval)),
                        span_nanos(lookback(rule, now)))
    bounds = matched.time_bounds()
    if bounds is None:
        return AggregationExplanation(rule, steps, "no matching event has a timestamp")
    schedule = Schedule(bounds[0], schedule.interval, schedule.lookback)
    cardinality = ((threshold.cardinality[0].field, 0) if threshold.cardinality else None)
    buckets = matched.window_buckets(threshold.field, schedule, start=None, end=None,
                                     minimum=1, cardinality=cardinality)
    best: dict[tuple[object, ...], Bucket] = {}
    for bucket in buckets:
        kept = best.get(bucket.key)
        if kept is None or _rank(bucket) > _rank(kept):
            best[bucket.key] = bucket
    ranked = sorted(best.values(), key=_rank, reverse=True)[:closest]
    window = humanize(datetime.timedelta(microseconds=schedule.lookback // 1_000))
    lines = [_describe(rule, bucket) for bucket in ranked]
    top = ranked[0]
    if top.count < threshold.value:
        verdict = (f"no group reaches {threshold.value} events within one rule window "
                   f"({window} every {rule.interval}): the most is {top.count}")
    else:
        wanted = threshold.cardinality[0]
        verdict = (f"no group with {threshold.value} events or more has {wanted.value} "
                   f"distinct values of {wanted.field} within one rule window ({window})")
    return AggregationExplanation(rule, steps, verdict, lines)


def _fields(rule: Rule) -> tuple[str, ...]:
    if rule.type == "threshold":
        if rule.threshold is None:
            return ()
        return tuple(rule.threshold.field)  # events without the cardinality field count
    return rule.new_terms_fields


def _rank(bucket: Bucket) -> tuple[int, int]:
    return bucket.count, bucket.cardinality or 0


def _describe(rule: Rule, bucket: Bucket) -> str:
    assert rule.threshold is not None
    threshold = rule.threshold
    key = ", ".join(f"{name}={value}" for name, value in
                    zip(threshold.field, bucket.key, strict=True)) or "all events"
    text = f"{key}: {bucket.count} event(s) of {threshold.value} needed"
    if threshold.cardinality:
        wanted = threshold.cardinality[0]
        text += (f", {bucket.cardinality} distinct {wanted.field} of {wanted.value} needed")
    return text
