"""The rules side of the triage UI, over the detection engine API's application layer
(lanner.server.detection_api: the same enable, disable and manual run as Kibana's
`rules/_bulk_action`, so the UI and the API always agree).

- `GET  /app/rules`                the loaded rules (filter: tactic, technique, enabled)
- `GET  /app/rules/attack`         ATT&CK coverage of the enabled rules
- `GET  /app/rules/{rule_id}`      a rule: query, schedule, guide, last run, alert counts
- `POST /app/rules/{rule_id}/enabled`  enable or disable (form field `enabled` = true|false)
- `POST /app/rules/{rule_id}/run`  run now over [start, end] (Kibana's manual run)

detection_api takes the service's `write_lock` itself: these handlers call it from the
thread pool without holding the lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from lanner import eql
from lanner.detection.alerts import rule_uuid
from lanner.detection.guide import render_guide
from lanner.errors import LannerError
from lanner.rules import Rule
from lanner.server import detection_api
from lanner.store.alerts import SEVERITY_RANKS, AlertFilter
from lanner.web.pages import (
    HEADERS,
    MARKDOWN,
    Pages,
    check_same_origin,
    page,
    read_form,
    short_time,
    time_bound,
)

# Enterprise ATT&CK's tactics in the matrix's order (attack.mitre.org/matrices/enterprise/).
TACTIC_ORDER = ("Reconnaissance", "Resource Development", "Initial Access", "Execution",
                "Persistence", "Privilege Escalation", "Defense Evasion", "Credential Access",
                "Discovery", "Lateral Movement", "Collection", "Command and Control",
                "Exfiltration", "Impact")


class RulePages:
    """The rules' handlers, beside the alert pages (sharing their service and lock)."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.service = pages.service

    # -- the list -------------------------------------------------------------------------

    async def rules(self, request: Request) -> Response:
        params = request.query_params
        chosen = {name: params.get(name, "").strip() for name in ("tactic", "technique",
                                                                   "enabled")}
        rows = await self._rows()
        shown = [row for row in rows if _keeps(row, chosen)]
        return page("rules.html", title="Rules", nav="rules", rows=shown, total=len(rows),
                    chosen={k: v for k, v in chosen.items() if v}, here=_here(request))

    async def _rows(self, rules: Iterable[Rule] | None = None) -> list[dict[str, Any]]:
        counts = await self.pages.locked(self.service.alerts.counts, "rule_id",
                                         AlertFilter(building_blocks=True))
        open_counts = await self.pages.locked(self.service.alerts.counts, "rule_id",
                                              AlertFilter(status="open"))
        runs = await run_in_threadpool(detection_api.last_executions, self.service)
        states = await run_in_threadpool(detection_api.enabled_states, self.service)
        rows = []
        for rule in sorted(self.service.rules if rules is None else rules,
                           key=lambda r: (-SEVERITY_RANKS.get(r.severity, 0), r.name)):
            uuid = rule_uuid(rule)
            last = runs.get(uuid)
            state = states.get(uuid)
            rows.append({
                "rule": rule, "uuid": uuid,
                "enabled": rule.enabled if state is None else state[0],
                "tactics": list(dict.fromkeys(t.tactic.name for t in rule.threat)),
                "techniques": list(rule.technique_ids), "alerts": counts.get(rule.rule_id, 0),
                "open": open_counts.get(rule.rule_id, 0),
                "last": None if last is None else {
                    "date": short_time(last.date), "status": last.status,
                    "message": last.message or "", "manual": last.manual,
                    "gap_s": last.as_kibana()["metrics"].get("execution_gap_duration_s"),
                    "alerts": last.alerts}})
        return rows

    # -- one rule -------------------------------------------------------------------------

    async def rule(self, request: Request) -> Response:
        rule = self._rule(request)
        (row,) = await self._rows([rule])
        printed = rule.query
        if rule.is_eql and rule.query:
            try:
                printed = eql.to_text(eql.parse(rule.query))
            except LannerError:
                printed = rule.query
        guide = Markup(MARKDOWN.render(render_guide(rule.note, rule.transform))) \
            if rule.note else None
        params = request.query_params
        return page("rule.html", title=rule.name, nav="rules", row=row, rule=rule,
                    printed=printed, guide=guide, outcome=params.get("outcome", ""),
                    failed=params.get("failed", ""), here=_here(request),
                    alerts_link="/app/?" + urlencode({"status": "all", "rule": rule.rule_id}))

    def _rule(self, request: Request) -> Rule:
        wanted = request.path_params["rule_id"]
        for rule in self.service.rules:
            if wanted in (rule.rule_id, rule_uuid(rule)):
                return rule
        raise HTTPException(404, f"no rule with id {wanted}")

    async def enabled(self, request: Request) -> Response:
        check_same_origin(request)
        rule = self._rule(request)
        form = await read_form(request)
        wanted = (form.get("enabled") or [""])[0]
        if wanted not in ("true", "false"):
            raise HTTPException(400, "enabled must be true or false")
        action = "enable" if wanted == "true" else "disable"
        try:
            await run_in_threadpool(detection_api.bulk_action, self.service, action,
                                    ids=[rule.rule_id])
        except detection_api.ApiError as error:
            raise HTTPException(error.status_code, error.message) from None
        return RedirectResponse(_back(form, f"/app/rules/{rule.rule_id}"), 303,
                                headers=HEADERS)

    async def run(self, request: Request) -> Response:
        """Kibana's manual run: the rule's schedule over [start, end], alerts into the store."""
        check_same_origin(request)
        rule = self._rule(request)
        form = await read_form(request)
        bounds = {}
        for name, key in (("start", "start_date"), ("end", "end_date")):
            text = (form.get(name) or [""])[0].strip()
            bound = time_bound(text) if text else None
            if text and bound is None:
                raise HTTPException(400, f"“{text}” is not a time (use 2026-11-20T10:01)")
            if bound is not None:
                bounds[key] = bound  # without a zone: UTC, as detection_api reads it
        if "start_date" not in bounds:
            raise HTTPException(400, "choose when the run starts")
        try:
            outcome = await run_in_threadpool(detection_api.bulk_action, self.service, "run",
                                              ids=[rule.rule_id], run=bounds)
        except detection_api.ApiError as error:
            raise HTTPException(error.status_code, error.message) from None
        created = sum(len(report.created) for report in outcome.runs)
        query = {"outcome": f"{created} alert(s) created"}
        if outcome.errors:
            query["failed"] = "; ".join(error["message"] for error in outcome.errors)
        return RedirectResponse(f"/app/rules/{rule.rule_id}?{urlencode(query)}", 303,
                                headers=HEADERS)

    # -- ATT&CK coverage ------------------------------------------------------------------

    async def attack(self, request: Request) -> Response:
        rows = [row for row in await self._rows() if row["enabled"]]
        return page("attack.html", title="ATT&CK coverage", nav="attack",
                    matrix=attack_matrix(row["rule"] for row in rows), enabled=len(rows))


