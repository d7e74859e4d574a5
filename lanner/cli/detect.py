"""`lanner hunt`, `lanner replay` and `lanner serve`: rules over events, alerts out.

Both load rules and events the same way, run through lanner.detection, and end with the same
account: what loaded, what did not and why, and the alerts by rule.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import orjson
import typer

from lanner.cli.env import CliEnv, ExitCode
from lanner.cli.render import alerts_table, run_failures
from lanner.detection.datemath import DateMathError
from lanner.detection.datemath import parse as parse_date
from lanner.detection.exceptions import ExceptionLists, load_exception_lists
from lanner.detection.hunt import Selection, hunt, replay, select_rules
from lanner.detection.run import Detector, RunReport
from lanner.detection.serve import DetectionService, Tick, utc_now
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.rules import load_rules
from lanner.store import EventStore, find_event_files
from lanner.store.alerts import AlertStore
from lanner.store.watch import FolderWatch

RulesOption = Annotated[list[Path], typer.Option(
    "--rules", "-r", help="Rule files (.toml, Kibana .ndjson export) or folders; repeatable.",
    show_default=False)]
EventsArgument = Annotated[list[Path], typer.Argument(
    help="Event files or folders (NDJSON, JSON arrays, Elasticsearch exports; gzip too).",
    show_default=False, metavar="EVENTS")]
OutputOption = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Write the alerts as Kibana-shaped NDJSON to this file.")]
StoreOption = Annotated[Path | None, typer.Option(
    "--store", help="Keep events and alerts in this DuckDB file (reused by later runs and "
    "by `lanner alerts`); in memory when left out.")]
ExceptionsOption = Annotated[list[Path] | None, typer.Option(
    "--exceptions", help="Kibana exception-list exports (.ndjson) or TOML exception files "
    "that rules' exceptions_list refer to; repeatable.")]
BuildingBlocksOption = Annotated[bool, typer.Option(
    "--building-blocks", help="Run building-block rules too (left out by default, as their "
    "alerts are hidden in Kibana).")]


@dataclass
class _Session:
    """Rules, store and detector of one command, with the account of what loaded."""

    env: CliEnv
    selection: Selection
    store: EventStore
    detector: Detector
    problems: int = 0


def hunt_command(
    events: EventsArgument,
    rules: RulesOption,
    output: OutputOption = None,
    store: StoreOption = None,
    max_signals: Annotated[int | None, typer.Option(
        "--max-signals", min=1, help="Cap the alerts of each rule (no cap by default: a sweep "
        "shows everything).")] = None,
    exceptions: ExceptionsOption = None,
    building_blocks: BuildingBlocksOption = False,
) -> None:
    """Run every rule over all the events at once and report the alerts.

    Example: lanner hunt --rules examples/rules examples/events
    """
    session = _open(rules, events, store, exceptions, building_blocks)
    with session.store:
        reports = hunt(session.detector, session.selection.rules, max_signals=max_signals,
                       progress=_progress(session.env))
        _finish(session, reports, output)


def replay_command(
    events: EventsArgument,
    rules: RulesOption,
    start: Annotated[str, typer.Option(
        "--from", help="Start of the range: ISO time (2026-11-20T09:00:00Z) or date math "
        "(now-7d).", show_default=False)],
    end: Annotated[str, typer.Option(
        "--to", help="End of the range, as --from.")] = "now",
    output: OutputOption = None,
    store: StoreOption = None,
    exceptions: ExceptionsOption = None,
    building_blocks: BuildingBlocksOption = False,
) -> None:
    """Run each rule's schedule over a past range at full speed, as Kibana would have run it.

    Every run searches its own window (`from`, `to`, `interval` and `max_signals` of the rule,
    catch-up included); alerts seen by overlapping windows are kept once.

    Example: lanner replay --rules examples/rules --from 2026-11-20T09:00:00Z
    --to 2026-11-20T11:00:00Z examples/events
    """
    now = datetime.datetime.now(datetime.UTC)
    try:
        first, last = parse_date(start, now=now), parse_date(end, now=now)
    except DateMathError as error:
        raise typer.BadParameter(str(error)) from error
    if first >= last:
        raise typer.BadParameter(f"--from {start} is not before --to {end}")
    session = _open(rules, events, store, exceptions, building_blocks)
    with session.store:
        reports = replay(session.detector, session.selection.rules, start=first, end=last,
                         progress=_progress(session.env))
        session.env.err.print(f"replayed {len(reports)} rule run(s) from {first:%Y-%m-%d %H:%M:%S}"
                              f" to {last:%Y-%m-%d %H:%M:%S} UTC")
        _finish(session, reports, output)


def serve_command(
    rules: RulesOption,
    watch: Annotated[Path, typer.Option(
        "--watch", help="Folder to watch: new event files, and lines appended to .ndjson files, "
        "are ingested as they arrive.", show_default=False)],
    store: Annotated[Path, typer.Option(
        "--store", help="DuckDB file for events, alerts and the run log; a restart goes on "
        "where it stopped.", show_default=False)],
    poll: Annotated[float, typer.Option(
        "--poll", min=0.1, help="Seconds between looks at the folder.")] = 5.0,
    once: Annotated[bool, typer.Option(
        "--once", help="Ingest and run the due rules once, then exit (for cron).")] = False,
    exceptions: ExceptionsOption = None,
    building_blocks: BuildingBlocksOption = False,
) -> None:
    """Run the rules continuously, each on its own schedule, over events as they arrive.

    Stop with Ctrl-C. Example: lanner serve --rules examples/rules --watch incoming/
    --store lanner.duckdb
    """
    session = _open(rules, [], store, exceptions, building_blocks, enabled_only=True)
    service = DetectionService(session.detector, session.selection.rules,
                               watch=FolderWatch(session.store, watch))
    env = session.env
    with session.store:
        if once:
            _show_tick(env, service.tick(utc_now()))
            return
        stop = threading.Event()
        env.err.print(f"watching {watch}; Ctrl-C to stop")
        try:
            service.serve(stop, poll=datetime.timedelta(seconds=poll),
                          on_tick=lambda tick: _show_tick(env, tick))
        except KeyboardInterrupt:
            stop.set()
            env.err.print("stopped")


def _show_tick(env: CliEnv, tick: Tick) -> None:
    ingested = tick.ingested
    for bad in ingested.bad_lines:
        env.err.print(f"[yellow]bad line[/] {bad}", highlight=False)
    if not ingested.events and not tick.runs:
        return
    created = sum(len(run.created) for run in tick.runs)
    env.err.print(f"{tick.at:%H:%M:%S} ingested {ingested.events} event(s); ran "
                  f"{len(tick.runs)} rule(s): {created} new alert(s)")
    for run in tick.runs:
        if run.error or run.warnings:
            env.err.print(run_failures([run]))
        if run.created:
            env.out.print(alerts_table(run.created_alerts))


def _open(rule_paths: list[Path], events: list[Path], store_path: Path | None,
          exception_paths: list[Path] | None, building_blocks: bool, *,
          enabled_only: bool = False) -> _Session:
    env = CliEnv.default()
    loaded, errors = load_rules(rule_paths)
    for error in errors:
        env.err.print(f"[red]rule not loaded[/]: {error}", highlight=False)
    selection = select_rules(loaded, building_blocks=building_blocks,
                             disabled=not enabled_only)
    _account_rules(env, selection, len(errors))
    exceptions: ExceptionLists | None = None
    if exception_paths:
        exceptions = load_exception_lists(exception_paths)
        for problem in exceptions.problems:
            env.err.print(f"[yellow]exception not loaded[/]: {problem}", highlight=False)
    store = EventStore(store_path)
    if events:
        files = find_event_files(events)
        report = store.ingest_files(files)
        for bad in report.bad_lines:
            env.err.print(f"[yellow]bad line[/] {bad}", highlight=False)
        env.err.print(f"loaded {report.events:,} events from {len(files)} file(s)"
                      + (f", {len(report.bad_lines)} bad line(s)" if report.bad_lines else ""))
    detector = Detector(DuckDBBackend(store), AlertStore(store.con), exceptions)
    return _Session(env, selection, store, detector, problems=len(errors))


def _account_rules(env: CliEnv, selection: Selection, failed: int) -> None:
    reasons: dict[str, int] = {}
    for _, reason in selection.skipped:
        reasons[reason] = reasons.get(reason, 0) + 1
    skipped = "; ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
    env.err.print(f"running {len(selection.rules)} rule(s)"
                  + (f", skipped {len(selection.skipped)}: {skipped}" if skipped else "")
                  + (f", {failed} not loaded" if failed else ""))


def _progress(env: CliEnv) -> Callable[..., None]:
    def show(_rule: object, report: RunReport) -> None:
        if report.error:
            env.err.print(f"[red]rule failed[/]: {report.rule.name}: {report.error}",
                          highlight=False)
    return show


def _finish(session: _Session, reports: list[RunReport], output: Path | None) -> None:
    env = session.env
    alerts = [alert for report in reports for alert in report.created_alerts]
    if output is not None:
        with output.open("wb") as stream:
            for alert in alerts:
                stream.write(orjson.dumps(alert, option=orjson.OPT_NON_STR_KEYS) + b"\n")
        env.err.print(f"wrote {len(alerts)} alert(s) to {output}")
    env.out.print(alerts_table(alerts))
    failures = run_failures(reports)
    if failures is not None:
        env.err.print(failures)
    if session.problems or any(report.error for report in reports):
        raise typer.Exit(ExitCode.PROBLEMS)
