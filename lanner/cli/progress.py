"""What a hunt shows while it runs: a Rich progress bar for people, JSON lines for scripts,
or nothing (`--quiet`, or standard error not a terminal).

The store calls `reading(current file, events so far)` while it ingests; the hunt calls
`ran(rule, report)` after each rule. Each kind of feedback decides what to make of them.
"""

from __future__ import annotations

import datetime
import time
from types import TracebackType
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from lanner.cli.report.model import shown_count
from lanner.cli.terminal import visible
from lanner.detection.run import RunReport
from lanner.rules import Rule


class Feedback:
    """Silent feedback; the base of the others. Also a context manager, so a live display
    is always taken down, even when the hunt fails."""

    def reading(self, current: str | None, events: int) -> None:
        """Called by the store while it ingests: the file being read, events stored so far."""

    def start_rules(self, total: int) -> None:
        """The rules are about to run."""

    def ran(self, rule: Rule, report: RunReport) -> None:
        """One rule has run."""

    def __enter__(self) -> Feedback:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        """Nothing to take down."""


class ProgressBar(Feedback):
    """Events read, events/s and the current file; then rules run, alerts so far, the rule.

    Transient: once the hunt ends the bar goes, and the account takes its place."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
            # the detail holds file and rule names: never read as markup, controls shown
            TextColumn("{task.fields[detail]}", markup=False), TimeElapsedColumn(),
            console=console, transient=True)
        self._reading: TaskID | None = None
        self._rules: TaskID | None = None
        self._started = time.perf_counter()
        self._alerts = 0
        self._rules_run = 0
        self._rules_total = 0

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._progress.stop()

    def reading(self, current: str | None, events: int) -> None:
        if self._reading is None:
            self._started = time.perf_counter()
            self._reading = self._progress.add_task("reading", total=None, detail="")
        elapsed = max(time.perf_counter() - self._started, 1e-6)
        detail = f"{events:,} events · {events / elapsed:,.0f} events/s"
        if current:
            detail += f" · {visible(current)}"
        self._progress.update(self._reading, detail=detail)

    def start_rules(self, total: int) -> None:
        if self._reading is not None:
            self._progress.update(self._reading, total=1, completed=1)
        self._rules_total = total
        self._rules = self._progress.add_task("rules", total=total, detail=f"0/{total}")

    def ran(self, rule: Rule, report: RunReport) -> None:
        if self._rules is None:
            return
        self._alerts += shown_count(report.created_alerts)
        self._rules_run += 1
        self._progress.update(self._rules, advance=1, detail=(
            f"{self._rules_run}/{self._rules_total} · {self._alerts:,} alert(s) · "
            f"{visible(rule.name)}"))


class JsonLog(Feedback):
    """One JSON object a line on standard error, for scripts and CI: `file` when reading moves
    to a new file, `rule` after each rule; the command adds its own (`bad_line`, `summary`)."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._file: str | None = None

    def log(self, event: str, **fields: Any) -> None:
        """Write one log line: the event's kind, the time, then its fields."""
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        line = orjson.dumps({"event": event, "time": now.replace("+00:00", "Z"), **fields},
                            default=str)
        self._console.print(line.decode(), markup=False, highlight=False, soft_wrap=True)

    def reading(self, current: str | None, events: int) -> None:
        if current is not None and current != self._file:
            self._file = current
            self.log("file", file=current, events_before=events)

    def start_rules(self, total: int) -> None:
        self.log("rules_start", rules=total)

    def ran(self, rule: Rule, report: RunReport) -> None:
        self.log("rule", rule_id=rule.rule_id, name=rule.name, status=report.status,
                 alerts=shown_count(report.created_alerts), took=round(report.took, 4),
                 error=report.error, warnings=report.warnings)
