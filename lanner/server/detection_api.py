"""Kibana's detection engine API as plain functions over the detection service.

`lanner.server.kibana` parses requests and shapes responses; what the routes do lives here:

* rules in Kibana's rule shape (`_find`), with their enabled state, kept in table
  `kibana_rule_state` (a rule file's `enabled` is the default), and their status from the
  rule execution log (`lanner.store.runs`) and the manual runs (table `kibana_manual_runs`:
  a manual run is not a scheduled one, so it never moves the schedule's previous start, and
  the scheduler still sees and catches up the gaps, as Kibana's backfills leave them);
* bulk actions `enable`, `disable` and `run` (Kibana's manual run: each rule's schedule over
  `[start_date, end_date]` at once, as `lanner replay` runs it; a disabled rule is refused
  with Kibana's error, MANUAL_RULE_RUN_DISABLED_RULE);
* a Query DSL search over the alerts (`signals/search`), evaluated over the alert documents
  as stored (the alert index's keyword semantics: `term` and `match` compare whole values,
  `range` compares numbers and dates), and `signals/status`.

The service is anything with `.store`, `.alerts`, `.detector`, `.rules` and `.write_lock`;
every use of the database here holds `write_lock` (one DuckDB connection serves them all).

Bad input raises `ApiError`, which carries Kibana's status code and message.
"""

from __future__ import annotations

import contextlib
import datetime
import fnmatch
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lanner.detection import datemath
from lanner.detection.alerts import iso, rule_language, rule_uuid, type_parameters
from lanner.detection.hunt import not_runnable, replay
from lanner.detection.run import Detector, RunReport
from lanner.rules import Rule
from lanner.store import EventStore
from lanner.store.alerts import WORKFLOW_STATUSES, AlertStore, AlertStoreError
from lanner.store.documents import field_values
from lanner.store.runs import RunLog

ALERTS_INDEX = ".internal.alerts-security.alerts-default-000001"
MAX_RESULT_WINDOW = 10_000  # ES's index.max_result_window and track_total_hits default
STATUS_ORDER = {"succeeded": 0, "going to run": 10, "running": 15, "partial failure": 20,
                "failed": 30}
SUCCESS_MESSAGE = "Rule execution completed successfully"
DISABLED_RUN = "Cannot schedule manual rule run for a disabled rule"

_STATE_TABLE = "kibana_rule_state"
_MANUAL_TABLE = "kibana_manual_runs"
_SORT_FIELDS = {
    "name": "name", "enabled": "enabled", "risk_score": "risk_score",
    "riskScore": "risk_score", "severity": "severity", "created_at": "created_at",
    "createdAt": "created_at", "updated_at": "updated_at", "updatedAt": "updated_at",
    "execution_summary.last_execution.date": "execution_summary.last_execution.date",
    "execution_summary.last_execution.status": "execution_summary.last_execution.status_order",
    "execution_summary.last_execution.metrics.total_search_duration_ms":
        "execution_summary.last_execution.metrics.total_search_duration_ms",
    "execution_summary.last_execution.metrics.execution_gap_duration_s":
        "execution_summary.last_execution.metrics.execution_gap_duration_s",
}
_SEVERITY_ORDER = {"low": 1, "medium": 2, "high": 3, "critical": 4}


class Service(Protocol):
    store: EventStore
    alerts: AlertStore
    detector: Detector
    rules: list[Rule]
    write_lock: threading.Lock


class ApiError(Exception):
    """A request Kibana would refuse: its HTTP status and message."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


# -- rule state ------------------------------------------------------------------------------


def _tables(service: Service) -> None:
    con = service.store.con
    con.execute(f"CREATE TABLE IF NOT EXISTS {_STATE_TABLE} (rule_uuid VARCHAR PRIMARY KEY, "
                "enabled BOOLEAN NOT NULL, updated_at TIMESTAMP)")
    con.execute(f"CREATE TABLE IF NOT EXISTS {_MANUAL_TABLE} (rule_uuid VARCHAR, "
                "rule_id VARCHAR, date TIMESTAMP, status VARCHAR, alerts INTEGER, "
                "message VARCHAR, search_ms DOUBLE, start_date TIMESTAMP, end_date TIMESTAMP)")


def enabled_states(service: Service, *, lock: bool = True,
                   ) -> dict[str, tuple[bool, datetime.datetime | None]]:
    """Rule uuid -> (enabled, when it was last set) for the rules enabled or disabled
    through the API; the others keep their file's `enabled`. `lock=False` when the caller
    holds `write_lock` already."""
    with service.write_lock if lock else contextlib.nullcontext():
        _tables(service)
        rows = service.store.con.execute(
            f"SELECT rule_uuid, enabled, updated_at FROM {_STATE_TABLE}").fetchall()
    return {uuid: (enabled, _utc(at)) for uuid, enabled, at in rows}


def is_enabled(service: Service, rule: Rule) -> bool:
    """Whether a rule is enabled now: as set through the API, else as its file says. A
    scheduler runs only these."""
    state = enabled_states(service).get(rule_uuid(rule))
    return rule.enabled if state is None else state[0]


def enabled_rules(service: Service, *, lock: bool = True) -> list[Rule]:
    """The service's rules that are enabled now: what a scheduler runs (`lock=False` from
    inside `write_lock`, e.g. `scheduler.rules = enabled_rules(service, lock=False)` before
    each tick)."""
    states = enabled_states(service, lock=lock)
    return [rule for rule in service.rules
            if states.get(rule_uuid(rule), (rule.enabled, None))[0]]


def _set_enabled(service: Service, rules: Sequence[Rule], enabled: bool) -> None:
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    with service.write_lock:
        _tables(service)
        for rule in rules:
            service.store.con.execute(
                f"INSERT OR REPLACE INTO {_STATE_TABLE} VALUES (?, ?, ?)",
                [rule_uuid(rule), enabled, now])


# -- rule status -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LastExecution:
    date: datetime.datetime
    status: str
    message: str | None
    alerts: int
    search_ms: float | None = None
    manual: bool = False

    def as_kibana(self) -> dict[str, Any]:
        metrics: dict[str, Any] = {}
        if self.search_ms is not None:
            metrics["total_search_duration_ms"] = round(self.search_ms)
        gap = _gap_seconds(self.message)
        if gap is not None:
            metrics["execution_gap_duration_s"] = gap
        message = self.message or (SUCCESS_MESSAGE if self.status == "succeeded" else "")
        return {"date": iso(self.date), "status": self.status,
                "status_order": STATUS_ORDER.get(self.status, 30), "message": message,
                "metrics": metrics}


def last_executions(service: Service) -> dict[str, LastExecution]:
    """Each rule's latest execution, scheduled (the run log) or manual."""
    found: dict[str, LastExecution] = {}
    with service.write_lock:
        _tables(service)
        RunLog(service.store.con)  # creates the log's table when the store has none yet
        con = service.store.con
        scheduled = con.execute(
            "SELECT rule_uuid, arg_max(started_at, started_at), arg_max(status, started_at), "
            "arg_max(message, started_at), arg_max(alerts, started_at) FROM rule_runs "
            "GROUP BY rule_uuid").fetchall()
        manual = con.execute(
            f"SELECT rule_uuid, arg_max(date, date), arg_max(status, date), "
            f"arg_max(message, date), arg_max(alerts, date), arg_max(search_ms, date) "
            f"FROM {_MANUAL_TABLE} GROUP BY rule_uuid").fetchall()
    for uuid, date, status, message, alerts in scheduled:
        found[uuid] = LastExecution(_utc(date), status, message, alerts)
    for uuid, date, status, message, alerts, search_ms in manual:
        known = found.get(uuid)
        if known is None or _utc(date) >= known.date:
            found[uuid] = LastExecution(_utc(date), status, message, alerts, search_ms, True)
    return found


