"""`lanner rules`: the detection engineer's commands: validate, list, show and test rules.

`test` is the one CI runs: exit 0 when the rule fires on the events, 1 when it does not (with
the part of the query no event got past), 2 when the rule or the events cannot be used;
`--expect-none` swaps 0 and 1 for false-positive tests.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.table import Table
from rich.text import Text

from lanner import eql
from lanner.cli.env import CliEnv, ExitCode
from lanner.cli.help import INPUT_FORMATS
from lanner.cli.render import ALERT_SEVERITY_STYLES, problem_line, summary_line
from lanner.cli.selection import (
    AttackOption,
    RuleIdOption,
    SeverityOption,
    TagOption,
    UnresolvedReference,
    resolve,
    rule_filter,
)
from lanner.cli.terminal import data, visible
from lanner.cli.why_aggregation import render_aggregation_explanation
from lanner.detection.aggregate_explain import AGGREGATING_TYPES, explain_aggregation
from lanner.detection.checks import engine_issues
from lanner.detection.explain import (
    BlockerKind,
    Connective,
    Explanation,
    StageAnalysis,
    explain_kql_rule,
    explain_rule,
)
from lanner.detection.guide import render_guide
from lanner.detection.hunt import not_runnable, select_rules
from lanner.detection.run import Detector
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.engine.plan import QueryKind
from lanner.eql import ast
from lanner.eql.printer import AND, NOT, PRIMARY, precedence, to_text
from lanner.eql.schema import FieldSchema
from lanner.rules import Rule, load_rules, validate_rules
from lanner.rules.model import NEEDS_ML, SEVERITIES
from lanner.store import EventStore, find_event_files
from lanner.store.alerts import AlertStore

rules_app = typer.Typer(help="Check, list, show and test detection rules.",
                        no_args_is_help=True)

SHORT_ID = 8  # rule_id characters in tables, as git shortens hashes
CLAUSE_WIDTH = 110  # longer clauses are shortened in explanations; `rules show` has them whole


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


PathsArgument = Annotated[list[Path], typer.Argument(
    help="Rule files (.toml, Kibana .ndjson export) or folders, searched recursively.",
    show_default=False, metavar="PATH")]
SchemaOption = Annotated[
    bool,
    typer.Option("--schema/--no-schema",
                 help="Check field names against ECS, Elastic Defend, Endgame and Beats fields."),
]
StrictOption = Annotated[
    bool, typer.Option("--strict", help="Exit with 1 on warnings too, not only on errors."),
]
RuleArgument = Annotated[str, typer.Argument(
    help="The rule: a rule file, or a rule_id (or its first characters) or name found under "
    "--rules.", show_default=False, metavar="RULE")]
FindInOption = Annotated[list[Path] | None, typer.Option(
    "--rules", "-r", help="Rule files or folders to find RULE in by rule_id or name; "
    "repeatable.", show_default=False)]


# ------------------------------------------------------------------------------------------
# validate


@rules_app.command("validate")
def rules_validate(
    paths: PathsArgument,
    schema: SchemaOption = True,
    warnings: Annotated[bool, typer.Option(
        "--warnings/--no-warnings", help="Show warnings, such as unknown fields.")] = True,
    strict: StrictOption = False,
    output_format: Annotated[OutputFormat, typer.Option(
        "--format", help="text: one line per problem; json: a document for tools.")
    ] = OutputFormat.TEXT,
) -> None:
    """Parse and check the EQL query of every rule; exit with 1 if any rule has an error.

    Prints one line per problem, `file:line:col: severity: message`, then a summary.

    Example: lanner rules validate examples/rules
    """
    env = CliEnv.default()
    rules, load_errors = load_rules(paths)
    reports = validate_rules(rules, load_errors, FieldSchema.default() if schema else None,
                             engine_check=engine_issues)
    problems = [p for r in reports for p in r.problems
                if warnings or p.severity is eql.Severity.ERROR]
    if output_format is OutputFormat.JSON:
        document = {
            "rules": len([r for r in reports if r.skipped is None]),
            "with_errors": sum(r.has_errors for r in reports),
            "with_warnings": sum(r.has_warnings for r in reports),
            "skipped": [{"path": r.path, "reason": r.skipped} for r in reports if r.skipped],
            "problems": [{"path": p.path, "line": p.line, "col": p.col,
                          "severity": p.severity.value, "code": p.code, "message": p.message}
                         for p in problems],
        }
        env.out.print_json(json.dumps(document))
    else:
        for problem in problems:
            env.out.print(problem_line(problem))
        env.out.print(summary_line(reports))
    failed = any(r.has_errors for r in reports) or (
        strict and any(r.has_warnings for r in reports))
    raise typer.Exit(ExitCode.PROBLEMS if failed else ExitCode.OK)


# ------------------------------------------------------------------------------------------
# list


@rules_app.command("list")
def rules_list(
    paths: PathsArgument,
    tags: TagOption = None,
    severity: SeverityOption = None,
    attack: AttackOption = None,
    rule_ids: RuleIdOption = None,
    search: Annotated[str | None, typer.Option(
        "--search", "-s", help="Only rules whose name, description or rule_id contains this "
        "text (case-insensitive).", show_default=False)] = None,
    building_blocks: Annotated[bool, typer.Option(
        "--building-blocks", help="List building-block rules too.")] = False,
    deprecated: Annotated[bool, typer.Option(
        "--deprecated", help="List deprecated rules too.")] = False,
    as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON array of rules on standard output, for tools.")] = False,
) -> None:
    """List the rules under the paths that pass the filters, most severe first; a rule Lanner
    cannot run (machine_learning: needs Elastic ML) is listed with the reason.

    What was left out, and why, goes to standard error; exit 1 if a rule file did not load.

    Example: lanner rules list examples/rules --severity medium --attack T1059
    """
    env = CliEnv.default()
    criteria = rule_filter(tags, severity, attack, rule_ids)
    loaded, errors = load_rules(paths)
    for error in errors:
        env.err.print(data(f"rule not loaded: {error}"))
    selection = select_rules(loaded, building_blocks=building_blocks, deprecated=deprecated)
    candidates = list(selection.rules)
    skipped = []
    for rule, reason in selection.skipped:
        # a rule Lanner cannot run (ML) is listed all the same, its type saying why
        if (reason == not_runnable(rule) and (deprecated or rule.maturity != "deprecated")
                and (building_blocks or not rule.is_building_block)):
            candidates.append(rule)
        else:
            skipped.append(reason)
    listed = []
    for rule in candidates:
        reason = criteria.reason_excluded(rule) or _search_excluded(rule, search)
        if reason is None:
            listed.append(rule)
        else:
            skipped.append(reason)
    listed.sort(key=lambda r: (-SEVERITIES.index(r.severity), -r.risk_score, r.name))
    if as_json:
        env.out.print_json(json.dumps([_rule_summary(rule) for rule in listed],
                                      ensure_ascii=False))
    else:
        env.out.print(_rules_table(listed))
    env.err.print(data(f"{len(listed)} rule(s) listed" + _left_out(skipped)
                       + (f", {len(errors)} not loaded" if errors else "")))
    raise typer.Exit(ExitCode.PROBLEMS if errors else ExitCode.OK)


def _search_excluded(rule: Rule, text: str | None) -> str | None:
    if not text:
        return None
    wanted = text.casefold()
    if any(wanted in field.casefold() for field in (rule.name, rule.description, rule.rule_id)):
        return None
    return f"no match for {text!r}"


def _left_out(reasons: Sequence[str]) -> str:
    if not reasons:
        return ""
    counts: dict[str, int] = {}
    for reason in reasons:
        counts[reason] = counts.get(reason, 0) + 1
    return f", {len(reasons)} left out: " + "; ".join(
        f"{count} {reason}" for reason, count in sorted(counts.items()))


def _rules_table(rules: Sequence[Rule]) -> Table | Text:
    if not rules:
        return Text("no rules")
    table = Table(title=f"{len(rules)} rule(s); rule_id shortened: `rules show` takes the "
                  "first characters", title_justify="left")
    table.add_column("name", ratio=3, overflow="fold", min_width=12)
    table.add_column("severity", no_wrap=True)
    table.add_column("risk", justify="right", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("tags", ratio=4, overflow="fold", style="dim")
    table.add_column("ATT&CK", ratio=2, overflow="fold")
    table.add_column("rule_id", no_wrap=True)
    for rule in rules:
        table.add_row(data(rule.name), data(rule.severity, ALERT_SEVERITY_STYLES.get(
            rule.severity, "")), str(rule.risk_score), data(_rule_type(rule)),
            data(", ".join(rule.tags)), data(" ".join(_attack_ids(rule))),
            data(rule.rule_id[:SHORT_ID]))
    return table


def _attack_ids(rule: Rule) -> list[str]:
    """Tactics, then techniques, a technique written once through its sub-techniques."""
    techniques = rule.technique_ids
    narrowest = [t for t in techniques if not any(o.startswith(t + ".") for o in techniques)]
    return [*rule.tactic_ids, *narrowest]


def _rule_type(rule: Rule) -> str:
    """The type, and for EQL the query's shape: what a reader needs to know to test the rule;
    a rule Lanner cannot run says why (an ML rule: needs Elastic ML: not run)."""
    if rule.needs_ml:
        return f"machine_learning ({NEEDS_ML})"
    if not rule.is_eql:
        refusal = not_runnable(rule)
        language = f" ({rule.language})" if rule.language not in (None, rule.type) else ""
        return rule.type + language + (f" [{refusal}]" if refusal else "") + (
            " (bb)" if rule.is_building_block else "")
    shape = rule.query.lstrip().split(None, 1)[0].lower() if rule.query.strip() else ""
    kind = shape if shape in ("sequence", "sample") else "event"
    return f"eql {kind}" + (" (bb)" if rule.is_building_block else "")


def _rule_summary(rule: Rule) -> dict[str, Any]:
    return {"rule_id": rule.rule_id, "name": rule.name, "severity": rule.severity,
            "risk_score": rule.risk_score, "type": rule.type, "language": rule.language,
            "tags": list(rule.tags), "tactics": list(rule.tactic_ids),
            "techniques": list(rule.technique_ids),
            "building_block": rule.is_building_block, "enabled": rule.enabled,
            "maturity": rule.maturity, "path": rule.path,
            "not_run": not_runnable(rule)}


# ------------------------------------------------------------------------------------------
# show


@rules_app.command("show")
def rules_show(rule_ref: RuleArgument, rules: FindInOption = None) -> None:
    """Show a rule: its metadata, its query laid out for reading, and its investigation guide.

    Example: lanner rules show 265db8f5 --rules examples/rules
    """
    env = CliEnv.default()
    rule = _find_rule(env, rule_ref, rules)
    out = env.out
    out.print(data(rule.name, "bold"))
    for label, value in _metadata(rule):
        line = Text(f"  {label:<13}", style="dim")
        line.append(visible(value))
        out.print(line)
    if rule.description:
        out.print()
        out.print(data(rule.description.strip(), lines=True))
    for title, body in _query_sections(rule):
        out.print()
        out.print(Text(title, style="bold"))
        out.print(data(_indented(body, "  "), lines=True))
    if rule.false_positives:
        out.print()
        out.print(Text("False positives", style="bold"))
        for item in rule.false_positives:
            out.print(data(f"  - {' '.join(item.split())}"))
    if rule.note:
        out.print()
        out.print(Text("Investigation guide", style="bold"))
        out.print(data(render_guide(rule.note, rule.transform).strip(), lines=True))
    if rule.references:
        out.print()
        out.print(Text("References", style="bold"))
        for reference in rule.references:
            out.print(data(f"  {reference}"))


def _query_sections(rule: Rule) -> list[tuple[str, str]]:
    """What the rule searches, by type: the query (EQL laid out, KQL and ES|QL as written),
    the Kibana filters, the indicator side of a threat_match rule, an ML rule's jobs."""
    if rule.needs_ml:
        return [("Machine learning", f"jobs: {', '.join(rule.machine_learning_job_id)}\n"
                 f"anomaly threshold: {rule.anomaly_threshold}\n{NEEDS_ML}")]
    language = "EQL" if rule.is_eql else (rule.language or "kuery").replace("kuery", "KQL")
    try:
        text = layout_query(rule.query) if rule.is_eql else _dedented(rule.query)
    except eql.EqlError:
        text = _dedented(rule.query)
    sections = [(f"Query ({language})", text)]
    if rule.filters:
        sections.append(("Filters", "\n".join(_filter_line(f) for f in rule.filters)))
    if rule.threshold is not None:
        threshold = rule.threshold
        lines = [f"group by: {', '.join(threshold.field) or '(all events)'}",
                 f"at least {threshold.value} event(s)"]
        lines += [f"at least {c.value} distinct {c.field}" for c in threshold.cardinality]
        sections.append(("Threshold", "\n".join(lines)))
    if rule.new_terms_fields:
        sections.append(("New terms", f"fields: {', '.join(rule.new_terms_fields)}\n"
                                      f"history from {rule.history_window_start}"))
    if rule.type == "threat_match":
        mapping = "\n".join(" and ".join(f"{e.field} == {e.value}" for e in group)
                            for group in rule.threat_mapping)
        sections.append(("Indicators", f"index: {', '.join(rule.threat_index)}\n"
                         f"query: {_dedented(rule.threat_query or '')}\n"
                         + "".join(f"filter: {_filter_line(f)}\n" for f in rule.threat_filters)
                         + f"indicator path: {rule.threat_indicator_path or 'threat.indicator'}"
                         f"\nmatch (one line per alternative):\n{mapping}"))
    return sections


