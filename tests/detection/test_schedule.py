"""Rule windows, catch-up, gaps, replays and the next due run, against Kibana's arithmetic.

Worked by hand from Kibana's `rule_types/utils/utils.ts`:
    gap      = (startedAt - previousStartedAt) - (to - from)          getGapBetweenRuns
    catchup  = min(ceil(gap / interval), 4), 0 when gap <= 0           getNumCatchupIntervals
    window k = [from - k*interval, to - k*interval], k = 1..catchup    getCatchupTuples
    tuples   = [main, c1, ..., ck].reverse()                           getRuleRangeTuples
    remaining= max(gap - catchup*interval, 0)
the preview route (first start = timeframeEnd - interval*(count-1)) with the UI's
count = max(ceil(timeframe / interval), 1), and task manager's getNextRunAt.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from lanner.detection.datemath import DateMathError
from lanner.detection.schedule import (
    RuleSchedule,
    RuleWindow,
    ScheduleError,
    invocations,
    lookback_from,
    rule_windows,
)

PREBUILT = {"from_": "now-9m", "to": "now", "interval": "5m", "max_signals": 100}


def at(hour: int, minute: int, second: int = 0, ms: int = 0) -> datetime:
    return datetime(2026, 11, 20, hour, minute, second, ms * 1000, tzinfo=UTC)


def spans(plan_windows: tuple[RuleWindow, ...]) -> list[tuple[datetime, datetime]]:
    return [(window.start, window.end) for window in plan_windows]


def test_first_run_searches_from_to_only() -> None:
    plan = rule_windows(**PREBUILT, started_at=at(10, 15))
    assert plan.windows == (RuleWindow(at(10, 6), at(10, 15), 100),)
    assert plan.main == plan.windows[0]
    assert plan.gap == timedelta(0)
    assert plan.remaining_gap is None
    assert plan.gap_range is None
    assert plan.gap_message is None
    assert plan.warnings == ()


def test_on_time_run_overlaps_the_previous_by_four_minutes() -> None:
    # 5 min since the previous start, 9 min searched: gap = 5 - 9 = -4 min, no catch-up.
    plan = rule_windows(**PREBUILT, started_at=at(10, 15), previous_started_at=at(10, 10))
    assert plan.gap == -timedelta(minutes=4)
    assert spans(plan.windows) == [(at(10, 6), at(10, 15))]


def test_four_minutes_late_is_still_no_gap() -> None:
    # 9 min since the previous start: gap = 9 - 9 = 0.
    plan = rule_windows(**PREBUILT, started_at=at(10, 19), previous_started_at=at(10, 10))
    assert plan.gap == timedelta(0)
    assert plan.catchup_count == 0


def test_run_seven_minutes_late_gets_one_catchup_window_first() -> None:
    # Due at 10:05, started 10:12: 12 min elapsed, gap 3 min, ceil(3 / 5) = 1 catch-up,
    # [10:03-5m, 10:12-5m] = [09:58, 10:07], listed before the main window.
    plan = rule_windows(**PREBUILT, started_at=at(10, 12), previous_started_at=at(10, 0))
    assert plan.gap == timedelta(minutes=3)
    assert plan.catchup_count == 1
    assert plan.windows == (RuleWindow(at(9, 58), at(10, 7), 100),
                            RuleWindow(at(10, 3), at(10, 12), 100))
    assert plan.remaining_gap is None
    assert plan.gap_message is None


def test_long_outage_gets_four_catchups_and_a_remaining_gap() -> None:
    # 120 min elapsed: gap 111 min, ceil(111 / 5) = 23 capped at 4, remaining 111 - 20 = 91 min
    # = 5460000 ms; humanize: round(91 / 60 = 1.52) = 2 hours.
    plan = rule_windows(**PREBUILT, started_at=at(12, 0), previous_started_at=at(10, 0))
    assert plan.gap == timedelta(minutes=111)
    assert spans(plan.windows) == [
        (at(11, 31), at(11, 40)),
        (at(11, 36), at(11, 45)),
        (at(11, 41), at(11, 50)),
        (at(11, 46), at(11, 55)),
        (at(11, 51), at(12, 0)),
    ]
    assert plan.remaining_gap == timedelta(minutes=91)
    assert plan.gap_range == (at(10, 0), at(11, 31))
    assert plan.gap_message == (
        "2 hours (5460000ms) were not queried between this rule execution and the last "
        "execution, so signals may have been missed. Consider increasing your look behind "
        "time or adding more Kibana instances")


def test_a_gap_of_exactly_four_intervals_is_covered() -> None:
    # 29 min elapsed: gap 20 min = 4 intervals exactly, remaining 0.
    plan = rule_windows(**PREBUILT, started_at=at(10, 29), previous_started_at=at(10, 0))
    assert plan.catchup_count == 4
    assert plan.windows[0] == RuleWindow(at(10, 0), at(10, 9), 100)
    assert plan.remaining_gap is None


def test_one_millisecond_more_is_reported() -> None:
    # gap 20 min + 1 ms: ceil gives 5, capped at 4, 1 ms remains ("a few seconds").
    plan = rule_windows(**PREBUILT, started_at=at(10, 29, 0, 1), previous_started_at=at(10, 0))
    assert plan.catchup_count == 4
    assert plan.remaining_gap == timedelta(milliseconds=1)
    assert plan.gap_range == (at(10, 0), at(10, 0, 0, 1))
    assert plan.gap_message is not None
    assert plan.gap_message.startswith("a few seconds (1ms) were not queried between")


def test_building_block_rule_window() -> None:
    # BBRs: now-119m every 60m. A run 80 min after the last: gap 80 - 119 < 0.
    plan = rule_windows(from_="now-119m", to="now", interval="60m", max_signals=100,
                        started_at=at(12, 0), previous_started_at=at(10, 40))
    assert spans(plan.windows) == [(at(10, 1), at(12, 0))]


def test_milliseconds_of_the_start_are_kept() -> None:
    plan = rule_windows(**PREBUILT, started_at=at(10, 15, 0, 456))
    assert spans(plan.windows) == [(at(10, 6, 0, 456), at(10, 15, 0, 456))]


def test_to_is_not_rounded_up() -> None:
    # Kibana parses both `from` and `to` without roundUp: now/d is midnight for both.
    plan = rule_windows(from_="now-1d/d", to="now/d", interval="1d", max_signals=100,
                        started_at=at(10, 15))
    day_before = datetime(2026, 11, 19, tzinfo=UTC)
    assert spans(plan.windows) == [(day_before, at(0, 0))]


def test_max_signals_over_the_setting_is_capped_in_every_window_with_a_warning() -> None:
    plan = rule_windows(from_="now-9m", to="now", interval="5m", max_signals=2000,
                        started_at=at(10, 12), previous_started_at=at(10, 0))
    assert [window.max_signals for window in plan.windows] == [1000, 1000]
    assert plan.warnings == (
        "The rule's max alerts per run setting (2000) is greater than the Kibana alerting "
        "limit (1000). The rule will only write a maximum of 1000 alerts per rule run.",)
    lifted = rule_windows(from_="now-9m", to="now", interval="5m", max_signals=2000,
                          started_at=at(10, 12), max_alerts_setting=5000)
    assert lifted.main.max_signals == 2000
    assert lifted.warnings == ()


def test_bad_from_and_bad_interval_are_typed_errors() -> None:
    with pytest.raises(DateMathError, match=r"invalid date math 'now-9H' at column 6"):
        rule_windows(from_="now-9H", to="now", interval="5m", max_signals=100,
                     started_at=at(10, 0))
    with pytest.raises(DateMathError, match=r"invalid duration '5x' at column 2"):
        rule_windows(from_="now-9m", to="now", interval="5x", max_signals=100,
                     started_at=at(10, 0))
    with pytest.raises(DateMathError, match="started_at must be timezone-aware"):
        rule_windows(**PREBUILT, started_at=datetime(2026, 11, 20, 10))


def test_one_hour_replay_every_five_minutes_is_twelve_runs() -> None:
    # count = ceil(60 / 5) = 12; first = 10:00 - 5m * 11 = 09:05; the last starts at 10:00.
    starts = invocations(start=at(9, 0), end=at(10, 0), interval="5m")
    assert len(starts) == 12
    assert starts[0] == at(9, 5)
    assert starts[-1] == at(10, 0)
    assert all(later - earlier == timedelta(minutes=5)
               for earlier, later in pairwise(starts))


def test_replay_windows_cover_the_range() -> None:
    previous = None
    covered: list[tuple[datetime, datetime]] = []
    for started_at in invocations(start=at(9, 0), end=at(10, 0), interval="5m"):
        plan = rule_windows(**PREBUILT, started_at=started_at, previous_started_at=previous)
        assert plan.remaining_gap is None
        covered.extend(spans(plan.windows))
        previous = started_at
    assert covered[0] == (at(8, 56), at(9, 5))
    assert covered[-1] == (at(9, 51), at(10, 0))
    assert all(nxt[0] <= prev[1] for prev, nxt in pairwise(covered))


@pytest.mark.parametrize(("start", "end", "interval", "count", "first"), [
    # ceil(60 / 7) = 9; 10:00 - 7m * 8 = 09:04.
    (at(9, 0), at(10, 0), "7m", 9, at(9, 4)),
    # 59m59s / 5m = 11.9997: still 12 runs.
    (at(9, 0, 1), at(10, 0), "5m", 12, at(9, 5)),
    # An empty range still runs once, at its end.
    (at(10, 0), at(10, 0), "5m", 1, at(10, 0)),
    # The "last day" preset with a 1h interval: 24 runs.
    (at(10, 0) - timedelta(days=1), at(10, 0), timedelta(hours=1), 24, at(11, 0) - timedelta(
        days=1)),
])
def test_invocation_counts(start: datetime, end: datetime, interval: str | timedelta,
                           count: int, first: datetime) -> None:
    starts = invocations(start=start, end=end, interval=interval)
    assert len(starts) == count
    assert starts[0] == first
    assert starts[-1] == end


def test_replay_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ScheduleError, match="the replay ends"):
        invocations(start=at(10, 0), end=at(9, 0), interval="5m")


def test_next_run_is_one_interval_after_the_scheduled_time_when_started_on_time() -> None:
    schedule = RuleSchedule.every("5m")
    # Started 200 ms after its scheduled time (< the 3 s poll interval): no drift.
    due = schedule.next_run_at(now=at(10, 0, 5), last_started_at=at(10, 0, 0, 200),
                               last_scheduled_at=at(10, 0))
    assert due == at(10, 5)


def test_a_late_start_shifts_the_schedule() -> None:
    schedule = RuleSchedule.every("5m")
    due = schedule.next_run_at(now=at(10, 0, 20), last_started_at=at(10, 0, 10),
                               last_scheduled_at=at(10, 0))
    assert due == at(10, 5, 10)
    assert schedule.next_run_at(now=at(10, 0, 20), last_started_at=at(10, 0, 10)) == at(10, 5, 10)


def test_a_run_longer_than_its_interval_is_followed_at_once() -> None:
    schedule = RuleSchedule.every(timedelta(minutes=5))
    assert schedule.next_run_at(now=at(10, 7), last_started_at=at(10, 0)) == at(10, 7)
    assert schedule.wait(now=at(10, 7), last_started_at=at(10, 0)) == timedelta(0)


def test_a_rule_that_never_ran_is_due_now_and_waits_are_measured_from_now() -> None:
    schedule = RuleSchedule.every("1h")
    assert schedule.next_run_at(now=at(10, 0)) == at(10, 0)
    assert schedule.wait(now=at(10, 20), last_started_at=at(10, 0)) == timedelta(minutes=40)


def test_lookback_from_matches_kibanas_stored_from() -> None:
    # calculateFromValue: interval 5m + additional look-back 1m = now-360s.
    assert lookback_from("5m", "1m") == "now-360s"
    assert lookback_from("1h", "5m") == "now-3900s"