_GAP = re.compile(r"\((\d+)ms\) were not queried")


def _gap_seconds(message: str | None) -> int | None:
    """The gap a run's message reports (Kibana's "... (600000ms) were not queried between
    this rule execution and the last execution ..."), in seconds."""
    found = _GAP.search(message or "")
    return int(found.group(1)) // 1000 if found else None


# -- rules in Kibana's shape -----------------------------------------------------------------


def rule_object(rule: Rule, enabled: bool, updated_at: datetime.datetime | None,
                last: LastExecution | None) -> dict[str, Any]:
    """A rule as Kibana's rules API returns it."""
    created = _file_time(rule.path)
    body: dict[str, Any] = {
        "id": rule_uuid(rule), "rule_id": rule.rule_id, "name": rule.name,
        "description": rule.description, "enabled": enabled, "type": rule.type,
        "language": rule_language(rule),
        "query": rule.query, "index": list(rule.index), "interval": rule.interval,
        "from": rule.from_, "to": rule.to, "max_signals": rule.max_signals,
        "risk_score": rule.risk_score,
        "risk_score_mapping": rule.risk_score_mapping_dicts(),
        "severity": rule.severity,
        "severity_mapping": rule.severity_mapping_dicts(),
        "tags": list(rule.tags), "threat": rule.threat_dicts(), "author": list(rule.author),
        "license": rule.license or "", "version": rule.version, "revision": 0,
        "references": list(rule.references), "false_positives": list(rule.false_positives),
        "note": rule.note or "", "setup": rule.setup or "",
        "exceptions_list": [{"id": e.id or e.list_id, "list_id": e.list_id,
                             "namespace_type": e.namespace_type, "type": e.type}
                            for e in rule.exceptions_list],
        "immutable": False, "rule_source": {"type": "internal"}, "output_index": "",
        "meta": {}, "actions": [], "related_integrations": [], "required_fields": [],
        "created_at": iso(created) if created else None, "created_by": "lanner",
        "updated_at": iso(updated_at or created) if (updated_at or created) else None,
        "updated_by": "lanner",
    }
    body.update({key: value for key, value in rule.override_fields().items()
                 if value is not None})
    body.update(type_parameters(rule))
    if rule.timestamp_override:
        body["timestamp_override_fallback_disabled"] = rule.timestamp_override_fallback_disabled
    if rule.investigation_fields:
        body["investigation_fields"] = {"field_names": list(rule.investigation_fields)}
    if rule.alert_suppression is not None:
        suppression: dict[str, Any] = {
            "group_by": list(rule.alert_suppression.group_by),
            "missing_fields_strategy": rule.alert_suppression.missing_fields_strategy}
        duration = rule.alert_suppression.duration
        if duration and duration[:-1].isdigit():
            suppression["duration"] = {"value": int(duration[:-1]), "unit": duration[-1]}
        body["alert_suppression"] = suppression
    if last is not None:
        body["execution_summary"] = {"last_execution": last.as_kibana()}
    return body


def rule_objects(service: Service) -> list[dict[str, Any]]:
    states = enabled_states(service)
    lasts = last_executions(service)
    objects = []
    for rule in service.rules:
        key = rule_uuid(rule)
        enabled, updated_at = states.get(key, (rule.enabled, None))
        objects.append(rule_object(rule, enabled, updated_at, lasts.get(key)))
    return objects


@dataclass(frozen=True, slots=True)
class FindResult:
    page: int
    per_page: int
    total: int
    data: list[dict[str, Any]]


def find_rules(service: Service, *, page: int = 1, per_page: int = 20,
               filter_: str | None = None, sort_field: str | None = None,
               sort_order: str | None = None) -> FindResult:
    """Kibana's `rules/_find`: the rules the KQL `filter` keeps, sorted, one page."""
    if page < 1:
        raise ApiError(400, "[request query]: page: Number must be greater than or equal to 1")
    if per_page < 0:
        raise ApiError(400,
                       "[request query]: per_page: Number must be greater than or equal to 0")
    if page * per_page > MAX_RESULT_WINDOW:
        raise ApiError(400, f"page * per_page must not exceed {MAX_RESULT_WINDOW}")
    if sort_order not in (None, "asc", "desc"):
        raise ApiError(400, f"[request query]: sort_order: Invalid enum value. Expected 'asc' "
                            f"| 'desc', received '{sort_order}'")
    if sort_field is not None and sort_field not in _SORT_FIELDS:
        raise ApiError(400, f"[request query]: sort_field: Invalid enum value. Expected "
                            f"{' | '.join(repr(f) for f in _SORT_FIELDS)}, received "
                            f"'{sort_field}'")
    rules = rule_objects(service)
    if filter_ and filter_.strip():
        matches = rule_filter(filter_)
        rules = [rule for rule in rules if matches(rule)]
    if sort_field is not None:
        path = _SORT_FIELDS[sort_field]
        rules = _sorted_documents(rules, [(path, sort_order or "asc")], _rule_sort_value)
    start = (page - 1) * per_page
    return FindResult(page, per_page, len(rules), rules[start:start + per_page])