def _dedented(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).strip()


def _filter_line(item: Mapping[str, Any]) -> str:
    meta = item.get("meta") or {}
    query = item.get("query") or {k: v for k, v in item.items() if k not in ("meta", "$state")}
    flags = " (negated)" if meta.get("negate") else ""
    flags += " (disabled)" if meta.get("disabled") else ""
    return json.dumps(query, ensure_ascii=False) + flags


def _metadata(rule: Rule) -> list[tuple[str, str]]:
    flags = [flag for flag, on in (("building block", rule.is_building_block),
                                   ("disabled", not rule.enabled),
                                   (rule.maturity or "", rule.maturity not in (None, "production")))
             if on]
    rows = [("rule_id", rule.rule_id), ("file", rule.path or "")]
    rows += [("type", _rule_type(rule) + (f" ({', '.join(flags)})" if flags else "")),
             ("severity", f"{rule.severity}, risk score {rule.risk_score}"),
             ("index", ", ".join(rule.index) or "(Kibana's default indices)"),
             ("schedule", f"every {rule.interval}, from {rule.from_} to {rule.to}, "
                          f"at most {rule.max_signals} alerts a run"),
             ("tags", ", ".join(rule.tags))]
    for threat in rule.threat:
        techniques = ", ".join(f"{ref.id} {ref.name}" for technique in threat.techniques
                               for ref in (technique, *technique.subtechniques))
        rows.append(("ATT&CK", f"{threat.tactic.id} {threat.tactic.name}"
                               + (f": {techniques}" if techniques else "")))
    rows += [("author", ", ".join(rule.author)), ("license", rule.license or ""),
             ("version", str(rule.version))]
    return [(label, value) for label, value in rows if value]


