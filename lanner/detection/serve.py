"""Continuous detection: ingest what arrives, run each rule when its schedule says so.

Each tick stores the events a watched folder received since the last tick, then runs every
rule that is due, as Kibana's task manager would (RuleSchedule), passing the rule's previous
start so that a late or restarted service catches up or reports the gap. Runs are logged in
the database, so a restart knows when each rule last ran.
"""

from __future__ import annotations

import datetime
import gc
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lanner.detection.alerts import rule_uuid
from lanner.detection.run import Detector, Invocation, RunReport
from lanner.detection.schedule import RuleSchedule
from lanner.rules import Rule
from lanner.store import IngestReport
from lanner.store.runs import RunLog, RunRecord
from lanner.store.watch import FolderWatch

Clock = Callable[[], datetime.datetime]


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True, slots=True)
class OutsideWindows:
    """Events a tick stored that no rule's window of that tick covered (by `@timestamp`):
    how many, the earliest and latest of them, and the span the windows covered."""

    events: int
    first: datetime.datetime
    last: datetime.datetime
    windows_start: datetime.datetime
    windows_end: datetime.datetime


@dataclass(slots=True)
class Tick:
    """What one tick did."""

    at: datetime.datetime
    ingested: IngestReport
    runs: list[RunReport] = field(default_factory=list)
    outside: OutsideWindows | None = None  # new events no window of the tick's runs covered


class DetectionService:
    """Rules on a schedule over a store that keeps receiving events."""

    def __init__(self, detector: Detector, rules: Sequence[Rule], *,
                 watch: FolderWatch | None = None) -> None:
        self.detector = detector
        self.rules = list(rules)
        self.watch = watch
        self.log = RunLog(detector.backend.store.con)
        self._next: dict[str, datetime.datetime] = {}
        # each rule's last start: read from the log once, then kept as runs happen
        self._last: dict[str, datetime.datetime | None] = {}

    def tick(self, now: datetime.datetime) -> Tick:
        """Ingest new events, then run the rules that are due at `now`, as one round (their
        filters evaluated together, as a hunt's)."""
        store = self.detector.backend.store
        last_doc = store.con.execute("SELECT coalesce(max(_doc), 0) FROM events").fetchone()[0]
        tick = Tick(now, self.watch.poll() if self.watch else IngestReport())
        due_now: list[tuple[str, Invocation]] = []
        for rule in self.rules:
            key = rule_uuid(rule)
            schedule = RuleSchedule.every(rule.interval)
            if key not in self._last:
                self._last[key] = self.log.last_started(key)
            last = self._last[key]
            due = self._next.get(key) or schedule.next_run_at(now=now, last_started_at=last)
            if now < due:
                continue
            due_now.append((key, Invocation(rule, now, last)))
            self._last[key] = now
            self._next[key] = schedule.next_run_at(now=now, last_started_at=now,
                                                   last_scheduled_at=due)
        reports = (self.detector.run_many([invocation for _, invocation in due_now])
                   if due_now else [])
        for (key, invocation), report in zip(due_now, reports, strict=True):
            self.log.record(RunRecord(key, invocation.rule.rule_id, now, report.status,
                                      len(report.created), report.error))
            tick.runs.append(report)
        if tick.ingested.events and tick.runs:
            tick.outside = self._outside(tick.runs, last_doc)
        # What the round froze (lanner.cache.gc_paused) goes back to the collector: a
        # service runs for days and must not keep a reference cycle for good.
        gc.unfreeze()
        return tick

    def _outside(self, runs: Sequence[RunReport], last_doc: int) -> OutsideWindows | None:
        """The events stored after `last_doc` whose `@timestamp` lies outside every window
        the runs searched (they all end at the tick, so their union is one span)."""
        windows = [w for run in runs for w in run.windows if w.start and w.end]
        column = self.detector.backend.store.column("@timestamp")
        if not windows or column is None or column.physical is None:
            return None
        start = min(w.start for w in windows if w.start)
        end = max(w.end for w in windows if w.end)
        naive = [moment.astimezone(datetime.UTC).replace(tzinfo=None) for moment in (start, end)]
        count, first, last = self.detector.backend.store.con.execute(
            f"SELECT count(*), min({column.sql}), max({column.sql}) FROM events "
            f"WHERE _doc > ? AND ({column.sql} < ? OR {column.sql} > ?)",
            [last_doc, *naive]).fetchone()
        if not count:
            return None
        return OutsideWindows(count, first.replace(tzinfo=datetime.UTC),
                              last.replace(tzinfo=datetime.UTC), start, end)

    def next_due(self, now: datetime.datetime) -> datetime.datetime:
        """The earliest moment a rule is due (now, for a rule that never ran)."""
        return min((self._next.get(rule_uuid(rule), now) for rule in self.rules), default=now)

    def serve(self, stop: threading.Event, *, poll: datetime.timedelta,
              on_tick: Callable[[Tick], None], clock: Clock = utc_now) -> None:
        """Tick until `stop` is set: at least every `poll` (to ingest), and when rules are due."""
        while not stop.is_set():
            on_tick(self.tick(clock()))
            now = clock()
            wait = min(self.next_due(now) - now, poll)
            stop.wait(max(wait.total_seconds(), 0.0))
