"""`.html`: one self-contained report to hand over: summary, ATT&CK matrix, alerts by rule,
each rule's investigation guide, the alert timeline, and what did not load.

Self-contained on purpose: it is mailed around and opened on air-gapped machines, so CSS and
the little script are inline, and a Content-Security-Policy forbids every network fetch.
Everything taken from events or rules is escaped; guides are Markdown rendered without raw
HTML (markdown-it, which Rich already brings).
"""

from __future__ import annotations

import datetime
import html
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from markdown_it import MarkdownIt

from lanner import __version__
from lanner.cli.report.model import (
    ATTACK_TACTICS,
    Alert,
    HuntResult,
    RuleGroup,
    TechniqueCount,
    Written,
    event_time,
    group_by_rule,
    severity_counts,
    short_time,
    tactic_position,
    technique_counts,
    values,
)
from lanner.detection.guide import render_guide

# Bad lines listed in the report; the count is always complete.
MAX_BAD_LINES = 500
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")
_SLUG = re.compile(r"[^a-z0-9]+")

_CSS = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --panel: #f6f8fa;
  --critical: #b3261e; --high: #e8590c; --medium: #d4a017; --low: #1c7ed6; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--ink); background: #fff; }
header { padding: 20px 32px; background: #0d1117; color: #f0f6fc; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #9198a1; }
nav { padding: 8px 32px; border-bottom: 1px solid var(--line); background: var(--panel); }
nav a { margin-right: 18px; color: var(--ink); text-decoration: none; font-weight: 600; }
main { padding: 8px 32px 48px; }
section { margin-top: 28px; }
h2 { font-size: 18px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 16px; min-width: 130px;
  background: var(--panel); }
.card b { display: block; font-size: 24px; }
.card span { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--panel); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.wrap { word-break: break-word; }
td.time { white-space: nowrap; }
.sev { display: inline-block; padding: 0 8px; border-radius: 10px; color: #fff;
  font-weight: 600; font-size: 12px; }
.sev-critical { background: var(--critical); } .sev-high { background: var(--high); }
.sev-medium { background: var(--medium); } .sev-low { background: var(--low); }
.matrix { display: flex; gap: 6px; overflow-x: auto; padding-bottom: 8px; }
.tactic { min-width: 118px; flex: 1; }
.tactic h4 { margin: 0 0 6px; font-size: 12px; padding: 6px; background: var(--panel);
  border: 1px solid var(--line); border-radius: 4px; }
.tactic.empty h4 { color: var(--muted); font-weight: 400; }
.technique { font-size: 12px; padding: 6px; margin-bottom: 4px; border-radius: 4px;
  overflow-wrap: anywhere; }
.heat-1 { background: #fff3bf; } .heat-2 { background: #ffd8a8; }
.heat-3 { background: #ffa94d; } .heat-4 { background: #f76707; color: #fff; }
.heat-5 { background: #c92a2a; color: #fff; }
.rule { border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px;
  margin-top: 16px; }
.rule .meta { color: var(--muted); margin: 4px 0 8px; }
.guide { border-left: 3px solid var(--line); padding-left: 12px; }
.guide pre, code { background: var(--panel); border-radius: 4px; }
.guide pre { padding: 8px; overflow-x: auto; }
code { padding: 0 3px; font-size: 13px; }
details { margin: 8px 0; }
summary { cursor: pointer; font-weight: 600; }
input[type=search] { padding: 4px 8px; width: 320px; border: 1px solid var(--line);
  border-radius: 4px; }
.muted { color: var(--muted); }
"""

_SCRIPT = """
const filter = document.getElementById("timeline-filter");
const rows = Array.from(document.querySelectorAll("#timeline tbody tr"));
const shown = document.getElementById("timeline-shown");
filter.addEventListener("input", () => {
  const wanted = filter.value.trim().toLowerCase();
  let count = 0;
  for (const row of rows) {
    row.hidden = wanted !== "" && !row.textContent.toLowerCase().includes(wanted);
    if (!row.hidden) count += 1;
  }
  shown.textContent = String(count);
});
"""

_CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "img-src data:")


def write_html(path: Path, result: HuntResult) -> Written:
    """Write the report; says how many alerts it shows."""
    path.write_text(render_html(result), encoding="utf-8")
    shown = len(result.shown_alerts)
    return Written(shown, f"{shown} alert(s)")


def render_html(result: HuntResult) -> str:
    """The whole report as one HTML document."""
    groups = group_by_rule(result.alerts)
    started = result.started_at.astimezone(datetime.UTC)
    body = "\n".join((
        _summary(result, groups),
        _matrix(technique_counts(result.alerts)),
        _rules_table(groups),
        _timeline(result.shown_alerts),
        _rule_sections(result, groups),
        _account(result),
    ))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Lanner hunt report {started:%Y-%m-%d %H:%M} UTC</title>
<style>{_CSS}</style>
</head>
<body>
<header><h1>Lanner hunt report</h1>
<p>Started {started:%Y-%m-%d %H:%M:%S} UTC · lanner {_e(__version__)}</p></header>
<nav><a href="#summary">Summary</a><a href="#attack">ATT&amp;CK</a><a href="#rules">Rules</a>
<a href="#timeline-section">Timeline</a><a href="#guides">Investigation guides</a>
<a href="#account">Inputs and rules</a></nav>
<main>
{body}
</main>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def _summary(result: HuntResult, groups: Sequence[RuleGroup]) -> str:
    shown = result.shown_alerts
    cards = [
        ("alerts", len(shown)), ("rules with alerts", len(groups)),
        ("events", result.events), ("files", len(result.files)),
        ("bad lines", len(result.bad_lines)), ("rules run", len(result.rules)),
        ("rules skipped", len(result.skipped)), ("rules not loaded", len(result.not_loaded)),
    ]
    card_html = "".join(f'<div class="card" data-count="{_e(label)}"><b>{count:,}</b>'
                        f"<span>{_e(label)}</span></div>" for label, count in cards)
    severities = " ".join(f"{_badge(severity)} {count}"
                          for severity, count in severity_counts(shown).items() if count)
    hosts = sorted({host for group in groups for host in group.hosts})
    return (f'<section id="summary"><h2>Summary</h2><div class="cards">{card_html}</div>'
            f"<p>{severities or 'No alerts.'}</p>"
            + (f"<p>Hosts with alerts: {_e(', '.join(hosts))}</p>" if hosts else "")
            + "</section>")


def _matrix(counts: Sequence[TechniqueCount]) -> str:
    by_tactic: dict[str, list[TechniqueCount]] = {}
    names = dict(ATTACK_TACTICS)
    for count in counts:
        by_tactic.setdefault(count.tactic_id, []).append(count)
        names.setdefault(count.tactic_id, count.tactic_name)
    most = max((count.alerts for count in counts), default=1)
    columns = []
    for tactic_id in sorted(names, key=lambda t: (tactic_position(t), t)):
        cells = "".join(
            f'<div class="technique heat-{_heat(count.alerts, most)}" '
            f'title="{_e("; ".join(count.rules))}"><b>{_e(count.technique_id)}</b> '
            f"{_e(count.technique_name)} · {count.alerts}</div>"
            for count in by_tactic.get(tactic_id, []))
        empty = "" if cells else " empty"
        columns.append(f'<div class="tactic{empty}"><h4>{_e(names[tactic_id])} '
                       f'<span class="muted">{_e(tactic_id)}</span></h4>{cells}</div>')
    return ('<section id="attack"><h2>ATT&amp;CK matrix</h2><p class="muted">Techniques of the '
            "rules that raised alerts; the number is alerts.</p>"
            f'<div class="matrix">{"".join(columns)}</div></section>')


def _rules_table(groups: Sequence[RuleGroup]) -> str:
    rows = "".join(
        f"<tr><td>{_badge(group.severity)}</td><td class=num>{_e(group.risk_score)}</td>"
        f'<td><a href="#{_rule_anchor(group.rule_id)}">{_e(group.name)}</a></td>'
        f"<td class=num>{len(group.alerts)}</td><td>{_e(_listed(group.hosts))}</td>"
        f"<td>{_e(_listed(group.users))}</td><td>{_e(' '.join(group.techniques))}</td>"
        f"<td class=time>{_e(short_time(group.first_seen))}</td>"
        f"<td class=time>{_e(short_time(group.last_seen))}</td>"
        "</tr>" for group in groups)
    if not rows:
        return '<section id="rules"><h2>Alerts by rule</h2><p>No alerts.</p></section>'
    return ('<section id="rules"><h2>Alerts by rule</h2><table><thead><tr><th>severity</th>'
            "<th>risk</th><th>rule</th><th>alerts</th><th>hosts</th><th>users</th>"
            "<th>ATT&amp;CK</th><th>first seen</th><th>last seen</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></section>")


def _timeline(alerts: Sequence[Alert]) -> str:
    ordered = sorted(alerts, key=lambda a: (event_time(a), a["kibana.alert.uuid"]))
    rows = "".join(
        f"<tr><td class=time>{_e(short_time(event_time(alert)))}</td>"
        f"<td>{_badge(str(alert['kibana.alert.severity']))}</td>"
        f"<td>{_e(alert['kibana.alert.rule.name'])}</td>"
        f"<td>{_e(_listed(values(alert, 'host.name')))}</td>"
        f"<td>{_e(_listed(values(alert, 'user.name')))}</td>"
        f"<td class=wrap>{_e(alert.get('kibana.alert.reason', ''))}</td></tr>"
        for alert in ordered)
    return ('<section id="timeline-section"><h2>Alert timeline</h2>'
            '<p><input type="search" id="timeline-filter" placeholder="Filter: host, user, '
            f'rule, process…" aria-label="Filter the timeline"> <span id="timeline-shown">'
            f"{len(ordered)}</span> of {len(ordered)} alert(s)</p>"
            '<table id="timeline"><thead><tr><th>event time (UTC)</th><th>severity</th>'
            "<th>rule</th><th>host</th><th>user</th><th>reason</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></section>")


def _rule_sections(result: HuntResult, groups: Sequence[RuleGroup]) -> str:
    sections = []
    for group in groups:
        rule = result.rule(group.rule_id)
        first = group.alerts[0]
        description = str(first.get("kibana.alert.rule.description") or "")
        note = rule.note if rule is not None else first.get("kibana.alert.rule.note")
        transform = rule.transform if rule is not None else None
        guide = ""
        if note:
            # With one alert the guide's {{field}} templates can be filled, as Kibana does.
            only = group.alerts[0] if len(group.alerts) == 1 else None
            guide = (f'<details open><summary>Investigation guide</summary><div class="guide">'
                     f"{_MARKDOWN.render(render_guide(note, transform, only))}</div></details>")
        references = first.get("kibana.alert.rule.references") or []
        reference_list = "".join(f"<li>{_e(reference)}</li>" for reference in references)
        alerts = "".join(
            f"<tr><td class=time>{_e(short_time(event_time(alert)))}</td>"
            f"<td>{_e(_listed(values(alert, 'host.name')))}</td>"
            f"<td>{_e(_listed(values(alert, 'user.name')))}</td>"
            f"<td class=wrap>{_e(alert.get('kibana.alert.reason', ''))}</td></tr>"
            for alert in group.alerts)
        sections.append(
            f'<div class="rule" id="{_rule_anchor(group.rule_id)}"><h3>{_badge(group.severity)} '
            f"{_e(group.name)}</h3><div class=meta>rule_id {_e(group.rule_id)} · risk "
            f"{_e(group.risk_score)} · {len(group.alerts)} alert(s) · "
            f"{_e(short_time(group.first_seen))} to {_e(short_time(group.last_seen))}</div>"
            f"<p>{_e(description)}</p>"
            + (f"<p>ATT&amp;CK: {_e(', '.join(group.tactics))} — "
               f"{_e(' '.join(group.techniques))}</p>" if group.techniques else "")
            + guide
            + (f"<details><summary>References</summary><ul>{reference_list}</ul></details>"
               if reference_list else "")
            + "<table><thead><tr><th>event time (UTC)</th><th>host</th><th>user</th>"
            f"<th>reason</th></tr></thead><tbody>{alerts}</tbody></table></div>")
    return ('<section id="guides"><h2>Rules with alerts</h2>'
            + ("".join(sections) or "<p>No alerts.</p>") + "</section>")


def _account(result: HuntResult) -> str:
    skipped = "".join(f"<tr><td>{_e(rule.name)}</td><td>{_e(reason)}</td></tr>"
                      for rule, reason in result.skipped)
    not_loaded = "".join(f"<li>{_e(problem)}</li>" for problem in result.not_loaded)
    files = "".join(f"<li>{_e(name)}</li>" for name in result.files)
    bad = "".join(f"<li><code>{_e(str(line))}</code></li>"
                  for line in result.bad_lines[:MAX_BAD_LINES])
    more = len(result.bad_lines) - MAX_BAD_LINES
    parts = [
        '<section id="account"><h2>Inputs and rules</h2>',
        f"<p>{result.events:,} events from {len(result.files)} file(s); "
        f"{len(result.bad_lines)} bad line(s); {len(result.rules)} rule(s) run.</p>",
    ]
    if result.without_index:
        parts.append(f"<p>{result.without_index:,} event(s) had no index (no _index, "
                     "data_stream.* or agent.type/event.module): rules restricted to index "
                     "patterns did not see them.</p>")
    if files:
        parts.append(f"<details><summary>Files ({len(result.files)})</summary>"
                     f"<ul>{files}</ul></details>")
    if bad:
        parts.append(f"<details open><summary>Bad lines ({len(result.bad_lines)})</summary>"
                     f"<ul>{bad}</ul>"
                     + (f"<p>… and {more} more.</p>" if more > 0 else "") + "</details>")
    if skipped:
        parts.append(f"<details><summary>Rules skipped ({len(result.skipped)})</summary>"
                     "<table><thead><tr><th>rule</th><th>why</th></tr></thead>"
                     f"<tbody>{skipped}</tbody></table></details>")
    if not_loaded:
        parts.append(f"<details open><summary>Rules not loaded ({len(result.not_loaded)})"
                     f"</summary><ul>{not_loaded}</ul></details>")
    parts.append("</section>")
    return "".join(parts)


def _badge(severity: str) -> str:
    return f'<span class="sev sev-{_e(severity)}">{_e(severity)}</span>'


def _heat(alerts: int, most: int) -> int:
    """1 to 5, by share of the busiest technique's alerts."""
    return max(1, min(5, 1 + (4 * alerts) // max(most, 1)))


def _rule_anchor(rule_id: str) -> str:
    return "rule-" + _SLUG.sub("-", rule_id.lower()).strip("-")


def _listed(items: Iterable[str], most: int = 5) -> str:
    listed = list(items)
    extra = len(listed) - most
    return ", ".join(listed[:most]) + (f" +{extra}" if extra > 0 else "")


def _e(value: object) -> str:
    return html.escape(str(value))
