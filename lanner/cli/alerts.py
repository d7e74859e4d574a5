"""`lanner alerts`: list, show (with the investigation guide) and triage stored alerts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from lanner.cli.env import CliEnv, ExitCode
from lanner.cli.render import ALERT_SEVERITY_STYLES
from lanner.cli.selection import UnresolvedReference, resolve
from lanner.cli.stores import opening_store
from lanner.cli.terminal import data, visible
from lanner.detection.guide import render_guide
from lanner.store import EventStore
from lanner.store.alerts import AlertFilter, AlertStore, AlertSummary
from lanner.store.documents import field_values
from lanner.store.events import flatten

T = TypeVar("T")

alerts_app = typer.Typer(help="List, show and triage the alerts kept in a store.",
                         no_args_is_help=True)

StoreArgument = Annotated[Path, typer.Option(
    "--store", metavar="FILE", show_default=False,
    help="The DuckDB file `lanner hunt --store` or `lanner replay --store` wrote.")]
# Fields of an alert that are the alert's, not its source event's (`@timestamp` is when the
# alert was made; the event's own time is kibana.alert.original_time).
_ALERT_FIELDS = ("kibana.", "signal.")
_ALERT_ONLY = frozenset({"@timestamp", "event.kind"})


def _open(path: Path) -> tuple[EventStore, AlertStore]:
    if not path.is_file():
        raise typer.BadParameter(f"no store at {path}", param_hint="--store")
    with opening_store(path):
        store = EventStore(path)
    return store, AlertStore(store.con)


@alerts_app.command("list")
def list_alerts(
    store: StoreArgument,
    rule: Annotated[str | None, typer.Option(
        "--rule", metavar="RULE", help="Only this rule's alerts: its rule_id or name, or the "
        "start of its rule_id or part of its name when only one rule has alerts that match.")
    ] = None,
    severity: Annotated[str | None, typer.Option(
        "--min-severity", metavar="SEVERITY",
        help="low, medium, high or critical: this severity and above.")] = None,
    host: Annotated[str | None, typer.Option(
        "--host", metavar="HOST", help="Only alerts on this host.")] = None,
    user: Annotated[str | None, typer.Option(
        "--user", metavar="USER", help="Only alerts for this user.")] = None,
    tactic: Annotated[str | None, typer.Option(
        "--tactic", metavar="TACTIC", help="ATT&CK tactic id or name (TA0002, Execution).")
    ] = None,
    status: Annotated[str | None, typer.Option(
        "--status", metavar="STATUS", help="open, acknowledged or closed.")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="DATE", help="Events at or after this time (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(
        "--until", metavar="DATE", help="Events at or before this time (ISO 8601).")] = None,
    limit: Annotated[int, typer.Option(
        "--limit", metavar="N", min=0, help="Most alerts to list.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="NDJSON documents, for tools.")
                       ] = False,
) -> None:
    """List alerts, most severe first.

    Example: lanner alerts list --store hunt.duckdb --min-severity high --status open
    """
    env = CliEnv.default()
    events, alerts = _open(store)
    with events:
        rule_id = _rule(alerts, rule).rule_id if rule is not None else None
        criteria = AlertFilter(rule_id=rule_id, min_severity=severity, host=host, user=user,
                               tactic=tactic, status=status, since=since, until=until)
        total = alerts.count(criteria)
        found = alerts.find(rule_id=rule_id, min_severity=severity, host=host, user=user,
                            tactic=tactic, status=status, since=since, until=until,
                            limit=limit, order="severity")
    if as_json:
        for alert in found:
            env.out.print(orjson.dumps(alert, option=orjson.OPT_NON_STR_KEYS).decode(),
                          markup=False, highlight=False, soft_wrap=True)
        return
    if not found:
        env.out.print("no alerts match" if not total else
                      f"0 of {total} alert(s) listed (--limit 0)")
        return
    shown = f"{len(found)} of {total}" if total > len(found) else f"{total}"
    table = Table(title=f"{shown} alert(s)", title_justify="left")
    for column in ("id", "severity", "status", "rule", "host", "user", "time"):
        table.add_column(column, overflow="fold", no_wrap=column in ("id", "severity"))
    for alert in found:
        severity_text = alert["kibana.alert.severity"]
        table.add_row(data(alert["kibana.alert.uuid"][:12]),
                      data(severity_text, ALERT_SEVERITY_STYLES.get(severity_text, "")),
                      data(alert["kibana.alert.workflow_status"]),
                      data(alert["kibana.alert.rule.name"]),
                      _text(alert, "host.name"), _text(alert, "user.name"),
                      _text(alert, "kibana.alert.original_time"))
    env.out.print(table, soft_wrap=False)


@alerts_app.command("show")
def show_alert(
    alert_id: Annotated[str, typer.Argument(help="The alert id, or a unique prefix of it.",
                                            show_default=False, metavar="ALERT")],
    store: StoreArgument,
) -> None:
    """Show one alert: what fired, on which event (its fields), and the rule's investigation
    guide with the alert's values filled in."""
    env = CliEnv.default()
    events, alerts = _open(store)
    with events:
        alert = _one(alerts, alert_id)
    rule = alert.get("kibana.alert.rule.parameters", {})
    env.out.print(data(alert["kibana.alert.rule.name"], "bold"))
    env.out.print(data(alert["kibana.alert.reason"], lines=True), soft_wrap=False)
    facts = Table.grid(padding=(0, 2))
    facts.add_column(no_wrap=True)
    facts.add_column(overflow="fold")
    for label, path in (("id", "kibana.alert.uuid"), ("severity", "kibana.alert.severity"),
                        ("risk score", "kibana.alert.risk_score"),
                        ("status", "kibana.alert.workflow_status"),
                        ("event time", "kibana.alert.original_time"),
                        ("host", "host.name"), ("user", "user.name"),
                        ("rule_id", "kibana.alert.rule.rule_id")):
        facts.add_row(Text(label, style="dim"), _text(alert, path))
    techniques = [f"{t['id']} {t['name']}" for threat in alert.get("kibana.alert.rule.threat", [])
                  for t in threat.get("technique", [])]
    tactics = [threat["tactic"]["name"] for threat in alert.get("kibana.alert.rule.threat", [])]
    facts.add_row(Text("ATT&CK", style="dim"), data("; ".join(tactics + techniques)))
    env.out.print(facts, soft_wrap=False)
    fields = _event_fields(alert)
    if fields:
        env.out.print(Text("\nEvent", style="bold underline"))
        env.out.print(fields, soft_wrap=False)
    note = rule.get("note")
    if note:
        env.out.print(Text("\nInvestigation guide", style="bold underline"))
        # The guide as the HTML report renders it (blocks as sections, templates filled);
        # wrapped at the terminal's width, so that no query is cut.
        env.out.print(Markdown(visible(render_guide(note, None, alert), lines=True)),
                      soft_wrap=False)