def attack_matrix(rules: Iterable[Rule]) -> list[dict[str, Any]]:
    """Tactics (Enterprise order, others after) with their techniques and how many of the
    rules map each (a rule counts once per technique, under each tactic it names it)."""
    tactics: dict[str, dict[str, Any]] = {}
    for rule in rules:
        for threat in rule.threat:
            column = tactics.setdefault(threat.tactic.name, {
                "name": threat.tactic.name, "id": threat.tactic.id, "rules": set(),
                "techniques": {}})
            column["rules"].add(rule.rule_id)
            for technique in threat.techniques:
                cell = column["techniques"].setdefault(technique.id, {
                    "id": technique.id, "name": technique.name, "rules": set()})
                cell["rules"].add(rule.rule_id)
    order = {name: number for number, name in enumerate(TACTIC_ORDER)}
    return [{"name": column["name"], "id": column["id"], "count": len(column["rules"]),
             "techniques": [{"id": cell["id"], "name": cell["name"], "count": len(cell["rules"])}
                            for cell in sorted(column["techniques"].values(),
                                               key=lambda c: (-len(c["rules"]), c["id"]))]}
            for column in sorted(tactics.values(),
                                 key=lambda c: (order.get(c["name"], len(order)), c["name"]))]


def _keeps(row: Mapping[str, Any], chosen: Mapping[str, str]) -> bool:
    if chosen["tactic"] and chosen["tactic"].lower() not in (
            [t.lower() for t in row["tactics"]]
            + [t.tactic.id.lower() for t in row["rule"].threat]):
        return False
    if chosen["technique"] and chosen["technique"].upper() not in row["techniques"]:
        return False
    return not chosen["enabled"] or chosen["enabled"] == ("true" if row["enabled"] else "false")


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + ("?" + query if query else "")


def _back(form: Mapping[str, list[str]], default: str) -> str:
    back = (form.get("next") or [default])[0]
    return back if back.startswith("/app/") and not back.startswith("//") else default