# ------------------------------------------------------------------------------------------
# test


@rules_app.command("test")
def rules_test(
    rule_ref: RuleArgument,
    events: Annotated[list[Path], typer.Argument(
        help=f"Event files or folders: {INPUT_FORMATS}.",
        show_default=False, metavar="EVENTS", exists=True)],
    rules: FindInOption = None,
    expect_none: Annotated[bool, typer.Option(
        "--expect-none", help="A false-positive test: pass (exit 0) when the rule does NOT "
        "fire, fail (exit 1) when it does.")] = False,
    closest: Annotated[int, typer.Option(
        "--closest", min=0, help="How many of the closest events to show when the rule does "
        "not fire.")] = 3,
) -> None:
    """Run one rule over events, as `lanner hunt` would: say whether it fires, and when it
    does not, which part of its query no event got past, with the closest events.

    Exit codes for CI: 0 the rule fires, 1 it does not (swapped by --expect-none), 2 the
    rule or the events could not be used.

    Example: lanner rules test examples/rules/update_orchestrator_hijack.toml
    examples/events/update_orchestrator_hijack.ndjson
    """
    env = CliEnv.default()
    rule = _find_rule(env, rule_ref, rules)
    refusal = not_runnable(rule)
    if refusal:
        _usage_error(env, f"{rule.name} cannot run: {refusal}")
    with EventStore(None) as store:
        files = find_event_files(events)
        report = store.ingest_files(files)
        for bad in report.bad_lines:
            env.err.print(data(f"bad line {bad}"))
        backend = DuckDBBackend(store)
        run = Detector(backend, AlertStore(store.con)).hunt(rule)
        if run.error:
            _usage_error(env, f"the rule failed to run: {run.error}")
        alerts = [alert for alert in run.created_alerts
                  if not alert.get("kibana.alert.building_block_type")]
        out = env.out
        out.print(data(f"{rule.name} ({rule.rule_id})", "bold"))
        out.print(f"{report.events} event(s) from {len(files)} file(s)", markup=False)
        if alerts:
            out.print(_fired(alerts, run.created_alerts, expect_none))
            raise typer.Exit(ExitCode.PROBLEMS if expect_none else ExitCode.OK)
        if expect_none:
            out.print(Text("PASS  no alerts, as expected", style="green"))
            raise typer.Exit(ExitCode.OK)
        out.print(Text("FAIL  the rule does not fire", style="bold red"))
        if rule.type in AGGREGATING_TYPES:  # past its query: its fields, groups or terms
            why = explain_aggregation(backend, rule, now=datetime.datetime.now(datetime.UTC),
                                      closest=closest)
            if why.past_query:
                out.print(render_aggregation_explanation(why))
                raise typer.Exit(ExitCode.PROBLEMS)
        if rule.is_kql:
            explanation = explain_kql_rule(backend, rule, closest=closest)
        elif rule.is_eql:
            explanation = explain_rule(backend, rule, closest=closest)
        else:
            raise typer.Exit(ExitCode.PROBLEMS)
        out.print(render_explanation(explanation, exceptions_applied=explanation.matches > 0))
        raise typer.Exit(ExitCode.PROBLEMS)


