"""The `lanner` command: subcommands, options, and the one place errors become exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from lanner import __version__, eql, kql
from lanner.cli import ending
from lanner.cli.alerts import alerts_app
from lanner.cli.detect import (
    EngineOption,
    SparkMasterOption,
    hunt_command,
    lake_readable,
    replay_command,
    serve_command,
)
from lanner.cli.env import CliEnv, ExitCode
from lanner.cli.help import INPUT_FORMATS, LannerGroup
from lanner.cli.render import query_issue
from lanner.cli.rules import SchemaOption, StrictOption, rules_app
from lanner.cli.stores import opening_store
from lanner.cli.terminal import data
from lanner.engine.client import DEFAULT_SPARK_MASTER
from lanner.eql.schema import FieldSchema
from lanner.errors import LannerError
from lanner.store import find_event_files

app = typer.Typer(
    name="lanner",
    help="Run Elastic Security EQL detection rules over ECS event data, "
    "with Elasticsearch's semantics and no Elasticsearch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LannerGroup,
)
app.add_typer(rules_app, name="rules")


def _schema(enabled: bool) -> FieldSchema | None:
    return FieldSchema.default() if enabled else None


def _version(value: bool) -> None:
    if value:
        CliEnv.default().out.print(f"lanner {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Lanner: Elastic EQL detection rules, run anywhere."""


