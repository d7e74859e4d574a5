"""`lanner hunt`, `lanner replay` and `lanner serve`: rules over events, alerts out.

All three load rules and events the same way and run through lanner.detection. Hunt and
replay end with the same account: what loaded, what did not and why, the alerts by rule with
an ATT&CK heatmap, and the report files asked for. Results go to standard output; notes,
progress and problems to standard error.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from rich.text import Text

from lanner.cli import ending
from lanner.cli.env import CliEnv, ExitCode
from lanner.cli.help import INPUT_FORMATS
from lanner.cli.progress import Feedback, JsonLog, ProgressBar
from lanner.cli.render import alerts_table, run_failures, slowest_rules, tactic_heatmap
from lanner.cli.report import HuntResult, ReportError, report_format, write_report
from lanner.cli.report.model import alert_count, group_by_rule, severity_counts, shown_count
from lanner.cli.selection import (
    AttackOption,
    RuleIdOption,
    SeverityOption,
    TagOption,
    rule_filter,
)
from lanner.cli.stores import opening_store
from lanner.cli.terminal import data, visible
from lanner.detection.datemath import DateMathError
from lanner.detection.datemath import parse as parse_date
from lanner.detection.exceptions import ExceptionLists, load_exception_lists
from lanner.detection.fields import fields_read
from lanner.detection.hunt import Selection, hunt, replay, select_rules
from lanner.detection.run import Detector, RunReport
from lanner.detection.serve import DetectionService, OutsideWindows, Tick, utc_now
from lanner.engine.backends.base import Backend
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.engine.client import (
    DEFAULT_SPARK_MASTER,
    ENGINES,
    make_backend,
    memory_backend_soon,
)
from lanner.rules import RuleFilter, load_rules
from lanner.store import EventStore, IngestReport, find_event_files
from lanner.store.alerts import AlertStore
from lanner.store.watch import FolderWatch

# Bad lines printed in the text account; the JSON log lists every one.
SHOWN_BAD_LINES = 20
# Input bytes above which a hunt keeps its events in a scratch database on disk: the rows of
# 1M generated events (2 GB of NDJSON) take about 2 GB of memory in an in-memory store.
SCRATCH_INPUT_BYTES = 512 * 1024 * 1024
# Files `--engine spark` has Spark read itself (NDJSON, compressed NDJSON, Parquet).

RulesOption = Annotated[list[Path], typer.Option(
    "--rules", "-r", help="Rule files (.toml, Kibana .ndjson export) or folders; repeatable.",
    show_default=False)]
EventsArgument = Annotated[list[str], typer.Argument(
    help=f"Event files or folders, searched recursively: {INPUT_FORMATS}; '-' reads "
    "standard input. With --engine spark, NDJSON and Parquet files, folders and any Hadoop "
    "URI (s3a://, hdfs://) are read by Spark itself.", show_default=False, metavar="EVENTS")]
OutputOption = Annotated[list[Path] | None, typer.Option(
    "--output", "-o", help="Write a report, its format told by the name: .ndjson alerts as "
    "Kibana stores them, .csv a timeline, .html a self-contained report, .layer.json an "
    "ATT&CK Navigator layer; repeatable.", show_default=False)]
StoreOption = Annotated[Path | None, typer.Option(
    "--store", help="Keep events and alerts in this DuckDB file (reused by later runs and "
    "by `lanner alerts`); in memory when left out.")]
ExceptionsOption = Annotated[list[Path] | None, typer.Option(
    "--exceptions", help="Kibana exception-list exports (.ndjson) or TOML exception files "
    "that rules' exceptions_list refer to; repeatable.")]
EngineOption = Annotated[str, typer.Option(
    "--engine", help=f"Where searches run: {' or '.join(ENGINES)} (spark needs lanner\\[spark]).")]
SparkMasterOption = Annotated[str, typer.Option(
    "--spark-master", help="The Spark master URL, with --engine spark.")]
BuildingBlocksOption = Annotated[bool, typer.Option(
    "--building-blocks", help="Run building-block rules too (left out by default, as their "
    "alerts are hidden in Kibana).")]
IndexOption = Annotated[str | None, typer.Option(
    "--index", help="Put every event in this index (e.g. logs-endpoint.events.process-"
    "default), whatever its _index or data_stream fields say: rules see events by index "
    "pattern.", show_default=False)]
QuietOption = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress bar and no account: only the alerts and problems.")]


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


LogFormatOption = Annotated[LogFormat, typer.Option(
    "--log-format", help="text: a progress bar and an account for people; json: one JSON "
    "object a line on standard error, and the summary as JSON on standard output.")]
ProfileOption = Annotated[bool, typer.Option(
    "--profile", help="Show the slowest rules with their times.")]


@dataclass
class _View:
    """How a command talks: its consoles, its feedback while running, and its verbosity."""

    env: CliEnv
    feedback: Feedback
    quiet: bool = False

    @classmethod
    def create(cls, quiet: bool = False, log_format: LogFormat = LogFormat.TEXT) -> _View:
        env = CliEnv.default()
        if log_format is LogFormat.JSON:
            return cls(env, JsonLog(env.err), quiet=True)
        show_bar = not quiet and env.err.is_terminal
        return cls(env, ProgressBar(env.err) if show_bar else Feedback(), quiet=quiet)

    @property
    def log(self) -> JsonLog | None:
        return self.feedback if isinstance(self.feedback, JsonLog) else None

    def note(self, message: str) -> None:
        """A line of the account: for people, so neither when quiet nor in JSON."""
        if not self.quiet:
            self.env.err.print(data(message), highlight=False)

    def problem(self, label: str, message: str, *, style: str = "yellow",
                **fields: Any) -> None:
        """Something that went wrong: always said, as a JSON line in JSON mode."""
        if self.log is not None:
            self.log.log(label.replace(" ", "_"), message=message, **fields)
        else:
            self.env.err.print(Text.assemble((label, style), ": ", visible(message)))


@dataclass
class _Session:
    """Rules, store and detector of one command, with the account of what loaded."""

    view: _View
    selection: Selection
    store: EventStore
    detector: Detector
    not_loaded: list[str] = field(default_factory=list)
    ingested: IngestReport = field(default_factory=IngestReport)
    reading_seconds: float = 0.0


def hunt_command(
    events: EventsArgument,
    rules: RulesOption,
    output: OutputOption = None,
    store: StoreOption = None,
    index: IndexOption = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="Only events at or after this time: ISO (2026-11-20T09:00:00Z) or "
        "date math (now-7d), on each rule's timestamp.", show_default=False)] = None,
    until: Annotated[str | None, typer.Option(
        "--until", help="Only events at or before this time, as --since.",
        show_default=False)] = None,
    max_signals: Annotated[int | None, typer.Option(
        "--max-signals", min=1, help="Cap the alerts of each rule (no cap by default: a sweep "
        "shows everything).")] = None,
    exceptions: ExceptionsOption = None,
    building_blocks: BuildingBlocksOption = False,
    tags: TagOption = None,
    severity: SeverityOption = None,
    attack: AttackOption = None,
    rule_ids: RuleIdOption = None,
    quiet: QuietOption = False,
    log_format: LogFormatOption = LogFormat.TEXT,
    profile: ProfileOption = False,
    engine: EngineOption = "duckdb",
    spark_master: SparkMasterOption = DEFAULT_SPARK_MASTER,
) -> None:
    """Run every rule over all the events at once and report the alerts.

    Example: lanner hunt --rules examples/rules examples/events -o report.html
    """
    _check_outputs(output)
    now = datetime.datetime.now(datetime.UTC)
    first = _moment(since, "--since", now)
    last = _moment(until, "--until", now)
    if first and last and first > last:
        raise typer.BadParameter(f"--since {since} is after --until {until}")
    criteria = rule_filter(tags, severity, attack, rule_ids)
    view = _View.create(quiet, log_format)
    with view.feedback:
        session = _open(view, rules, events, store, exceptions, building_blocks,
                        index=index, criteria=criteria, engine=engine,
                        spark_master=spark_master, keep_alerts=store is not None)
        with session.store:
            _require_events(session, events)
            view.feedback.start_rules(len(session.selection.rules))
            clock = time.perf_counter()
            reports = hunt(session.detector, session.selection.rules, max_signals=max_signals,
                           started_at=now, progress=view.feedback.ran, since=first, until=last)
            running = time.perf_counter() - clock
    _finish(session, reports, output, started_at=now, running_seconds=running,
            profile=profile)


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
    index: IndexOption = None,
    exceptions: ExceptionsOption = None,
    building_blocks: BuildingBlocksOption = False,
    quiet: QuietOption = False,
    log_format: LogFormatOption = LogFormat.TEXT,
) -> None:
    """Run each rule's schedule over a past range at full speed, as Kibana would have run it.

    Every run searches its own window (`from`, `to`, `interval` and `max_signals` of the rule,
    catch-up included); alerts seen by overlapping windows are kept once.

    Example: lanner replay --rules examples/rules --from 2026-11-20T09:00:00Z
    --to 2026-11-20T11:00:00Z examples/events
    """
    _check_outputs(output)
    now = datetime.datetime.now(datetime.UTC)
    first, last = _moment(start, "--from", now), _moment(end, "--to", now)
    if first is None or last is None or first >= last:
        raise typer.BadParameter(f"--from {start} is not before --to {end}")
    view = _View.create(quiet, log_format)
    with view.feedback:
        session = _open(view, rules, events, store, exceptions, building_blocks, index=index)
        with session.store:
            _require_events(session, events)
            view.feedback.start_rules(len(session.selection.rules))
            clock = time.perf_counter()
            reports = replay(session.detector, session.selection.rules, start=first, end=last,
                             progress=view.feedback.ran)
            running = time.perf_counter() - clock
    view.note(f"replayed {len(reports)} rule run(s) from {first:%Y-%m-%d %H:%M:%S} to "
              f"{last:%Y-%m-%d %H:%M:%S} UTC")
    _finish(session, reports, output, started_at=now, running_seconds=running)


def serve_command(
    rules: RulesOption,
    store: Annotated[Path, typer.Option(
        "--store", help="DuckDB file for events, alerts and the run log; a restart goes on "
        "where it stopped.", show_default=False)],
    watch: Annotated[Path | None, typer.Option(
        "--watch", help="Folder to watch: new event files, and lines appended to .ndjson files, "
        "are ingested as they arrive.", show_default=False)] = None,
    poll: Annotated[float, typer.Option(
        "--poll", min=0.1, help="Seconds between looks at the folder.")] = 5.0,
    once: Annotated[bool, typer.Option(
        "--once", help="Ingest and run the due rules once, then exit (for cron).")] = False,
    exceptions: ExceptionsOption = None,
    building_blocks: BuildingBlocksOption = False,
    http: Annotated[str | None, typer.Option(
        "--http", metavar="HOST:PORT", help="Serve Elasticsearch's REST API (bulk ingest, "
        "search, EQL, the alerts) here; the default without --watch is 127.0.0.1:9200.",
        show_default=False)] = None,
    user: Annotated[list[str] | None, typer.Option(
        "--user", metavar="NAME:PASSWORD", help="A basic-auth user of --http (repeatable).",
        show_default=False)] = None,
    api_key: Annotated[list[str] | None, typer.Option(
        "--api-key", help="An API key --http accepts (repeatable).", show_default=False)] = None,
    tls_cert: Annotated[Path | None, typer.Option(
        "--tls-cert", help="Certificate (PEM) for HTTPS.", show_default=False)] = None,
    tls_key: Annotated[Path | None, typer.Option(
        "--tls-key", help="Private key (PEM) for HTTPS.", show_default=False)] = None,
    max_body_bytes: Annotated[int, typer.Option(
        "--max-body-bytes", min=1, help="Largest request body --http takes (413 past it).")
    ] = 100 * 1024 * 1024,
) -> None:
    """Run the rules continuously, each on its own schedule, over events as they arrive.

    Stop with Ctrl-C. Example: lanner serve --rules examples/rules --watch incoming/
    --store lanner.duckdb; or, with Elastic's shippers and clients sending to it:
    lanner serve --rules examples/rules --store lanner.duckdb --http 127.0.0.1:9200
    """
    view = _View.create()
    session = _open(view, rules, [], store, exceptions, building_blocks, enabled_only=True,
                    require_rules=False)
    view.note(_rules_line(session))
    if http is not None or watch is None:
        _serve_http(view, session, watch, http, user, api_key, tls_cert, tls_key,
                    max_body_bytes, poll)
        return
    service = DetectionService(session.detector, session.selection.rules,
                               watch=FolderWatch(session.store, watch))
    env = view.env
    replay_args = [*(f"--rules {path}" for path in rules), str(watch)]
    with session.store:
        if once:
            _show_tick(env, service.tick(utc_now()), replay_args)
            return
        stop = threading.Event()
        env.err.print(data(f"watching {watch}; Ctrl-C to stop"))
        try:
            service.serve(stop, poll=datetime.timedelta(seconds=poll),
                          on_tick=lambda tick: _show_tick(env, tick, replay_args))
        except KeyboardInterrupt:
            stop.set()
            env.err.print("stopped")


def _serve_http(view: _View, session: _Session, watch: Path | None, http: str | None,
                users: list[str] | None, api_keys: list[str] | None, tls_cert: Path | None,
                tls_key: Path | None, max_body_bytes: int, poll: float) -> None:
    """`serve --http`: the REST API and the scheduler in this one process (lanner.server)."""
    from lanner.server.app import Credentials
    from lanner.server.run import (
        DEFAULT_ADDRESS,
        ServerConfigError,
        parse_address,
        parse_users,
        serve_http,
    )
    from lanner.server.service import Service
    from lanner.web import web_routes

    env = view.env
    try:
        host, port = parse_address(http or DEFAULT_ADDRESS)
        credentials = Credentials(parse_users(users), api_keys)
    except ServerConfigError as error:
        _refuse(view, str(error))
    service = Service(session.store, session.selection.rules,
                      exceptions=session.detector.exceptions,
                      watch=FolderWatch(session.store, watch) if watch else None,
                      max_body_bytes=max_body_bytes)
    replay_args: list[str] = []
    service.start(poll=datetime.timedelta(seconds=poll),
                  on_tick=lambda tick: _show_tick(env, tick, replay_args))
    scheme = "https" if tls_cert else "http"
    env.err.print(data(f"serving {scheme}://{http or DEFAULT_ADDRESS}; Ctrl-C to stop"))
    try:
        serve_http(service, host, port, credentials=credentials, mounts=web_routes(service),
                   tls_cert=str(tls_cert) if tls_cert else None,
                   tls_key=str(tls_key) if tls_key else None)
    except ServerConfigError as error:
        service.close()
        _refuse(view, str(error))
    service.close()
    env.err.print("stopped")


def _show_tick(env: CliEnv, tick: Tick, replay_args: list[str]) -> None:
    ingested = tick.ingested
    for bad in ingested.bad_lines:
        env.err.print(Text.assemble(("bad line", "yellow"), " ", visible(bad)), highlight=False)
    if not ingested.events and not tick.runs:
        return
    created = [alert for run in tick.runs for alert in run.created_alerts]
    env.err.print(f"{tick.at:%H:%M:%S} ingested {ingested.events} event(s); ran "
                  f"{len(tick.runs)} rule(s): {alert_count(created, 'new')}")
    failures = run_failures(tick.runs)
    if failures is not None:
        env.err.print(failures)
    if tick.outside is not None:
        env.err.print(data(_outside_hint(tick.outside, ingested.events, replay_args)),
                      highlight=False)
    if created:
        env.out.print(alerts_table(created))


def _outside_hint(outside: OutsideWindows, ingested: int, replay_args: list[str]) -> str:
    """How many new events no rule's window reached, and the replay that would run the rules
    over them: from their first minute to the minute after their last."""
    start = outside.first.replace(second=0, microsecond=0)
    end = outside.last.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return (f"{outside.events} of the {ingested} event(s) ingested fell outside every "
            "rule's window "
            f"({outside.windows_start:%Y-%m-%d %H:%M:%S} to {outside.windows_end:%H:%M:%S} UTC; "
            f"their @timestamp runs from {outside.first:%Y-%m-%d %H:%M:%S} to "
            f"{outside.last:%Y-%m-%d %H:%M:%S}); to run the rules over them: lanner replay "
            f"--from {start:{stamp}} --to {end:{stamp}} {' '.join(replay_args)}")


def _check_outputs(outputs: list[Path] | None) -> None:
    """Refuse a report name of unknown format before any work is done."""
    for path in outputs or ():
        try:
            report_format(path)
        except ReportError as error:
            raise typer.BadParameter(str(error), param_hint="'--output'") from error


def _moment(text: str | None, option: str, now: datetime.datetime) -> datetime.datetime | None:
    if text is None:
        return None
    try:
        return parse_date(text, now=now)
    except DateMathError as error:
        raise typer.BadParameter(str(error), param_hint=f"'{option}'") from error


def _open(view: _View, rule_paths: list[Path], events: list[str], store_path: Path | None,
          exception_paths: list[Path] | None, building_blocks: bool, *,
          index: str | None = None, criteria: RuleFilter | None = None,
          enabled_only: bool = False, engine: str = "duckdb",
          spark_master: str = DEFAULT_SPARK_MASTER, keep_alerts: bool = True,
          require_rules: bool = True) -> _Session:
    """Rules, exceptions and events, read and ready to run. `keep_alerts`: an alert store
    de-duplicates against earlier runs; a hunt of files alone has none to remember, and
    storing its alerts only costs memory (1M events, 10,165 alerts: 0.2 GB).

    Rules and inputs are checked before any event is read: no rule to run (`require_rules`;
    otherwise only no rule at all) or an input that does not exist is a usage error. A store
    in memory is made while the rules load."""
    early = memory_backend_soon() if store_path is None and engine == "duckdb" else None
    made: DuckDBBackend | None = None
    try:
        loaded, errors = load_rules(rule_paths)
        not_loaded = [str(error) for error in errors]
        for problem in not_loaded:
            view.problem("rule not loaded", problem, style="red")
        selection = _filtered(select_rules(loaded, building_blocks=building_blocks,
                                           disabled=not enabled_only), criteria)
        if not selection.rules and (require_rules or not selection.skipped):
            _refuse(view, _no_rules(rule_paths, selection, not_loaded))
        _check_inputs(view, events)
        exceptions: ExceptionLists | None = None
        if exception_paths:
            exceptions = load_exception_lists(exception_paths)
            for problem in exceptions.problems:
                view.problem("exception not loaded", str(problem))
        if engine == "spark" and events and store_path is None and lake_readable(events):
            return _open_lake(view, selection, events, exceptions, index=index,
                              spark_master=spark_master, not_loaded=not_loaded,
                              keep_alerts=keep_alerts)
        files = find_event_files(events)
        large = _large(files)
        if early is not None and not large:
            made = _taken(early)
    finally:
        if early is not None and made is None:
            _discard(early)
    backend: Backend
    if made is not None:
        store, backend = made.store, made
    else:
        with opening_store(store_path):
            store = EventStore(store_path) if store_path is not None or not large \
                else EventStore.scratch()
        backend = make_backend(store, engine, spark_master)
    detector = Detector(backend, AlertStore(store.con) if keep_alerts else None, exceptions)
    session = _Session(view, selection, store, detector, not_loaded=not_loaded)
    if events:
        clock = time.perf_counter()
        session.ingested = store.ingest_files(files, index,
                                              progress=view.feedback.reading,
                                              fields=fields_read(selection.rules, exceptions))
        session.reading_seconds = time.perf_counter() - clock
    return session


def _taken(early: Future[DuckDBBackend]) -> DuckDBBackend | None:
    """The backend made early, or None if making it failed (the caller then makes its own,
    and meets the error there)."""
    try:
        return early.result()
    except Exception:
        return None


def _discard(early: Future[DuckDBBackend]) -> None:
    """Close the store made early that the command does not use."""
    with contextlib.suppress(Exception):
        early.result().store.close()


def _refuse(view: _View, message: str) -> NoReturn:
    """End the command with a usage error: one sentence on standard error (a JSON `error`
    line in JSON mode), exit code 2."""
    if view.log is not None:
        view.log.log("error", message=message)
    else:
        view.env.err.print(data(f"lanner: {message}"), highlight=False)
    raise typer.Exit(ExitCode.USAGE)


def _no_rules(paths: list[Path], selection: Selection, not_loaded: list[str]) -> str:
    """Why there is no rule to run, in one sentence."""
    if selection.skipped:
        reasons: dict[str, int] = {}
        for _, reason in selection.skipped:
            reasons[reason] = reasons.get(reason, 0) + 1
        return (f"no rules to run: all {len(selection.skipped)} rule(s) were left out: "
                + "; ".join(f"{count} {reason}" for reason, count in sorted(reasons.items())))
    if len(not_loaded) == 1:
        return f"no rules to run: {not_loaded[0]}"
    if not_loaded:
        return f"no rules to run: none of {len(not_loaded)} rule files loaded (see above)"
    names = ", ".join(map(str, paths))
    return f"no rules to run: {names} {'holds' if len(paths) == 1 else 'hold'} no rule files"


def _check_inputs(view: _View, events: list[str]) -> None:
    """Refuse, before reading anything, an input path that does not exist or a folder
    without event files (standard input and URIs are taken as given)."""
    for event in events:
        if event == "-" or "://" in event or event.startswith("file:"):
            continue
        path = Path(event)
        if not path.exists():
            _refuse(view, f"no events to read: {event}: no such file or folder")
        if path.is_dir() and not find_event_files([path]):
            _refuse(view, f"no events to read: {event} holds no event files")


def _require_events(session: _Session, events: list[str]) -> None:
    """A hunt or replay whose inputs gave no event is a usage error: the account of what was
    read (with every bad line), then one sentence saying why nothing loaded."""
    ingested = session.ingested
    if ingested.events:
        return
    _account(session)
    inputs = events[0] if len(events) == 1 else f"{len(events)} inputs"
    inputs = "standard input" if inputs == "-" else inputs
    bad = ingested.bad_lines
    if bad:
        not_json = all(line.message.startswith("malformed JSON") for line in bad)
        why = (f"{len(bad):,} unreadable line(s)" + (" (not JSON)" if not_json else "")
               + ", see above")
    else:
        why = "no documents in " + ("it" if len(events) == 1 else "them")
    _refuse(session.view, f"no events loaded from {inputs}: {why}")


def lake_readable(events: list[str]) -> bool:
    """Whether Spark can read every input itself: URIs, or NDJSON and Parquet files (a `.json`
    file may be a JSON array, and standard input, EVTX and zip are the store's to read)."""
    from lanner.engine.backends.spark_lake import LAKE_SUFFIXES  # only asked with Spark

    def readable(event: str) -> bool:
        if "://" in event or event.startswith("file:"):
            return True
        if event == "-":
            return False
        return all(file.name.endswith(LAKE_SUFFIXES) for file in find_event_files([event]))

    return all(readable(event) for event in events)


def _open_lake(view: _View, selection: Selection, events: list[str],
               exceptions: ExceptionLists | None, *, index: str | None, spark_master: str,
               not_loaded: list[str], keep_alerts: bool) -> _Session:
    """A session whose events Spark reads and types on its executors (a data lake); the
    in-memory store holds no events, only the alerts when they are kept."""
    from lanner.engine.client import read_lake

    store = EventStore()
    clock = time.perf_counter()
    view.feedback.reading(", ".join(events), 0)
    backend = read_lake(events, spark_master, index=index)
    detector = Detector(backend, AlertStore(store.con) if keep_alerts else None, exceptions)
    session = _Session(view, selection, store, detector, not_loaded=not_loaded)
    session.ingested = backend.report
    session.reading_seconds = time.perf_counter() - clock
    view.feedback.reading(None, backend.report.events)
    return session


def _large(files: list[Path]) -> bool:
    """Whether the input files are large enough for a scratch store on disk (bounded
    memory) rather than one in memory (standard input is not counted)."""
    total = 0
    for file in files:
        with contextlib.suppress(OSError):  # `-`, or a file the ingest reports unreadable
            total += file.stat().st_size
    return total > SCRATCH_INPUT_BYTES


def _filtered(selection: Selection, criteria: RuleFilter | None) -> Selection:
    """The selection minus the rules the --tag/--severity/--attack/--rule-id filter leaves
    out, which join the skipped ones with the filter's reason."""
    if criteria is None or criteria.is_empty:
        return selection
    kept = Selection(skipped=list(selection.skipped))
    for rule in selection.rules:
        reason = criteria.reason_excluded(rule)
        if reason is None:
            kept.rules.append(rule)
        else:
            kept.skipped.append((rule, reason))
    return kept


def _rules_line(session: _Session) -> str:
    """`running N rule(s), skipped M: <count> <reason>; …, K not loaded`."""
    selection = session.selection
    reasons: dict[str, int] = {}
    for _, reason in selection.skipped:
        reasons[reason] = reasons.get(reason, 0) + 1
    skipped = "; ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
    failed = len(session.not_loaded)
    return (f"running {len(selection.rules)} rule(s)"
            + (f", skipped {len(selection.skipped)}: {skipped}" if skipped else "")
            + (f", {failed} not loaded" if failed else ""))


def _finish(session: _Session, reports: list[RunReport], outputs: list[Path] | None, *,
            started_at: datetime.datetime, running_seconds: float,
            profile: bool = False) -> None:
    ending.keep_to_the_end(session, reports)  # a noisy hunt's alerts take 0.3 s to free
    view, env = session.view, session.view.env
    ingested = session.ingested
    result = HuntResult(
        alerts=[alert for report in reports for alert in report.created_alerts],
        reports=reports, rules=session.selection.rules, skipped=session.selection.skipped,
        not_loaded=session.not_loaded, files=ingested.files, events=ingested.events,
        bad_lines=ingested.bad_lines, without_index=ingested.without_index,
        started_at=started_at, reading_seconds=session.reading_seconds,
        running_seconds=running_seconds)
    _account(session)
    written = []
    for path in outputs or ():
        description, holds = write_report(path, result)
        written.append({"path": str(path), "format": description, "items": holds.items,
                        "holds": holds.what})
        view.note(f"wrote {description} to {path}: {holds.what}")
    already = shown_count(alert for report in reports for alert in report.known_alerts)
    failed = session.not_loaded or any(report.error for report in reports)
    if view.log is not None:
        view.log.log("summary", alerts=len(result.shown_alerts), already_stored=already)
        summary = _summary(result, written, profile)
        summary["alerts"]["already_stored"] = already
        env.out.print(orjson.dumps(summary, default=str).decode(), markup=False,
                      highlight=False, soft_wrap=True)
    else:
        env.out.print(alerts_table(result.alerts, already_stored=already))
        heatmap = None if view.quiet else tactic_heatmap(result.alerts)
        if heatmap is not None:
            env.out.print(heatmap)
        if profile:
            env.out.print(slowest_rules(reports))
        failures = run_failures(reports)
        if failures is not None:
            env.err.print(failures)
    if failed:
        raise typer.Exit(ExitCode.PROBLEMS)


def _account(session: _Session) -> None:
    """What loaded and what did not: rules, then inputs with their bad lines."""
    view, ingested, seconds = session.view, session.ingested, session.reading_seconds
    view.note(_rules_line(session))
    events = ingested.events
    rate = f", {events / seconds:,.0f} events/s" if seconds > 0 and events else ""
    bad = ingested.bad_lines
    view.note(f"loaded {events:,} events from {len(ingested.files)} file(s)"
              + (f", {len(bad)} bad line(s)" if bad else "") + f" in {seconds:.1f} s{rate}")
    log = view.log
    for line in bad if log is not None else bad[:SHOWN_BAD_LINES]:
        view.problem("bad line", str(line), file=line.path, line=line.line)
    if log is None and len(bad) > SHOWN_BAD_LINES:
        view.problem("bad line", f"… and {len(bad) - SHOWN_BAD_LINES} more (--log-format json "
                     "lists them all)")
    coerced = ingested.coercions
    if coerced:
        fields = ", ".join(f"{name} ({failures.count})" for name, failures in coerced.items())
        view.problem("warning", f"values Elasticsearch would reject were stored as null: "
                     f"{fields}", fields={n: f.count for n, f in coerced.items()})
        for name, failures in coerced.items():  # the first few of each field, placed
            for example in failures.examples:
                view.problem("bad value", f"{example}: field [{name}] of type "
                             f"[{failures.es_type}]", file=example.path, line=example.line)
            if failures.count > len(failures.examples):
                view.problem("bad value", f"… and {failures.count - len(failures.examples)} "
                             f"more of field [{name}]")
    if ingested.without_index:
        view.problem("warning", f"{ingested.without_index:,} event(s) have no index (no _index, "
                     "data_stream.* or agent.type/event.module tells it): rules restricted to "
                     "index patterns will not see them; give one with --index",
                     events=ingested.without_index)


def _summary(result: HuntResult, written: list[dict[str, Any]],
             profile: bool) -> dict[str, Any]:
    """The JSON document of `--log-format json`: the account and the alerts by rule."""
    summary: dict[str, Any] = {
        "rules": {
            "run": len(result.rules),
            "skipped": [{"rule_id": rule.rule_id, "name": rule.name, "reason": reason}
                        for rule, reason in result.skipped],
            "not_loaded": result.not_loaded,
            "failed": [{"rule_id": r.rule.rule_id, "name": r.rule.name, "error": r.error}
                       for r in result.reports if r.error],
        },
        "inputs": {"files": result.files, "events": result.events,
                   "bad_lines": len(result.bad_lines), "without_index": result.without_index},
        "alerts": {
            "total": len(result.shown_alerts),
            "documents": len(result.alerts),
            "by_severity": severity_counts(result.alerts),
            "by_rule": [{"rule_id": group.rule_id, "name": group.name,
                         "severity": group.severity, "risk_score": group.risk_score,
                         "alerts": len(group.alerts), "hosts": group.hosts,
                         "users": group.users, "techniques": group.techniques,
                         "first_seen": group.first_seen, "last_seen": group.last_seen}
                        for group in group_by_rule(result.alerts)],
        },
        "outputs": written,
        "seconds": {"reading": round(result.reading_seconds, 3),
                    "rules": round(result.running_seconds, 3)},
    }
    if profile:
        ranked = sorted(result.reports, key=lambda report: report.took, reverse=True)
        summary["slowest_rules"] = [{"rule_id": r.rule.rule_id, "name": r.rule.name,
                                     "seconds": round(r.took, 4), "alerts": len(r.created)}
                                    for r in ranked[:10]]
    return summary