def _fired(alerts: Sequence[Mapping[str, Any]], every_alert: Sequence[Mapping[str, Any]],
           expect_none: bool) -> Text:
    """The verdict and one line per alert: its time and the events it was built from."""
    text = Text()
    if expect_none:
        text.append(f"FAIL  the rule fires: {len(alerts)} alert(s), expected none\n",
                    style="bold red")
    else:
        text.append(f"PASS  the rule fires: {len(alerts)} alert(s)\n", style="green")
    members: dict[str, list[str]] = {}
    for alert in every_alert:
        group = alert.get("kibana.alert.group.id")
        if group and alert.get("kibana.alert.building_block_type"):
            members.setdefault(group, []).append(_event_label(alert))
    for alert in alerts:
        group = alert.get("kibana.alert.group.id")
        built_from = members.get(group, []) if group else [_event_label(alert)]
        when = alert.get("kibana.alert.original_time") or alert.get("@timestamp")
        text.append(visible(f"  {when}  " + " -> ".join(built_from)) + "\n")
    text.rstrip()
    return text


def _event_label(alert: Mapping[str, Any]) -> str:
    event = alert.get("event")
    if isinstance(event, Mapping) and event.get("id"):
        return str(event["id"])
    ancestors = alert.get("kibana.alert.ancestors") or [{}]
    return str(ancestors[-1].get("id", "?"))