@alerts_app.command("update")
def update_alerts(
    alert_ids: Annotated[list[str], typer.Argument(
        help="Alert ids (or unique prefixes).", show_default=False, metavar="ALERT...")],
    store: StoreArgument,
    status: Annotated[str, typer.Option(
        "--status", metavar="STATUS", help="open, acknowledged or closed.",
        show_default=False)],
) -> None:
    """Set the workflow status of alerts, as an analyst does in Kibana's alert table."""
    env = CliEnv.default()
    events, alerts = _open(store)
    with events:
        ids = [_one(alerts, alert_id)["kibana.alert.uuid"] for alert_id in alert_ids]
        changed = alerts.set_status(ids, status)
    env.err.print(data(f"{changed} alert(s) now {status}"))


def _one(alerts: AlertStore, reference: str) -> dict[str, Any]:
    """The alert an id or id prefix names; exit 1, saying why, when it names none or several."""
    found = alerts.get(reference)
    if found is not None:
        return found
    ids = [a["kibana.alert.uuid"] for a in alerts.find(building_blocks=True)]
    alert_id = _resolved(lambda: resolve(reference, ids, what="alert", id_of=str))
    found = alerts.get(alert_id)
    assert found is not None
    return found


def _rule(alerts: AlertStore, reference: str) -> AlertSummary:
    """The rule with alerts that a rule_id, a name, or a part of either names, as `lanner
    rules show` finds rules; exit 1, saying why, when it names none or several."""
    rules = {summary.rule_id: summary
             for summary in alerts.summary(AlertFilter(building_blocks=True))}
    return _resolved(lambda: resolve(reference, rules.values(), what="rule",
                                     id_of=lambda r: r.rule_id or "",
                                     name_of=lambda r: r.rule_name or "",
                                     where=" among the rules with alerts"))


def _resolved(find: Callable[[], T]) -> T:
    try:
        return find()
    except UnresolvedReference as error:
        CliEnv.default().err.print(data(error), highlight=False)
        raise typer.Exit(ExitCode.PROBLEMS) from None


def _event_fields(alert: dict[str, Any]) -> Table | None:
    """The source event's fields, as the alert copied them, by name."""
    fields = {name: value for name, value in flatten(alert).items()
              if not name.startswith(_ALERT_FIELDS) and name not in _ALERT_ONLY}
    if not fields:
        return None
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, style="dim")
    table.add_column(overflow="fold")
    for name in sorted(fields):
        value = fields[name]
        shown = ", ".join(map(_plain, value)) if isinstance(value, list) else _plain(value)
        table.add_row(data(name), data(shown))
    return table


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def _text(alert: dict[str, Any], path: str) -> Text:
    return data(", ".join(map(str, field_values(alert, path))))