def _rule_sort_value(rule: Mapping[str, Any], path: str) -> Any:
    if path == "severity":
        return _SEVERITY_ORDER.get(rule.get("severity"), 0)
    if path == "name":
        return str(rule.get("name", "")).lower()
    values = field_values(rule, path)
    return values[0] if values else None


# -- KQL filters over rules (the basics `_find` and `_bulk_action` take) -----------------------

_KQL_TOKEN = re.compile(r'\s*(?:(?P<paren>[()])|(?P<quoted>"(?:[^"\\]|\\.)*")|'
                        r'(?P<colon>:)|(?P<word>[^\s():"]+))')
_RULE_ATTRIBUTES = {"alert.attributes.", "alert.attributes.params.", "params."}


def rule_filter(text: str) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate over rule objects for the KQL basics Kibana's rules table sends:
    `alert.attributes.name: "x"`, `alert.attributes.tags: ("a" OR "b")`,
    `alert.attributes.enabled: true`, AND / OR / NOT, parentheses, `*` wildcards; a bare
    word searches names. Values compare case-insensitively."""
    tokens = _kql_tokens(text)
    parser = _KqlParser(tokens, text)
    predicate = parser.expression()
    if parser.position != len(tokens):
        raise ApiError(400, f"Invalid filter: unexpected {tokens[parser.position][1]!r} in "
                            f"{text!r}")
    return predicate


def _kql_tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        found = _KQL_TOKEN.match(text, position)
        if not found or found.end() == position:
            raise ApiError(400, f"Invalid filter: cannot read {text[position:]!r}")
        kind = found.lastgroup or "word"
        value = found.group(kind)
        if kind == "quoted":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif kind == "word" and value.upper() in ("AND", "OR", "NOT"):
            kind = value.upper()
        tokens.append((kind, value))
        position = found.end()
    return tokens


class _KqlParser:
    def __init__(self, tokens: list[tuple[str, str]], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.position = 0

    def _peek(self) -> str | None:
        return self.tokens[self.position][0] if self.position < len(self.tokens) else None

    def _take(self, kind: str) -> str:
        if self._peek() != kind:
            found = self.tokens[self.position][1] if self._peek() else "the end"
            raise ApiError(400, f"Invalid filter: expected {kind} but found {found!r} in "
                                f"{self.text!r}")
        self.position += 1
        return self.tokens[self.position - 1][1]

    def expression(self, field_name: str | None = None) -> Callable[[Mapping[str, Any]], bool]:
        terms = [self._and(field_name)]
        while self._peek() == "OR":
            self.position += 1
            terms.append(self._and(field_name))
        return terms[0] if len(terms) == 1 else (lambda r: any(t(r) for t in terms))

    def _and(self, field_name: str | None) -> Callable[[Mapping[str, Any]], bool]:
        terms = [self._not(field_name)]
        while self._peek() in ("AND", "NOT", "paren", "word", "quoted"):
            if self._peek() == "paren" and self.tokens[self.position][1] == ")":
                break
            if self._peek() == "AND":
                self.position += 1
            terms.append(self._not(field_name))
        return terms[0] if len(terms) == 1 else (lambda r: all(t(r) for t in terms))

    def _not(self, field_name: str | None) -> Callable[[Mapping[str, Any]], bool]:
        if self._peek() == "NOT":
            self.position += 1
            inner = self._not(field_name)
            return lambda r: not inner(r)
        return self._primary(field_name)

    def _primary(self, field_name: str | None) -> Callable[[Mapping[str, Any]], bool]:
        kind = self._peek()
        if kind == "paren" and self.tokens[self.position][1] == "(":
            self.position += 1
            inner = self.expression(field_name)
            if self._peek() != "paren" or self.tokens[self.position][1] != ")":
                raise ApiError(400, f"Invalid filter: missing ')' in {self.text!r}")
            self.position += 1
            return inner
        if kind not in ("word", "quoted"):
            found = self.tokens[self.position][1] if kind else "the end"
            raise ApiError(400, f"Invalid filter: unexpected {found!r} in {self.text!r}")
        value = self._take(kind)
        if field_name is None and self._peek() == "colon":
            self.position += 1
            return self._primary(_rule_attribute(value))
        if field_name is None:  # free text: the name
            return _value_test("name", value, kind == "quoted")
        return _value_test(field_name, value, kind == "quoted")


def _rule_attribute(name: str) -> str:
    for prefix in sorted(_RULE_ATTRIBUTES, key=len, reverse=True):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return {"riskScore": "risk_score", "ruleId": "rule_id", "params.ruleId": "rule_id",
            "alertTypeId": "type"}.get(name, name)


def _value_test(field_name: str, value: str, quoted: bool) -> Callable[[Mapping[str, Any]], bool]:
    wanted = value.lower()
    wildcard = not quoted and ("*" in value or "?" in value)

    def test(rule: Mapping[str, Any]) -> bool:
        for found in field_values(rule, field_name):
            text = str(found).lower()
            if wildcard:
                if fnmatch.fnmatchcase(text, wanted):
                    return True
            elif text == wanted or (field_name == "name" and not quoted and wanted in text):
                return True
        return False

    return test


# -- bulk actions ----------------------------------------------------------------------------


@dataclass(slots=True)
class BulkOutcome:
    """What a bulk action did, in Kibana's terms."""

    action: str
    updated: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    failed: int = 0
    runs: list[RunReport] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.updated) + len(self.skipped) + self.failed


BULK_ACTIONS = ("enable", "disable", "run")


