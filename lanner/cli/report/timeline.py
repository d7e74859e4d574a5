"""`.csv`: a timeline, one row per alert ordered by event time, for a spreadsheet or Timeline
Explorer. Columns are the facts a responder sorts and filters by, flat text, several values
joined by `; `."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from lanner.cli.report.model import (
    Alert,
    HuntResult,
    Written,
    event_time,
    tactic_names,
    technique_ids,
    values,
)

# Text a spreadsheet would run as a formula: attacker-controlled values (command lines) must
# not execute on the analyst's machine, so such cells get a leading apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _field(path: str) -> Callable[[Alert], str]:
    return lambda alert: "; ".join(values(alert, path))


COLUMNS: tuple[tuple[str, Callable[[Alert], str]], ...] = (
    ("timestamp", event_time),
    ("severity", _field("kibana.alert.severity")),
    ("risk_score", _field("kibana.alert.risk_score")),
    ("rule", _field("kibana.alert.rule.name")),
    ("rule_id", _field("kibana.alert.rule.rule_id")),
    ("host", _field("host.name")),
    ("user", _field("user.name")),
    ("event_category", _field("event.category")),
    ("event_action", _field("event.action")),
    ("process", _field("process.executable")),
    ("command_line", _field("process.command_line")),
    ("parent_process", _field("process.parent.executable")),
    ("file", _field("file.path")),
    ("destination", _field("destination.ip")),
    ("dns_question", _field("dns.question.name")),
    ("tactics", lambda alert: "; ".join(tactic_names(alert))),
    ("techniques", lambda alert: "; ".join(technique_ids(alert))),
    ("reason", _field("kibana.alert.reason")),
    ("alert_id", _field("kibana.alert.uuid")),
    ("event_index", lambda alert: "; ".join(
        str(a.get("index", "")) for a in alert.get("kibana.alert.ancestors", []))),
    ("event_id", lambda alert: "; ".join(
        str(a.get("id", "")) for a in alert.get("kibana.alert.ancestors", []))),
)


def write_timeline(path: Path, result: HuntResult) -> Written:
    """Write the shown alerts, oldest event first, one row each."""
    alerts = sorted(result.shown_alerts, key=lambda a: (event_time(a), a["kibana.alert.uuid"]))
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(name for name, _ in COLUMNS)
        for alert in alerts:
            writer.writerow(_safe(cell(alert)) for _, cell in COLUMNS)
    return Written(len(alerts), f"{len(alerts)} alert(s), one row each")


def _safe(text: str) -> str:
    if text.startswith(_FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