@app.command("validate-query")
def validate_query(
    query: Annotated[str, typer.Argument(
        help="An EQL query, quoted for the shell; '-' reads it from standard input.",
        metavar="QUERY",
        show_default=False)],
    schema: SchemaOption = True,
    strict: StrictOption = False,
    canonical: Annotated[bool, typer.Option(
        "--print", help="Print the query in canonical form when it is valid.")] = False,
) -> None:
    """Parse and check one EQL query; exit with 1 if it has an error.

    Example: lanner validate-query 'process where process.name : "bitsadmin.exe"'
    """
    env = CliEnv.default()
    text = sys.stdin.read() if query == "-" else query
    issues = eql.validate(text, _schema(schema))
    for issue in issues:
        env.err.print(query_issue(text, issue))
    has_errors = any(i.severity is eql.Severity.ERROR for i in issues)
    if not has_errors:
        parsed = eql.parse(text)
        if canonical:
            env.out.print(eql.to_text(parsed), markup=False)
        else:
            kind = {"EventQuery": "event query", "Sequence": "sequence",
                    "Sample": "sample"}[type(parsed).__name__]
            env.err.print(f"valid {kind}" + (f", {len(issues)} warning(s)" if issues else ""))
    failed = has_errors or (strict and bool(issues))
    raise typer.Exit(ExitCode.PROBLEMS if failed else ExitCode.OK)


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(
        help="An EQL query (a KQL query with --kql), quoted for the shell.", show_default=False,
        metavar="QUERY")],
    events: Annotated[list[str] | None, typer.Argument(
        help=f"Event files or folders, searched recursively: {INPUT_FORMATS}; '-' reads "
        "standard input. With --engine spark, NDJSON and Parquet files, folders and Hadoop "
        "URIs are read by Spark.", show_default=False, metavar="EVENTS")] = None,
    store_path: Annotated[Path | None, typer.Option(
        "--store", metavar="FILE", show_default=False,
        help="Search the events of this DuckDB file (`lanner hunt --store` wrote it); EVENTS "
        "given too are added to it first, as `lanner hunt --store` adds them.")] = None,
    index: Annotated[str, typer.Option(
        "--index", metavar="PATTERN",
        help="Index pattern to search, as in Elasticsearch (comma lists, *).")] = "*",
    size: Annotated[int, typer.Option(
        "--size", metavar="N", help="Most events or sequences to return.")] = 10,
    head: Annotated[bool | None, typer.Option(
        "--head/--tail", show_default=False,
        help="EQL: return the earliest matches instead of the latest (default --tail).")
    ] = None,
    tiebreaker: Annotated[str | None, typer.Option(
        "--tiebreaker", metavar="FIELD",
        help="EQL: field that orders events with the same timestamp.")] = None,
    timestamp_field: Annotated[str | None, typer.Option(
        "--timestamp-field", metavar="FIELD", show_default=False,
        help="EQL: field holding each event's time (default @timestamp).")] = None,
    engine: EngineOption = "duckdb",
    spark_master: SparkMasterOption = DEFAULT_SPARK_MASTER,
    use_kql: Annotated[bool, typer.Option(
        "--kql", help="QUERY is KQL (Kibana's query language), compiled as Kibana's detection "
        "engine compiles it; the response is _search's, oldest events first.")] = False,
) -> None:
    """Run one EQL (or, with --kql, KQL) query over event files (loaded into an in-memory
    store) or a store file.

    Prints the response as Elasticsearch's _eql/search (or _search) would, as JSON on standard
    output; what was loaded, and every malformed line with its file and line, goes to
    standard error.

    Example: lanner search 'process where process.name : "cmd.exe"' events.ndjson.gz logs/
    Example: lanner search --kql 'process.name:cmd.exe and not user.name:*' logs/
    """
    from lanner.engine.client import connect

    env = CliEnv.default()
    if use_kql:
        for given, name in ((head is not None, "--head/--tail"),
                            (tiebreaker is not None, "--tiebreaker"),
                            (timestamp_field is not None, "--timestamp-field")):
            if given:
                raise typer.BadParameter("orders EQL results only; a KQL search answers as "
                                         "_search does, oldest events first", param_hint=name)
    paths = events or []
    if not paths and store_path is None:
        raise typer.BadParameter("give event files or folders, or --store FILE",
                                 param_hint="EVENTS")
    if store_path is not None and not store_path.is_file():
        raise typer.BadParameter(f"no store at {store_path}", param_hint="--store")
    lake = engine == "spark" and store_path is None and lake_readable(paths)
    with opening_store(store_path):
        client = connect(store_path, engine=engine, spark_master=spark_master,
                         paths=paths if lake else None)
    with client:
        if client.lake:
            report = client.lake.report
        else:
            files = find_event_files(paths)
            report = client.store.ingest_files(files)
        for bad in report.bad_lines:
            env.err.print(data(bad))
        if paths:
            env.err.print(f"loaded {report.events} events from {len(report.files)} file(s)"
                          + (f", {len(report.bad_lines)} bad line(s)"
                             if report.bad_lines else ""), markup=False)
        if store_path is not None:
            env.err.print(data(f"searching {client.store.count()} events in {store_path}"))
        try:
            if use_kql:
                response = client.search(index=index, kql=query, size=size)
            else:
                response = client.eql.search(index=index, query=query, size=size,
                                             result_position="head" if head else "tail",
                                             tiebreaker_field=tiebreaker,
                                             timestamp_field=timestamp_field or "@timestamp")
        except (eql.EqlError, kql.KqlError) as error:
            env.err.print(query_issue(query, error.as_issue()))
            raise typer.Exit(ExitCode.PROBLEMS) from error
    env.out.print_json(json.dumps(response, default=str))


app.command("hunt")(hunt_command)
app.command("replay")(replay_command)
app.command("serve")(serve_command)
app.add_typer(alerts_app, name="alerts")

cache_app = typer.Typer(help="Lanner's on-disk caches: loaded rules and their compiled SQL.",
                        no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("clear")
def cache_clear_command() -> None:
    """Remove the caches of loaded rules and of their compiled SQL; the next hunt rebuilds
    them.

    The caches are under $XDG_CACHE_HOME/lanner (by default ~/.cache/lanner: `rules` and
    `sql`); LANNER_CACHE=off turns them off.
    """
    from lanner.rules import cache

    removed = cache.clear()
    CliEnv.default().out.print(f"removed {removed} cache file(s) from {cache.cache_root()}")


def main() -> NoReturn:
    """Entry point of the `lanner` script: Lanner's own errors become a message and a code;
    the process ends without freeing the results the command kept (lanner.cli.ending)."""
    ending.hold()
    code: int | str | None = 0
    try:
        app()
    except LannerError as error:
        CliEnv.default().err.print(data(f"lanner: {error}", lines=True), highlight=False)
        code = ExitCode.FAILURE
    except SystemExit as leaving:
        code = leaving.code
    ending.end(code)