def bulk_action(service: Service, action: str, *, ids: Sequence[str] | None = None,
                query: str | None = None, run: Mapping[str, Any] | None = None,
                now: datetime.datetime | None = None) -> BulkOutcome:
    """Kibana's `rules/_bulk_action` for enable, disable and run (the manual run)."""
    if action not in BULK_ACTIONS:
        raise ApiError(400, f"[request body]: action: Invalid or unsupported action "
                            f"'{action}': Lanner supports {', '.join(BULK_ACTIONS)}")
    if ids is not None and query is not None:
        raise ApiError(400, "Both query and ids are sent. Define either ids or query in "
                            "request payload.")
    now = now or datetime.datetime.now(datetime.UTC)
    window = _run_window(run, now) if action == "run" else None
    outcome = BulkOutcome(action)
    if ids is not None:
        if not ids:
            raise ApiError(400, "[request body]: ids: Array must contain at least 1 element(s)")
        by_id = {rule_uuid(rule): rule for rule in service.rules}
        by_rule_id = {rule.rule_id: rule for rule in service.rules}
        chosen: list[Rule] = []
        for rule_id in dict.fromkeys(ids):
            rule = by_id.get(rule_id) or by_rule_id.get(rule_id)
            if rule is None:
                _error(outcome, f"Rule not found: {rule_id}", 404, None, rule_id=rule_id)
            else:
                chosen.append(rule)
    else:
        keep = rule_filter(query) if query and query.strip() else (lambda _: True)
        objects = {o["id"]: o for o in rule_objects(service)}
        chosen = [rule for rule in service.rules if keep(objects[rule_uuid(rule)])]
    states = enabled_states(service)
    enabled = {rule_uuid(r): states.get(rule_uuid(r), (r.enabled, None))[0] for r in chosen}
    if action in ("enable", "disable"):
        wanted = action == "enable"
        changing = [r for r in chosen if enabled[rule_uuid(r)] != wanted]
        _set_enabled(service, changing, wanted)
        changed = {rule_uuid(r) for r in changing}
        objects = {o["id"]: o for o in rule_objects(service)}
        for rule in chosen:
            key = rule_uuid(rule)
            if key in changed:
                outcome.updated.append(objects[key])
            else:
                outcome.skipped.append({"id": key, "name": rule.name,
                                        "skip_reason": "RULE_NOT_MODIFIED"})
        return outcome
    assert window is not None
    runnable: list[Rule] = []
    for rule in chosen:
        if not enabled[rule_uuid(rule)]:
            _error(outcome, DISABLED_RUN, 400, rule, err_code="MANUAL_RULE_RUN_DISABLED_RULE")
        elif not_runnable(rule):
            _error(outcome, f"Lanner cannot run this rule: {not_runnable(rule)}", 400, rule,
                   err_code="MANUAL_RULE_RUN_FEATURE")
        else:
            runnable.append(rule)
    if runnable:
        outcome.runs = manual_run(service, runnable, window[0], window[1])
        failures = {r.rule.rule_id: r.error for r in outcome.runs if r.status == "failed"}
        objects = {o["id"]: o for o in rule_objects(service)}
        for rule in runnable:
            if rule.rule_id in failures:
                _error(outcome, failures[rule.rule_id] or "the rule failed", 400, rule,
                       err_code="MANUAL_RULE_RUN_FAILED")
            else:
                outcome.updated.append(objects[rule_uuid(rule)])
    return outcome


def _error(outcome: BulkOutcome, message: str, status_code: int, rule: Rule | None, *,
           err_code: str | None = None, rule_id: str | None = None) -> None:
    """One failed rule, grouped with others of the same message as Kibana groups them."""
    outcome.failed += 1
    ref = ({"id": rule_uuid(rule), "name": rule.name} if rule is not None
           else {"id": rule_id})
    for error in outcome.errors:
        if error["message"] == message and error.get("err_code") == err_code:
            error["rules"].append(ref)
            return
    error: dict[str, Any] = {"message": message, "status_code": status_code, "rules": [ref]}
    if err_code:
        error["err_code"] = err_code
    outcome.errors.append(error)


def _run_window(run: Mapping[str, Any] | None,
                now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    if not isinstance(run, Mapping):
        raise ApiError(400, "[request body]: run: Required")
    start = _date_parameter(run.get("start_date"), "start_date", now)
    end = _date_parameter(run.get("end_date"), "end_date", now) \
        if run.get("end_date") is not None else now
    if start >= end:
        raise ApiError(400, "Backfill end must be greater than backfill start")
    return start, end


def _date_parameter(value: Any, name: str, now: datetime.datetime) -> datetime.datetime:
    if not isinstance(value, str) or not value:
        raise ApiError(400, f"[request body]: run.{name}: Required")
    try:
        return datemath.parse(value, now=now)
    except datemath.DateMathError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"[request body]: run.{name}: Invalid date {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def manual_run(service: Service, rules: Sequence[Rule], start: datetime.datetime,
               end: datetime.datetime) -> list[RunReport]:
    """Each rule's schedule over [start, end] at once, as `lanner replay` runs it; the
    alerts go to the alert store, and each rule's outcome to the manual-run log."""
    with service.write_lock:
        _tables(service)
        clock = time.perf_counter()
        reports = replay(service.detector, rules, start=start, end=end)
        took = time.perf_counter() - clock
        finished = datetime.datetime.now(datetime.UTC)
        by_rule: dict[str, list[RunReport]] = {}
        for report in reports:
            by_rule.setdefault(report.rule.rule_id, []).append(report)
        for rule in rules:
            runs = by_rule.get(rule.rule_id, [])
            status = max((r.status for r in runs), key=lambda s: STATUS_ORDER.get(s, 30),
                         default="succeeded")
            messages = list(dict.fromkeys(
                m for r in runs for m in ([r.error] if r.error else []) + r.warnings))
            search_ms = sum(w.took for r in runs for w in r.windows) * 1000 if runs else took
            service.store.con.execute(
                f"INSERT INTO {_MANUAL_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [rule_uuid(rule), rule.rule_id, _naive(finished), status,
                 sum(len(r.created) for r in runs), "\n".join(messages) or None, search_ms,
                 _naive(start), _naive(end)])
    return reports


# -- alerts: search and status ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchRequestBody:
    query: Mapping[str, Any] | None = None
    size: int = 10
    from_: int = 0
    sort: Any = None
    aggs: Mapping[str, Any] | None = None
    source: Any = True
    track_total_hits: Any = None