def render_explanation(explanation: Explanation, *, exceptions_applied: bool = False) -> Text:
    """Where the candidates ran out, in words, then the counts that show it."""
    text = Text()
    if explanation.blocker is None:
        if exceptions_applied:
            text.append(f"  the query matches {explanation.matches}, but the rule's "
                        "exceptions removed every alert\n")
        return _finished(text)
    blocker = explanation.blocker
    text.append(f"  searched {explanation.events_in_scope} event(s) in "
                f"{visible(', '.join(explanation.indices)) or 'no index'}\n")
    failed = explanation.failed_stage
    if blocker.kind is BlockerKind.CLAUSE and failed is not None and failed.failed is not None:
        where = f"stage {failed.position + 1}: " if explanation.kind != QueryKind.EVENT else ""
        text.append(f"  stopped at {where}", style="bold")
        text.append(shorten(failed.clauses[failed.failed].text), style="bold red")
        text.append("\n")
    else:
        text.append(f"  stopped at the {blocker.kind.value}: ", style="bold")
        text.append(visible(blocker.message) + "\n", style="bold red")
        for detail in blocker.details:
            text.append(f"    {visible(detail)}\n", style="dim")
    for number, stage in enumerate(explanation.stages):
        if explanation.kind != QueryKind.EVENT:
            role = "until" if stage.is_until else ("missing" if stage.is_missing else "stage")
            label = f"{role} {stage.position + 1}" if role == "stage" else role
            text.append(f"  {label}: {stage.matches} event(s) match its filter\n")
        if number == blocker.stage and blocker.kind is BlockerKind.CLAUSE:
            _stage_counts(text, stage)
    return _finished(text)


