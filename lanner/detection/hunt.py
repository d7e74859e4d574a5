"""Running a set of rules: which rules take part, a hunt over everything, a replay of a range.

A hunt is a sweep: every rule over all the loaded events at once, no schedule and no cap. A
replay runs each rule's schedule over a past range at full speed, every invocation with the
one before it as its previous run, so windows, overlaps and catch-up behave as in production.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from lanner.detection.run import Detector, Invocation, RuleTypeError, RunReport, executor_for
from lanner.detection.schedule import invocations
from lanner.rules import Rule

ProgressCallback = Callable[[Rule, RunReport], None]


@dataclass(frozen=True, slots=True)
class Selection:
    """The rules that run, and the ones left out with the reason."""

    rules: list[Rule] = field(default_factory=list)
    skipped: list[tuple[Rule, str]] = field(default_factory=list)


def select_rules(rules: Iterable[Rule], *, building_blocks: bool = False,
                 deprecated: bool = False, disabled: bool = True) -> Selection:
    """Keep the rules that should run; say why each other rule does not (an ML rule: "needs
    Elastic ML: not run"). A sweep runs disabled rules too; a schedule (`disabled=False`) runs
    only enabled ones, as Kibana."""
    selection = Selection()
    for rule in rules:
        reason = not_runnable(rule)
        if reason is None and rule.maturity == "deprecated" and not deprecated:
            reason = "deprecated"
        elif reason is None and rule.is_building_block and not building_blocks:
            reason = "building-block rule (run them with --building-blocks)"
        elif reason is None and not rule.enabled and not disabled:
            reason = "disabled"
        if reason:
            selection.skipped.append((rule, reason))
        else:
            selection.rules.append(rule)
    return selection


def not_runnable(rule: Rule) -> str | None:
    """Why Lanner cannot run the rule's type (an ML rule, an unknown type), or None."""
    try:
        executor_for(rule)
    except RuleTypeError as error:
        return str(error)
    return None


def hunt(detector: Detector, rules: Sequence[Rule], *, max_signals: int | None = None,
         started_at: datetime.datetime | None = None,
         progress: ProgressCallback | None = None, since: datetime.datetime | None = None,
         until: datetime.datetime | None = None) -> list[RunReport]:
    """Every rule over all the data, or over the events between `since` and `until` (on each
    rule's timestamp, as a rule's window); one report per rule, in rule order. The rules run
    as one round, so `progress` hears of them when all are done."""
    reports = detector.hunt_many(rules, started_at=started_at, max_signals=max_signals,
                                 since=since, until=until)
    if progress:
        for rule, report in zip(rules, reports, strict=True):
            progress(rule, report)
    return reports


def replay(detector: Detector, rules: Sequence[Rule], *, start: datetime.datetime,
           end: datetime.datetime, progress: ProgressCallback | None = None) -> list[RunReport]:
    """Each rule's schedule over [start, end]: one report per invocation, rule by rule.

    The rules due at the same moment run as one round, moment after moment, so each rule
    still sees its own runs in order (the previous run's alerts de-duplicate the next's)."""
    due: dict[datetime.datetime, list[tuple[int, Invocation]]] = {}
    for position, rule in enumerate(rules):
        previous = None
        for started_at in invocations(start=start, end=end, interval=rule.interval):
            due.setdefault(started_at, []).append(
                (position, Invocation(rule, started_at, previous, execution_type="manual")))
            previous = started_at
    ran: list[list[RunReport]] = [[] for _ in rules]
    for moment in sorted(due):
        positions, round_ = zip(*due[moment], strict=True)
        for position, report in zip(positions, detector.run_many(round_), strict=True):
            ran[position].append(report)
            if progress:
                progress(rules[position], report)
    return [report for reports in ran for report in reports]