def parse_search(body: Mapping[str, Any]) -> SearchRequestBody:
    """A search body, checked as ES checks it."""
    if not isinstance(body, Mapping):
        raise ApiError(400, "[request body]: expected an object")
    known = {"query", "size", "from", "sort", "aggs", "aggregations", "_source",
             "track_total_hits", "runtime_mappings", "fields"}
    for key in body:
        if key not in known:
            raise ApiError(400, f"[request body]: unknown or unsupported search key [{key}]")
    size = body.get("size", 10)
    from_ = body.get("from", 0)
    for name, value in (("size", size), ("from", from_)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ApiError(400, f"[request body]: [{name}] must be a whole number >= 0, "
                                f"not {value!r}")
    if size + from_ > MAX_RESULT_WINDOW:
        raise ApiError(400, f"Result window is too large, from + size must be less than or "
                            f"equal to: [{MAX_RESULT_WINDOW}] but was [{size + from_}]")
    query = body.get("query")
    if query is not None and not isinstance(query, Mapping):
        raise ApiError(400, "[request body]: query must be an object")
    aggs = body.get("aggs", body.get("aggregations"))
    if aggs is not None and not isinstance(aggs, Mapping):
        raise ApiError(400, "[request body]: aggs must be an object")
    return SearchRequestBody(query, size, from_, body.get("sort"), aggs,
                             body.get("_source", True), body.get("track_total_hits"))


def search_alerts(service: Service, request: SearchRequestBody,
                  now: datetime.datetime | None = None) -> dict[str, Any]:
    """Kibana's `signals/search`: the request over the alerts, in ES's search response shape
    (alert documents as `_source`, `_id` the alert's uuid)."""
    clock = time.perf_counter()
    now = now or datetime.datetime.now(datetime.UTC)
    query = request.query or {"match_all": {}}
    matches = compile_query(query, now)
    with service.write_lock:
        documents = service.alerts.find(building_blocks=True, **_pushdown(query))
    hits = [d for d in documents if matches(d)]
    if request.sort is not None:
        hits = _sorted_documents(hits, _sort_spec(request.sort), _alert_sort_value)
    page = hits[request.from_:request.from_ + request.size]
    total: dict[str, Any] = {"value": len(hits), "relation": "eq"}
    if request.track_total_hits is False:
        total = {}
    elif request.track_total_hits in (None, True) or isinstance(request.track_total_hits, int):
        cap = (MAX_RESULT_WINDOW if request.track_total_hits is None
               else None if request.track_total_hits is True else request.track_total_hits)
        if cap is not None and len(hits) > cap:
            total = {"value": cap, "relation": "gte"}
    response: dict[str, Any] = {
        "took": round((time.perf_counter() - clock) * 1000), "timed_out": False,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": {"max_score": None if request.sort is not None else (1.0 if page else None),
                 "hits": [_hit(d, request) for d in page]},
    }
    if total:
        response["hits"]["total"] = total
    if request.aggs:
        response["aggregations"] = aggregate(request.aggs, hits)
    return response


def _hit(document: dict[str, Any], request: SearchRequestBody) -> dict[str, Any]:
    hit: dict[str, Any] = {"_index": ALERTS_INDEX, "_id": document.get("kibana.alert.uuid"),
                           "_score": None if request.sort is not None else 1.0}
    source = _filter_source(document, request.source)
    if source is not None:
        hit["_source"] = source
    if request.sort is not None:
        hit["sort"] = [_alert_sort_value(document, path) for path, _ in _sort_spec(request.sort)]
    return hit


def _filter_source(document: dict[str, Any], spec: Any) -> dict[str, Any] | None:
    if spec is False:
        return None
    if spec is True or spec is None:
        return document
    includes: list[str] = []
    excludes: list[str] = []
    if isinstance(spec, str):
        includes = [spec]
    elif isinstance(spec, list):
        includes = [str(s) for s in spec]
    elif isinstance(spec, Mapping):
        includes = _strings(spec.get("includes", spec.get("include", [])))
        excludes = _strings(spec.get("excludes", spec.get("exclude", [])))
    else:
        raise ApiError(400, f"[_source] must be a boolean, a string, a list or an object, "
                            f"not {spec!r}")

    def keep(key: str) -> bool:
        included = not includes or any(
            fnmatch.fnmatchcase(key, p) or key.startswith(p + ".") or p.startswith(key + ".")
            for p in includes)
        return included and not any(fnmatch.fnmatchcase(key, p) or key.startswith(p + ".")
                                    for p in excludes)

    return {key: value for key, value in document.items() if keep(key)}


