"""`lanner alerts`: list, show (with the investigation guide) and triage stored alerts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from lanner.cli.env import CliEnv, ExitCode
from lanner.cli.render import ALERT_SEVERITY_STYLES
from lanner.detection.guide import render_guide
from lanner.store import EventStore
from lanner.store.alerts import AlertStore
from lanner.store.documents import field_values

alerts_app = typer.Typer(help="List, show and triage the alerts kept in a store.",
                         no_args_is_help=True)

StoreArgument = Annotated[Path, typer.Option(
    "--store", help="The DuckDB file `lanner hunt --store` or `lanner replay --store` wrote.",
    show_default=False)]


def _open(path: Path) -> tuple[EventStore, AlertStore]:
    if not path.is_file():
        raise typer.BadParameter(f"no store at {path}", param_hint="--store")
    store = EventStore(path)
    return store, AlertStore(store.con)


@alerts_app.command("list")
def list_alerts(
    store: StoreArgument,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule_id.")] = None,
    severity: Annotated[str | None, typer.Option(
        "--min-severity", help="low, medium, high or critical: this severity and above.")
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="Only alerts on this host.")
                    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only alerts for this user.")
                    ] = None,
    tactic: Annotated[str | None, typer.Option(
        "--tactic", help="ATT&CK tactic id or name (TA0002, Execution).")] = None,
    status: Annotated[str | None, typer.Option(
        "--status", help="open, acknowledged or closed.")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="Events at or after this time (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(
        "--until", help="Events at or before this time (ISO 8601).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Most alerts to list.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="NDJSON documents, for tools.")
                       ] = False,
) -> None:
    """List alerts, most severe first.

    Example: lanner alerts list --store hunt.duckdb --min-severity high --status open
    """
    env = CliEnv.default()
    events, alerts = _open(store)
    with events:
        found = alerts.find(rule_id=rule, min_severity=severity, host=host, user=user,
                            tactic=tactic, status=status, since=since, until=until,
                            limit=limit, order="severity")
    if as_json:
        for alert in found:
            env.out.print(orjson.dumps(alert, option=orjson.OPT_NON_STR_KEYS).decode(),
                          markup=False, highlight=False, soft_wrap=True)
        return
    if not found:
        env.out.print("no alerts match")
        return
    table = Table(title=f"{len(found)} alert(s)", title_justify="left")
    for column in ("id", "severity", "status", "rule", "host", "user", "time"):
        table.add_column(column, overflow="fold", no_wrap=column in ("id", "severity"))
    for alert in found:
        severity_text = alert["kibana.alert.severity"]
        table.add_row(alert["kibana.alert.uuid"][:12],
                      Text(severity_text, style=ALERT_SEVERITY_STYLES.get(severity_text, "")),
                      alert["kibana.alert.workflow_status"], alert["kibana.alert.rule.name"],
                      _text(alert, "host.name"), _text(alert, "user.name"),
                      _text(alert, "kibana.alert.original_time"))
    env.out.print(table)


@alerts_app.command("show")
def show_alert(
    alert_id: Annotated[str, typer.Argument(help="The alert id, or a unique prefix of it.",
                                            show_default=False, metavar="ALERT")],
    store: StoreArgument,
) -> None:
    """Show one alert: what fired, on which event, and the rule's investigation guide with
    the alert's values filled in."""
    env = CliEnv.default()
    events, alerts = _open(store)
    with events:
        alert = _one(alerts, alert_id)
    rule = alert.get("kibana.alert.rule.parameters", {})
    env.out.print(Text(alert["kibana.alert.rule.name"], style="bold"))
    env.out.print(alert["kibana.alert.reason"], markup=False)
    facts = Table.grid(padding=(0, 2))
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
    facts.add_row(Text("ATT&CK", style="dim"), "; ".join(tactics + techniques))
    env.out.print(facts)
    note = rule.get("note")
    if note:
        env.out.print(Text("\nInvestigation guide", style="bold underline"))
        env.out.print(Markdown(render_guide(note, None, alert)))


@alerts_app.command("update")
def update_alerts(
    alert_ids: Annotated[list[str], typer.Argument(
        help="Alert ids (or unique prefixes).", show_default=False, metavar="ALERT...")],
    store: StoreArgument,
    status: Annotated[str, typer.Option(
        "--status", help="open, acknowledged or closed.", show_default=False)],
) -> None:
    """Set the workflow status of alerts, as an analyst does in Kibana's alert table."""
    env = CliEnv.default()
    events, alerts = _open(store)
    with events:
        ids = [_one(alerts, alert_id)["kibana.alert.uuid"] for alert_id in alert_ids]
        changed = alerts.set_status(ids, status)
    env.err.print(f"{changed} alert(s) now {status}")


def _one(alerts: AlertStore, prefix: str) -> dict[str, Any]:
    found = alerts.get(prefix)
    if found is not None:
        return found
    matches = [a for a in alerts.find(building_blocks=True)
               if a["kibana.alert.uuid"].startswith(prefix)]
    if len(matches) != 1:
        CliEnv.default().err.print(
            f"{'no alert' if not matches else f'{len(matches)} alerts'} with id {prefix}")
        raise typer.Exit(ExitCode.PROBLEMS)
    return matches[0]


def _text(alert: dict[str, Any], path: str) -> str:
    return ", ".join(map(str, field_values(alert, path)))