def _stage_counts(text: Text, stage: StageAnalysis) -> None:
    indent = "    "
    text.append(f"{indent}events meeting each clause and every clause above it:\n", style="dim")
    for number, clause in enumerate(stage.clauses):
        if stage.failed is not None and number > stage.failed:
            break
        failed = number == stage.failed
        mark = "x" if failed else " "
        text.append(f"{indent}{mark} {clause.given_previous:>6}  ",
                    style="bold red" if failed else "")
        text.append(shorten(clause.text))
        if failed:
            text.append(f"   ({clause.alone} on its own)", style="dim")
        text.append("\n")
    if stage.failed is None:
        return
    if stage.parts:
        _parts(text, stage, indent + "  ")
    if stage.closest:
        total = len(stage.clauses)
        text.append(f"{indent}closest events:\n", style="dim")
        for event in stage.closest:
            text.append(f"{indent}  {visible(event.label)}", style="bold")
            when = visible(event.timestamp or "no timestamp")
            text.append(f" ({when}) meets {event.satisfied} of {total} clauses; fails ")
            text.append("; ".join(shorten(clause, 60) for clause in event.failed) + "\n")
            for name, values in event.values:
                shown = json.dumps(list(values) if len(values) != 1 else values[0],
                                   ensure_ascii=False)
                text.append(f"{indent}    {visible(name)} = {shorten(shown)}\n", style="dim")


def _parts(text: Text, stage: StageAnalysis, indent: str) -> None:
    before = stage.clauses[stage.failed - 1].given_previous if stage.failed else None
    among = f"of the {before} event(s) above" if before is not None else "of the events"
    if stage.connective is Connective.EXCLUSION:
        heading = f"every one {among} is excluded by it; they meet:"
        parts = [part for part in stage.parts if part.given_previous]
    elif stage.connective is Connective.ANY:
        heading = f"none of its {len(stage.parts)} alternatives holds for any {among[3:]}:"
        parts = list(stage.parts)
    else:
        heading = f"its parts, {among}:"
        parts = list(stage.parts)
    text.append(f"{indent}{heading}\n", style="dim")
    for part in parts[:12]:
        text.append(f"{indent}  {part.given_previous:>6}  {shorten(part.text, 80)}"
                    f"   ({part.alone} on its own)\n")
    if len(parts) > 12:
        text.append(f"{indent}  … {len(parts) - 12} more\n", style="dim")


def _finished(text: Text) -> Text:
    text.rstrip()
    return text


def shorten(clause: str, width: int = CLAUSE_WIDTH) -> str:
    """One line of at most `width` characters: a long pattern list is cut with an ellipsis;
    control characters shown (lanner.cli.terminal)."""
    flat = visible(" ".join(clause.split()))
    return flat if len(flat) <= width else flat[:width - 1] + "…"


# ------------------------------------------------------------------------------------------
# finding one rule


def _find_rule(env: CliEnv, reference: str, search_paths: list[Path] | None) -> Rule:
    """A rule file, or the one rule under --rules whose rule_id, rule_id prefix or name is
    `reference` (a name may also be given in part, when only one rule has it)."""
    path = Path(reference)
    if path.is_file():
        loaded, errors = load_rules([path])
        if errors:
            _usage_error(env, f"rule not loaded: {errors[0]}")
        if len(loaded) == 1:
            return loaded[0]
        if not search_paths:
            _usage_error(env, f"{path} holds {len(loaded)} rules: name one of them, with "
                              f"--rules {path}")
    if not search_paths:
        _usage_error(env, f"{reference} is not a rule file; give --rules PATH to find it by "
                          "rule_id or name")
    loaded, errors = load_rules(search_paths)
    for error in errors:
        env.err.print(data(f"rule not loaded: {error}"))
    try:
        return resolve(reference, loaded, what="rule", id_of=lambda rule: rule.rule_id,
                       name_of=lambda rule: rule.name,
                       where=" under " + ", ".join(map(str, search_paths)))
    except UnresolvedReference as error:
        _usage_error(env, str(error))