def _strings(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """What `signals/status` did, counted as ES's update-by-query counts."""

    total: int
    updated: int
    took_ms: int

    def as_kibana(self) -> dict[str, Any]:
        return {"took": self.took_ms, "timed_out": False, "total": self.total,
                "updated": self.updated, "deleted": 0, "batches": 1 if self.total else 0,
                "version_conflicts": 0, "noops": self.total - self.updated,
                "retries": {"bulk": 0, "search": 0}, "throttled_millis": 0,
                "requests_per_second": -1.0, "throttled_until_millis": 0, "failures": []}


def set_alert_status(service: Service, status: Any, *, signal_ids: Any = None,
                     query: Any = None, reason: str | None = None,
                     now: datetime.datetime | None = None) -> StatusUpdate:
    """Kibana's `signals/status`: the workflow status of the alerts named or matched."""
    clock = time.perf_counter()
    if status == "in-progress":  # Kibana's former name, still accepted
        status = "acknowledged"
    if status not in WORKFLOW_STATUSES:
        raise ApiError(400, f"[request body]: status: Invalid enum value. Expected "
                            f"{' | '.join(repr(s) for s in WORKFLOW_STATUSES)}, received "
                            f"{status!r}")
    if (signal_ids is None) == (query is None):
        raise ApiError(400, "[request body]: either signal_ids or query is required, "
                            "not both")
    if reason is not None and not isinstance(reason, str):
        raise ApiError(400, "[request body]: reason: Expected string")
    if signal_ids is not None:
        if not isinstance(signal_ids, list) or not all(isinstance(i, str) for i in signal_ids):
            raise ApiError(400, "[request body]: signal_ids: Expected array of strings")
        with service.write_lock:
            ids = sorted(service.alerts.existing(signal_ids))
    else:
        if not isinstance(query, Mapping):
            raise ApiError(400, "[request body]: query: Expected object")
        matches = compile_query(query, now or datetime.datetime.now(datetime.UTC))
        with service.write_lock:
            candidates = service.alerts.find(building_blocks=True, **_pushdown(query))
        ids = [d["kibana.alert.uuid"] for d in candidates if matches(d)]
    with service.write_lock:
        try:
            updated = service.alerts.set_status(ids, status, reason=reason) if ids else 0
        except AlertStoreError as error:
            raise ApiError(400, str(error)) from None
    return StatusUpdate(len(ids), updated, round((time.perf_counter() - clock) * 1000))


# -- Query DSL over alert documents ----------------------------------------------------------

# Alert fields the alert store has columns for: a term on one of them, required by the query
# (top level, or in a bool's must/filter), narrows the documents read before the query runs.
_PUSHDOWN = {"kibana.alert.workflow_status": "status", "kibana.alert.rule.rule_id": "rule_id",
             "kibana.alert.rule.uuid": "rule_uuid",
             "kibana.alert.rule.parameters.rule_id": "rule_id"}


def _pushdown(query: Any) -> dict[str, list[str]]:
    """AlertStore.find conditions implied by the query: the store's columns hold the same
    values the documents do, so this only saves reading documents the query rejects."""
    conditions: dict[str, list[str]] = {}
    for clause in _required(query):
        ((kind, body),) = clause.items()
        if kind == "term" and isinstance(body, Mapping) and len(body) == 1:
            ((name, value),) = body.items()
            if isinstance(value, Mapping):
                if value.get("case_insensitive"):
                    continue
                value = value.get("value")
            values = [value]
        elif kind == "terms" and isinstance(body, Mapping) and len(body) == 1:
            ((name, values),) = body.items()
        else:
            continue
        column = _PUSHDOWN.get(name)
        if column is None or not isinstance(values, list) \
                or not all(isinstance(v, str) for v in values):
            continue
        if column == "status" and not all(v in WORKFLOW_STATUSES for v in values):
            continue
        if column in conditions:  # two conditions on one column: both must hold
            values = [v for v in values if v in conditions[column]]
        conditions[column] = values
    return conditions


def _required(query: Any) -> list[Mapping[str, Any]]:
    """The leaf clauses every match must satisfy (conjunctions only)."""
    if not isinstance(query, Mapping) or len(query) != 1:
        return []
    ((kind, body),) = query.items()
    if kind != "bool":
        return [query]
    if not isinstance(body, Mapping):
        return []
    found: list[Mapping[str, Any]] = []
    for key in ("must", "filter"):
        clauses = body.get(key, [])
        for clause in [clauses] if isinstance(clauses, Mapping) else clauses or []:
            found.extend(_required(clause))
    return found

Predicate = Callable[[Mapping[str, Any]], bool]


def compile_query(query: Mapping[str, Any], now: datetime.datetime) -> Predicate:
    """A predicate for the Query DSL basics over alert documents: match_all, match_none,
    bool, term, terms, ids, match, match_phrase, multi_match, prefix, wildcard, range,
    exists. Anything else is ES's `parsing_exception` (a 400)."""
    if not isinstance(query, Mapping) or len(query) != 1:
        raise ApiError(400, f"[parsing_exception] a query must be an object with exactly one "
                            f"query type, not {query!r}")
    ((kind, body),) = query.items()
    builder = _QUERIES.get(kind)
    if builder is None:
        raise ApiError(400, f"[parsing_exception] unknown or unsupported query [{kind}]")
    return builder(body, now)


def _clauses(body: Mapping[str, Any], key: str, now: datetime.datetime) -> list[Predicate]:
    value = body.get(key, [])
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        raise ApiError(400, f"[parsing_exception] [bool] [{key}] must be an object or array")
    return [compile_query(clause, now) for clause in value]


def _bool(body: Any, now: datetime.datetime) -> Predicate:
    if not isinstance(body, Mapping):
        raise ApiError(400, "[parsing_exception] [bool] query malformed")
    unknown = set(body) - {"must", "filter", "should", "must_not", "minimum_should_match",
                           "boost", "_name"}
    if unknown:
        raise ApiError(400, f"[parsing_exception] [bool] query does not support "
                            f"[{sorted(unknown)[0]}]")
    must = _clauses(body, "must", now) + _clauses(body, "filter", now)
    should = _clauses(body, "should", now)
    must_not = _clauses(body, "must_not", now)
    minimum = body.get("minimum_should_match")
    if minimum is None:
        minimum = 0 if must else (1 if should else 0)
    elif isinstance(minimum, str) and minimum.endswith("%"):
        minimum = int(len(should) * int(minimum[:-1]) / 100)
    try:
        minimum = int(minimum)
    except (TypeError, ValueError):
        raise ApiError(400, f"[parsing_exception] bad minimum_should_match {minimum!r}") \
            from None
    if minimum < 0:
        minimum = max(len(should) + minimum, 0)

    def test(document: Mapping[str, Any]) -> bool:
        if not all(p(document) for p in must) or any(p(document) for p in must_not):
            return False
        return minimum == 0 or sum(p(document) for p in should) >= minimum

    return test


def _field_body(kind: str, body: Any, value_key: str = "value") -> tuple[str, Any, Mapping]:
    if not isinstance(body, Mapping) or not body:
        raise ApiError(400, f"[parsing_exception] [{kind}] query malformed, no field")
    fields = [k for k in body if k not in ("boost", "_name")]
    if len(fields) != 1:
        raise ApiError(400, f"[parsing_exception] [{kind}] query doesn't support multiple "
                            f"fields, found [{', '.join(fields)}]")
    name = fields[0]
    value = body[name]
    if isinstance(value, Mapping):
        if value_key not in value:
            raise ApiError(400, f"[parsing_exception] [{kind}] query on [{name}] needs "
                                f"[{value_key}]")
        return name, value[value_key], value
    return name, value, {}


def _same(found: Any, wanted: Any, case_insensitive: bool = False) -> bool:
    if isinstance(found, bool) or isinstance(wanted, bool):
        return str(found).lower() == str(wanted).lower()
    if isinstance(found, (int, float)) and not isinstance(wanted, (list, dict)):
        try:
            return float(found) == float(wanted)
        except (TypeError, ValueError):
            return False
    if case_insensitive:
        return str(found).lower() == str(wanted).lower()
    return str(found) == str(wanted)


def _term(body: Any, now: datetime.datetime) -> Predicate:
    name, wanted, options = _field_body("term", body)
    insensitive = bool(options.get("case_insensitive", False))
    if name == "_id":
        name = "kibana.alert.uuid"
    return lambda d: any(_same(v, wanted, insensitive) for v in field_values(d, name))


def _terms(body: Any, now: datetime.datetime) -> Predicate:
    if not isinstance(body, Mapping):
        raise ApiError(400, "[parsing_exception] [terms] query malformed")
    fields = [k for k in body if k not in ("boost", "_name")]
    if len(fields) != 1 or not isinstance(body[fields[0]], list):
        raise ApiError(400, "[parsing_exception] [terms] query needs one field with an array "
                            "of values")
    name, wanted = fields[0], body[fields[0]]
    if name == "_id":
        name = "kibana.alert.uuid"
    return lambda d: any(_same(v, w) for v in field_values(d, name) for w in wanted)


def _ids(body: Any, now: datetime.datetime) -> Predicate:
    values = body.get("values") if isinstance(body, Mapping) else None
    if not isinstance(values, list):
        raise ApiError(400, "[parsing_exception] [ids] query needs [values]")
    wanted = {str(v) for v in values}
    return lambda d: d.get("kibana.alert.uuid") in wanted


def _match(body: Any, now: datetime.datetime) -> Predicate:
    name, wanted, options = _field_body("match", body, "query")
    if options.get("operator", "or").lower() == "and":
        words = str(wanted).lower().split()
        return lambda d: any(all(w in _words(v) for w in words) for v in field_values(d, name))
    words = set(str(wanted).lower().split()) if isinstance(wanted, str) else set()

    def test(document: Mapping[str, Any]) -> bool:
        for value in field_values(document, name):
            if _same(value, wanted) or (isinstance(value, str) and words & _words(value)):
                return True
        return False

    return test


def _words(value: Any) -> set[str]:
    return set(re.findall(r"[\w.']+", str(value).lower()))


def _match_phrase(body: Any, now: datetime.datetime) -> Predicate:
    name, wanted, _ = _field_body("match_phrase", body, "query")
    text = str(wanted).lower()
    return lambda d: any(text in str(v).lower() for v in field_values(d, name))


def _multi_match(body: Any, now: datetime.datetime) -> Predicate:
    if not isinstance(body, Mapping) or "query" not in body:
        raise ApiError(400, "[parsing_exception] [multi_match] needs [query]")
    fields = body.get("fields") or []
    tests = [_match({f.split("^")[0]: {"query": body["query"]}}, now) for f in fields]
    return lambda d: any(t(d) for t in tests)


def _prefix(body: Any, now: datetime.datetime) -> Predicate:
    name, wanted, options = _field_body("prefix", body)
    insensitive = bool(options.get("case_insensitive", False))
    prefix = str(wanted).lower() if insensitive else str(wanted)
    return lambda d: any((str(v).lower() if insensitive else str(v)).startswith(prefix)
                         for v in field_values(d, name))


def _wildcard(body: Any, now: datetime.datetime) -> Predicate:
    name, wanted, options = _field_body("wildcard", body)
    insensitive = bool(options.get("case_insensitive", False))
    pattern = re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in str(wanted)),
        re.DOTALL | (re.IGNORECASE if insensitive else 0))
    return lambda d: any(pattern.fullmatch(str(v)) for v in field_values(d, name))


