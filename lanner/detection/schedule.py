"""Which time windows a rule run searches, as Kibana's detection engine plans them.

Each run evaluates the rule's `from`/`to` date math at its start time: that is the main
window. When the previous run started so long ago that the windows no longer overlap, Kibana
adds *catch-up* windows, each the main window shifted back by one more interval, at most
`MAX_RULE_GAP_RATIO` of them (getRuleRangeTuples, getCatchupTuples, getGapBetweenRuns and
getNumCatchupIntervals in Kibana's `rule_types/utils/utils.ts`). Whatever is still not
covered is the *remaining gap*: Kibana marks the run failed with `WindowPlan.gap_message`.

`invocations` gives the run start times of a replay of a past range, as the rule preview
simulates them, and `RuleSchedule` says when a continuous loop's next run is due, as the
task manager reschedules a rule. Everything here is a pure function of its arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lanner.detection.datemath import humanize, parse, parse_duration, to_instant
from lanner.errors import LannerError

MAX_RULE_GAP_RATIO = 4
"""Most catch-up windows one run adds (Kibana's MAX_RULE_GAP_RATIO)."""
DEFAULT_MAX_ALERTS = 1000
"""Kibana's `xpack.alerting.rules.run.alerts.max`, the cap on a rule's max_signals."""
DEFAULT_POLL_INTERVAL = timedelta(seconds=3)
"""Task manager's default `poll_interval`: a run starting later than this drifts the schedule."""


class ScheduleError(LannerError):
    """A replay range or schedule that cannot be planned (end before start, bad interval)."""


@dataclass(frozen=True, slots=True)
class RuleWindow:
    """One EQL search of a run: events with start <= timestamp <= end, at most max_signals."""

    start: datetime
    end: datetime
    max_signals: int


@dataclass(frozen=True, slots=True)
class WindowPlan:
    """The windows one run searches and what it reports about the time it could not cover.

    `windows` are in Kibana's order: the oldest catch-up window first, the main window last.
    `gap` is Kibana's raw gap, time since the previous start less the window span; it is
    zero without a previous run and negative when windows overlap. `remaining_gap` is the
    part catch-up could not cover, None when there is none; `gap_range` is the period Kibana
    records as missed: from the previous start, for the remaining gap. `warnings` give the run
    Kibana's partial-failure status.
    """

    windows: tuple[RuleWindow, ...]
    gap: timedelta
    remaining_gap: timedelta | None
    gap_range: tuple[datetime, datetime] | None
    warnings: tuple[str, ...] = ()

    @property
    def main(self) -> RuleWindow:
        """The window `from`/`to` give at this run's start."""
        return self.windows[-1]

    @property
    def catchup_count(self) -> int:
        return len(self.windows) - 1

    @property
    def gap_message(self) -> str | None:
        """Kibana's failure message for a remaining gap (the run's status becomes failed)."""
        if self.remaining_gap is None:
            return None
        milliseconds = self.remaining_gap // timedelta(milliseconds=1)
        return (f"{humanize(self.remaining_gap)} ({milliseconds}ms) were not queried between "
                "this rule execution and the last execution, so signals may have been missed. "
                "Consider increasing your look behind time or adding more Kibana instances")


def rule_windows(*, from_: str, to: str, interval: str | timedelta, max_signals: int,
                 started_at: datetime, previous_started_at: datetime | None = None,
                 max_alerts_setting: int = DEFAULT_MAX_ALERTS) -> WindowPlan:
    """The windows of a run starting at `started_at`, after one at `previous_started_at`.

    Every window, catch-up ones included, gets max_signals capped at `max_alerts_setting`;
    going over the cap gives Kibana's warning (a partial-failure status) in `warnings`.
    """
    started_at = to_instant(started_at, name="started_at")
    original_from = parse(from_, now=started_at)
    original_to = parse(to, now=started_at)
    step = _interval(interval)
    warnings: tuple[str, ...] = ()
    if max_signals > max_alerts_setting:
        warnings = (
            f"The rule's max alerts per run setting ({max_signals}) is greater than the Kibana "
            f"alerting limit ({max_alerts_setting}). The rule will only write a maximum of "
            f"{max_alerts_setting} alerts per rule run.",
        )
        max_signals = max_alerts_setting

    gap = timedelta(0)
    if previous_started_at is not None:
        previous_started_at = to_instant(previous_started_at, name="previous_started_at")
        gap = (started_at - previous_started_at) - (original_to - original_from)
    catchup = 0
    if gap > timedelta(0):
        catchup = min(-(-gap // step), MAX_RULE_GAP_RATIO)  # ceil(gap / interval), exact
    windows = tuple(RuleWindow(original_from - back * step, original_to - back * step,
                               max_signals) for back in range(catchup, -1, -1))

    remaining = max(gap - catchup * step, timedelta(0))
    if not remaining or previous_started_at is None:
        return WindowPlan(windows, gap, None, None, warnings)
    gap_range = (previous_started_at, previous_started_at + remaining)
    return WindowPlan(windows, gap, remaining, gap_range, warnings)


def invocations(*, start: datetime, end: datetime,
                interval: str | timedelta) -> tuple[datetime, ...]:
    """Run start times that replay [start, end] as Kibana's rule preview does.

    The preview UI asks for `max(ceil((end - start) / interval), 1)` invocations and the
    preview route starts the first at `end - interval * (count - 1)`, then steps by the
    interval, so the last run starts exactly at `end`, the first no later than one interval
    after `start`. Each run's main window ends at its start, so the windows cover
    [start, end] whenever the rule looks back at least one interval (`to - from >=
    interval`, true of every prebuilt rule); each run's previous run is the one before it,
    and the first has none, as in the preview.
    """
    start = to_instant(start, name="start")
    end = to_instant(end, name="end")
    if end < start:
        raise ScheduleError(f"the replay ends ({end.isoformat()}) before it starts "
                            f"({start.isoformat()})")
    step = _interval(interval)
    count = max(-((start - end) // step), 1)  # ceil((end - start) / interval), exact
    return tuple(end - step * (count - 1 - index) for index in range(count))


@dataclass(frozen=True, slots=True)
class RuleSchedule:
    """When a rule's next run is due, as Kibana's task manager reschedules a recurring task.

    After a run, the next is due one interval after the time it was *scheduled* for, if it
    started within `poll_interval` of that, otherwise one interval after it *started*, so a
    late start shifts the schedule (getNextRunAt); never earlier than the moment the run
    ended. A rule that never ran is due at once.
    """

    interval: timedelta
    poll_interval: timedelta = DEFAULT_POLL_INTERVAL

    @classmethod
    def every(cls, interval: str | timedelta) -> RuleSchedule:
        return cls(_interval(interval))

    def next_run_at(self, *, now: datetime, last_started_at: datetime | None = None,
                    last_scheduled_at: datetime | None = None) -> datetime:
        """When the run after the one that started at `last_started_at` is due.

        `now` is when that run finished (or the current time for a rule that never ran).
        """
        now = to_instant(now)
        if last_started_at is None:
            return now
        base = to_instant(last_started_at, name="last_started_at")
        if last_scheduled_at is not None:
            scheduled = to_instant(last_scheduled_at, name="last_scheduled_at")
            if base - scheduled < self.poll_interval:
                base = scheduled
        return max(base + self.interval, now)

    def wait(self, *, now: datetime, last_started_at: datetime | None = None,
             last_scheduled_at: datetime | None = None) -> timedelta:
        """How long a loop should sleep from `now` before the next run (zero when it is due)."""
        due = self.next_run_at(now=now, last_started_at=last_started_at,
                               last_scheduled_at=last_scheduled_at)
        return due - to_instant(now)


def lookback_from(interval: str, lookback: str) -> str:
    """The `from` Kibana stores for an interval plus "additional look-back" (5m+1m: now-360s)."""
    seconds = (parse_duration(interval) + parse_duration(lookback)) // timedelta(seconds=1)
    return f"now-{seconds}s"


def _interval(interval: str | timedelta) -> timedelta:
    step = parse_duration(interval) if isinstance(interval, str) else interval
    if step <= timedelta(0):
        raise ScheduleError(f"the interval must be positive, got {step}")
    return step