def _usage_error(env: CliEnv, message: str) -> NoReturn:
    env.err.print(data(f"lanner: {message}"))
    raise typer.Exit(ExitCode.USAGE)


# ------------------------------------------------------------------------------------------
# the query laid out for reading


def layout_query(text: str, width: int = 96) -> str:
    """The query in canonical EQL over several lines: one clause of a long `and`/`or` per line,
    long pattern lists one pattern per line; parsing it gives back the same query."""
    query = eql.parse(text)
    if isinstance(query, ast.EventQuery):
        lines = _filter_lines(query.filter, "", width)
        lines += [eql.to_text(pipe) for pipe in query.pipes]
        return "\n".join(lines)
    if not isinstance(query, ast.Sequence | ast.Sample):
        return to_text(query)
    head = "sequence" if isinstance(query, ast.Sequence) else "sample"
    if query.keys:
        head += " by " + ", ".join(to_text(key) for key in query.keys)
    if isinstance(query, ast.Sequence) and query.maxspan is not None:
        head += f" with maxspan={to_text(query.maxspan)}"
    lines = [head]
    for stage in query.stages:
        lines += _stage_lines(stage, "  ", width)
    if isinstance(query, ast.Sequence) and query.until is not None:
        lines += _stage_lines(query.until, "", width, prefix="until ")
    lines += [to_text(pipe) for pipe in query.pipes]
    return "\n".join(lines)


def _stage_lines(stage: ast.Stage, indent: str, width: int, prefix: str = "") -> list[str]:
    one_line = indent + prefix + to_text(stage)
    if len(one_line) <= width:
        return [one_line]
    tail = ""
    if stage.keys:
        tail += " by " + ", ".join(to_text(key) for key in stage.keys)
    if stage.runs != 1:
        tail += f" with runs={stage.runs}"
    opening = indent + prefix + ("![" if stage.missing else "[")
    body = _filter_lines(stage.filter, indent + "  ", width)
    return [opening + body[0].lstrip(), *body[1:], indent + "]" + tail]


def _filter_lines(node: ast.EventFilter, indent: str, width: int) -> list[str]:
    text = to_text(node)
    if len(indent) + len(text) <= width:
        return [indent + text]
    category = to_text(ast.EventFilter(node.category, ast.Boolean(True))).removesuffix(" true")
    return [indent + category, *_expr_lines(node.condition, indent + "  ", width)]


def _expr_lines(node: ast.Expr, indent: str, width: int) -> list[str]:
    text = to_text(node)
    if len(indent) + len(text) <= width:
        return [indent + text]
    if isinstance(node, ast.And | ast.Or):
        joiner, minimum = (" and", NOT) if isinstance(node, ast.And) else (" or", AND)
        lines: list[str] = []
        for number, term in enumerate(node.terms):
            term_lines = _grouped(term, minimum, indent, width)
            if number < len(node.terms) - 1:
                term_lines[-1] += joiner
            lines += term_lines
        return lines
    if isinstance(node, ast.Not):
        inner = _grouped(node.expr, NOT, indent, width)
        return [indent + "not " + inner[0][len(indent):], *inner[1:]]
    if isinstance(node, ast.Match | ast.In) and len(
            node.patterns if isinstance(node, ast.Match) else node.values) > 1:
        subject = to_text(node.expr)
        if precedence(node.expr) < PRIMARY:
            subject = f"({subject})"
        if isinstance(node, ast.Match):
            operator, values = node.kind.value, node.patterns
        else:
            operator = ("not " if node.negated else "") + ("in~" if node.insensitive else "in")
            values = node.values
        items = [f"{indent}  {to_text(value)}," for value in values]
        items[-1] = items[-1].removesuffix(",")
        return [f"{indent}{subject} {operator} (", *items, f"{indent})"]
    return [indent + text]


def _grouped(node: ast.Expr, minimum: int, indent: str, width: int) -> list[str]:
    """A term in parentheses where precedence needs them, spread over lines when long."""
    if precedence(node) >= minimum:
        return _expr_lines(node, indent, width)
    text = to_text(node)
    if len(indent) + len(text) + 2 <= width:
        return [f"{indent}({text})"]
    return [f"{indent}(", *_expr_lines(node, indent + "  ", width), f"{indent})"]


def _indented(text: str, indent: str) -> str:
    return "\n".join(indent + line for line in text.splitlines())