def _exists(body: Any, now: datetime.datetime) -> Predicate:
    name = body.get("field") if isinstance(body, Mapping) else None
    if not isinstance(name, str):
        raise ApiError(400, "[parsing_exception] [exists] needs [field]")
    return lambda d: bool(field_values(d, name)) or _has_object(d, name)


def _has_object(document: Mapping[str, Any], name: str) -> bool:
    prefix = name + "."
    return any(key.startswith(prefix) for key in document)


def _range(body: Any, now: datetime.datetime) -> Predicate:
    if not isinstance(body, Mapping) or len(body) != 1:
        raise ApiError(400, "[parsing_exception] [range] query needs exactly one field")
    ((name, bounds),) = body.items()
    if not isinstance(bounds, Mapping):
        raise ApiError(400, f"[parsing_exception] [range] query on [{name}] malformed")
    checks: list[tuple[str, Any]] = []
    for op in ("gt", "gte", "lt", "lte", "from", "to"):
        if op in bounds and bounds[op] is not None:
            checks.append((op, bounds[op]))

    def compare(value: Any, op: str, bound: Any) -> bool:
        left, right = _comparable(value, bound, now, round_up=op in ("lte", "gt", "to"))
        if left is None:
            return False
        try:
            if op == "gt":
                return left > right
            if op in ("gte", "from"):
                return left >= right
            if op == "lt":
                return left < right
            return left <= right
        except TypeError:
            return False

    return lambda d: any(all(compare(v, op, b) for op, b in checks)
                         for v in field_values(d, name))


def _comparable(value: Any, bound: Any, now: datetime.datetime,
                round_up: bool) -> tuple[Any, Any]:
    """The two sides of a range comparison as numbers, dates or text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value), float(bound)
        except (TypeError, ValueError):
            return None, None
    if isinstance(value, str):
        moment = _date(value)
        if moment is not None:
            if isinstance(bound, (int, float)) and not isinstance(bound, bool):
                return moment, datetime.datetime.fromtimestamp(bound / 1000, datetime.UTC)
            try:
                return moment, datemath.parse(str(bound), now=now, round_up=round_up)
            except datemath.DateMathError:
                other = _date(str(bound))
                return (moment, other) if other is not None else (None, None)
        return value, str(bound)
    return None, None


def _date(text: str) -> datetime.datetime | None:
    if not text[:4].isdigit() or len(text) < 10 or text[4] != "-":
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _match_all(body: Any, now: datetime.datetime) -> Predicate:
    return lambda d: True


def _match_none(body: Any, now: datetime.datetime) -> Predicate:
    return lambda d: False


def _constant_score(body: Any, now: datetime.datetime) -> Predicate:
    if not isinstance(body, Mapping) or "filter" not in body:
        raise ApiError(400, "[parsing_exception] [constant_score] needs [filter]")
    return compile_query(body["filter"], now)


_QUERIES: dict[str, Callable[[Any, datetime.datetime], Predicate]] = {
    "match_all": _match_all, "match_none": _match_none, "bool": _bool, "term": _term,
    "terms": _terms, "ids": _ids, "match": _match, "match_phrase": _match_phrase,
    "multi_match": _multi_match, "prefix": _prefix, "wildcard": _wildcard,
    "exists": _exists, "range": _range, "constant_score": _constant_score,
}


# -- sorting and aggregations ----------------------------------------------------------------


def _sort_spec(sort: Any) -> list[tuple[str, str]]:
    """ES's sort forms: "field", {"field": "desc"}, {"field": {"order": "desc"}}, lists."""
    items = sort if isinstance(sort, list) else [sort]
    spec: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, str):
            name, _, order = item.partition(":")
            spec.append((name, order or ("desc" if name == "_score" else "asc")))
        elif isinstance(item, Mapping) and len(item) == 1:
            ((name, how),) = item.items()
            order = how.get("order", "asc") if isinstance(how, Mapping) else how
            spec.append((name, order))
        else:
            raise ApiError(400, f"[parsing_exception] malformed sort {item!r}")
    for name, order in spec:
        if order not in ("asc", "desc"):
            raise ApiError(400, f"[parsing_exception] sort order of [{name}] must be asc or "
                                f"desc, not {order!r}")
    return spec


def _alert_sort_value(document: Mapping[str, Any], path: str) -> Any:
    if path in ("_score", "_doc"):
        return None
    if path == "_id":
        return document.get("kibana.alert.uuid")
    values = field_values(document, path)
    if not values:
        return None
    value = values[0]
    if isinstance(value, str):
        moment = _date(value)
        if moment is not None:
            return int(moment.timestamp() * 1000)  # ES sorts dates as epoch millis
    return value


def _sorted_documents(documents: Iterable[Mapping[str, Any]], spec: Sequence[tuple[str, str]],
                      value_of: Callable[[Mapping[str, Any], str], Any]) -> list[Any]:
    """Stable sort by each field in turn, missing values last whatever the order."""
    ordered = list(documents)
    for path, order in reversed(spec):
        if path in ("_score", "_doc"):
            continue
        keyed = [(value_of(d, path), d) for d in ordered]
        present = [(v, d) for v, d in keyed if v is not None]
        missing = [d for v, d in keyed if v is None]
        present.sort(key=lambda pair: _sort_key(pair[0]), reverse=order == "desc")
        ordered = [d for _, d in present] + missing
    return ordered


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (0, value)
    return (1, str(value))


def aggregate(aggs: Mapping[str, Any], documents: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """ES's terms, cardinality, value_count, min, max, sum, avg and filter aggregations."""
    results: dict[str, Any] = {}
    for name, spec in aggs.items():
        if not isinstance(spec, Mapping):
            raise ApiError(400, f"[parsing_exception] aggregation [{name}] malformed")
        sub = spec.get("aggs", spec.get("aggregations"))
        kinds = [k for k in spec if k not in ("aggs", "aggregations", "meta")]
        if len(kinds) != 1:
            raise ApiError(400, f"[parsing_exception] aggregation [{name}] needs exactly one "
                                f"type")
        kind, body = kinds[0], spec[kinds[0]]
        if kind == "filter":
            matching = [d for d in documents if compile_query(body, _utc_now())(d)]
            result: dict[str, Any] = {"doc_count": len(matching)}
            if sub:
                result.update(aggregate(sub, matching))
            results[name] = result
            continue
        if not isinstance(body, Mapping) or not isinstance(body.get("field"), str):
            raise ApiError(400, f"[parsing_exception] aggregation [{name}] of type [{kind}] "
                                f"needs [field]")
        path = body["field"]
        if kind == "terms":
            results[name] = _terms_aggregation(body, path, documents, sub)
            continue
        values = [v for d in documents for v in field_values(d, path)]
        numbers = [float(v) for v in values
                   if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if kind == "cardinality":
            results[name] = {"value": len({str(v) for v in values})}
        elif kind == "value_count":
            results[name] = {"value": len(values)}
        elif kind in ("min", "max", "sum", "avg"):
            if kind == "sum":
                value: Any = sum(numbers)
            elif not numbers:
                value = None
            else:
                value = {"min": min, "max": max}.get(kind, lambda n: sum(n) / len(n))(numbers)
            results[name] = {"value": value}
        else:
            raise ApiError(400, f"[parsing_exception] unsupported aggregation type [{kind}] "
                                f"in [{name}]")
    return results


def _terms_aggregation(body: Mapping[str, Any], path: str,
                       documents: Sequence[Mapping[str, Any]],
                       sub: Mapping[str, Any] | None) -> dict[str, Any]:
    size = body.get("size", 10)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ApiError(400, f"[parsing_exception] [terms] size must be >= 1, not {size!r}")
    groups: dict[Any, list[Mapping[str, Any]]] = {}
    for document in documents:
        for value in dict.fromkeys(field_values(document, path)):
            groups.setdefault(value, []).append(document)
    missing = body.get("missing")
    if missing is not None:
        absent = [d for d in documents if not field_values(d, path)]
        if absent:
            groups.setdefault(missing, []).extend(absent)
    order = body.get("order", {"_count": "desc"})
    (order_key, direction), *_ = (order.items() if isinstance(order, Mapping)
                                  else [("_count", "desc")])
    if order_key == "_key":
        keys = sorted(groups, key=_sort_key, reverse=direction == "desc")
    else:
        keys = sorted(groups, key=_sort_key)
        keys.sort(key=lambda k: len(groups[k]), reverse=direction == "desc")
    buckets = []
    for key in keys[:size]:
        bucket: dict[str, Any] = {"key": key, "doc_count": len(groups[key])}
        if isinstance(key, bool):
            bucket = {"key": int(key), "key_as_string": str(key).lower(),
                      "doc_count": len(groups[key])}
        if sub:
            bucket.update(aggregate(sub, groups[key]))
        buckets.append(bucket)
    return {"doc_count_error_upper_bound": 0,
            "sum_other_doc_count": sum(len(groups[k]) for k in keys[size:]),
            "buckets": buckets}


# -- time ------------------------------------------------------------------------------------


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _utc(moment: datetime.datetime | None) -> datetime.datetime:
    if moment is None:
        return datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    return moment.replace(tzinfo=datetime.UTC) if moment.tzinfo is None else moment


def _naive(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(datetime.UTC).replace(tzinfo=None)


def _file_time(path: str | None) -> datetime.datetime | None:
    if not path:
        return None
    try:
        return datetime.datetime.fromtimestamp(os.stat(path).st_mtime, datetime.UTC)
    except OSError:
        return None
