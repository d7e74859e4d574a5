"""ES|QL rules through Detector as Kibana's esqlExecutor runs them: non-aggregating rows are
their source event with the row merged over it, aggregating rows documents of their columns;
Kibana's ids, max_signals, windows, MV_EXPAND, exceptions on source events, suppression on
computed columns, not-runnable COMPLETION, errors placed in the rule file."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from lanner.cli.app import app
from lanner.detection.aggregating import object_hash
from lanner.detection.alerts import rule_uuid
from lanner.detection.exceptions import ExceptionEntry, ExceptionItem, ExceptionLists
from lanner.detection.run import Detector
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.rules import AlertSuppression, Rule, load_rule_file
from lanner.rules.model import ExceptionListRef
from lanner.store import EventStore
from lanner.store.alerts import AlertStore

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "detection-rules-other"
T0 = datetime.datetime(2026, 11, 20, 10, 0, tzinfo=datetime.UTC)
EVENTS = [
    {"@timestamp": "2026-11-20T09:58:00.000Z", "host": {"name": "h1"}, "user": {"name": "a"},
     "event": {"category": ["process"], "action": ["start", "exec"]},
     "process": {"name": "cmd.exe", "args": ["/c", "whoami"]}},
    {"@timestamp": "2026-11-20T09:59:00.000Z", "host": {"name": "h1"}, "user": {"name": "b"},
     "event": {"category": ["process"], "action": "start"},
     "process": {"name": "cmd.exe", "args": ["/c", "net"]}},
    {"@timestamp": "2026-11-20T09:30:00.000Z", "host": {"name": "h2"}, "user": {"name": "c"},
     "event": {"category": ["process"], "action": "start"},
     "process": {"name": "powershell.exe"}},
]
EVENT_RULE = Rule(
    name="cmd", rule_id="esql-cmd", type="esql", language="esql", index=(),
    query='FROM logs-* METADATA _id, _index, _version | WHERE process.name == "cmd.exe" '
          "| EVAL Esql.name = TO_UPPER(process.name) | KEEP _id, _index, _version, Esql.*",
    from_="now-6m", interval="5m", max_signals=100)
STATS_RULE = replace(
    EVENT_RULE, rule_id="esql-stats", name="per host",
    query="FROM logs-* | STATS Esql.count = COUNT(*), Esql.users = VALUES(user.name) "
          "BY host.name | WHERE Esql.count >= 2 | KEEP host.name, Esql.*")
SPACE_RULE = "default:{}"


@pytest.fixture
def detector() -> Iterator[Detector]:
    with EventStore() as store:
        report = store.bulk([line for doc in EVENTS
                             for line in ({"index": {"_index": "logs-test"}}, doc)])
        assert report.bad_lines == []
        yield Detector(DuckDBBackend(store), AlertStore(store.con))


def ids_of(detector: Detector) -> dict[str, str]:
    """The stored event ids by user name."""
    rows = detector.backend.store.con.execute(
        'SELECT _doc FROM events ORDER BY _doc').fetchall()
    documents = detector.backend.documents([r[0] for r in rows])
    found = {}
    for document in documents.values():
        name = document.source.split('"user":{"name":"')[1][0]
        found[name] = document.id
    return found


def test_a_non_aggregating_rule_alerts_on_each_event_with_its_row(detector: Detector) -> None:
    report = detector.hunt(EVENT_RULE, started_at=T0)
    assert report.error is None
    alerts = sorted(report.alerts, key=lambda a: a["user"]["name"])
    assert [a["user"]["name"] for a in alerts] == ["a", "b"]
    first = alerts[0]
    assert first["Esql.name"] == "CMD.EXE"  # the row's column, merged over the event
    assert first["host"]["name"] == "h1"  # KEEP does not remove source fields
    assert first["kibana.alert.rule.rule_type_id"] == "siem.esqlRule"
    space_rule = SPACE_RULE.format(rule_uuid(EVENT_RULE))
    assert first["kibana.alert.uuid"] == object_hash(
        [ids_of(detector)["a"], 1, "logs-test", space_rule])
    assert first["kibana.alert.ancestors"][0]["id"] == ids_of(detector)["a"]
    # the same events again: the same ids, which the store already holds
    again = detector.hunt(EVENT_RULE, started_at=T0 + datetime.timedelta(minutes=5))
    assert again.created == [] and again.duplicates == 2


def test_an_aggregating_rule_alerts_on_its_rows_with_window_ids(detector: Detector) -> None:
    report = detector.run(STATS_RULE, started_at=T0)
    assert report.error is None
    (alert,) = report.alerts
    assert alert["host.name"] == "h1" and alert["Esql.count"] == 2
    assert alert["Esql.users"] == ["a", "b"]
    assert "process" not in alert and "user" not in alert  # the row only
    assert "kibana.alert.original_time" not in alert  # the row keeps no @timestamp
    window = report.windows[0]
    start = window.start.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    end = window.end.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert alert["kibana.alert.uuid"] == object_hash(
        [start, end, STATS_RULE.query, SPACE_RULE.format(rule_uuid(STATS_RULE)), 0])
    # the next run's window is in the id: the same group alerts again (Kibana does)
    later = detector.run(STATS_RULE, started_at=T0 + datetime.timedelta(minutes=1),
                         previous_started_at=T0)
    assert len(later.created) == 1 and later.created != report.created
    # a hunt has no window: the same hunt gives the same ids
    hunted = [detector.hunt(STATS_RULE, started_at=T0 + datetime.timedelta(hours=h)).alerts
              for h in (1, 2)]
    assert [a["kibana.alert.uuid"] for a in hunted[0]] == [
        a["kibana.alert.uuid"] for a in hunted[1]] == [object_hash(
            ["", "", STATS_RULE.query, SPACE_RULE.format(rule_uuid(STATS_RULE)), 0])]


def test_the_window_filters_source_events(detector: Detector) -> None:
    rule = replace(STATS_RULE, query="FROM logs-* | STATS Esql.count = COUNT(*) BY host.name")
    report = detector.run(rule, started_at=T0)
    assert sorted((a["host.name"], a["Esql.count"]) for a in report.alerts) == [("h1", 2)]


def test_max_signals_cuts_and_warns(detector: Detector) -> None:
    report = detector.hunt(replace(EVENT_RULE, max_signals=1), started_at=T0, max_signals=1)
    assert len(report.alerts) == 1
    assert any("maximum alert limit" in w for w in report.warnings)
    # the next run pages past the stored alert: the other event, and no warning
    again = detector.hunt(replace(EVENT_RULE, max_signals=1), started_at=T0, max_signals=1)
    assert len(again.created) == 1 and again.created != report.created
    assert not any("maximum alert limit" in w for w in again.warnings)


def test_mv_expand_makes_one_alert_per_value_with_the_value_in_the_id(
        detector: Detector) -> None:
    rule = replace(EVENT_RULE, rule_id="esql-expand",
                   query='FROM logs-* METADATA _id, _index, _version | WHERE user.name == "a" '
                         "| MV_EXPAND event.action | KEEP _id, _index, _version, event.action")
    report = detector.hunt(rule, started_at=T0)
    assert sorted(a["event.action"] for a in report.alerts) == ["exec", "start"]
    space_rule = SPACE_RULE.format(rule_uuid(rule))
    event_id = ids_of(detector)["a"]
    assert {a["kibana.alert.uuid"] for a in report.alerts} == {
        object_hash([event_id, 1, "logs-test", space_rule, value]) for value in ("exec", "start")}


def test_completion_is_not_runnable_and_unknown_columns_fail_in_the_rule_file(
        detector: Detector) -> None:
    llm = replace(EVENT_RULE, rule_id="esql-llm",
                  query='FROM logs-* | COMPLETION x = "hi" WITH {"inference_id": "e"}')
    report = detector.hunt(llm, started_at=T0)
    assert report.error is not None and "not runnable offline" in report.error
    assert "COMPLETION" in report.error
    typo = replace(EVENT_RULE, rule_id="esql-typo", path="export.ndjson",
                   query="FROM logs-* | STATS n = COUNT(*) BY host.name | WHERE nope > 1")
    report = detector.hunt(typo, started_at=T0)
    assert report.error == "export.ndjson:1:55: error: Unknown column [nope]"


def test_alert_suppression_groups_on_computed_columns(detector: Detector) -> None:
    rule = replace(EVENT_RULE, rule_id="esql-suppress",
                   alert_suppression=AlertSuppression(("Esql.name",), "5m"))
    report = detector.run(rule, started_at=T0)
    assert len(report.created) == 1 and report.suppressed == 1


def test_exceptions_drop_source_events_before_the_aggregation(detector: Detector) -> None:
    lists = ExceptionLists(items=[ExceptionItem(
        "not b", "trusted", (ExceptionEntry("user.name", "match", value="b"),))])
    excepting = Detector(detector.backend, detector.alerts, exceptions=lists)
    rule = replace(STATS_RULE, rule_id="esql-except",
                   query="FROM logs-* | STATS Esql.count = COUNT(*) BY host.name "
                         "| KEEP host.name, Esql.count",
                   exceptions_list=(ExceptionListRef("trusted"),))
    report = excepting.hunt(rule, started_at=T0)
    assert sorted((a["host.name"], a["Esql.count"]) for a in report.alerts) == [
        ("h1", 1), ("h2", 1)]


def test_a_corpus_rule_alerts_on_recursive_credential_greps() -> None:
    """detection-rules' "Potential Credential Discovery via Recursive Grep": three distinct
    recursive greps for secrets by one process name, host and user within a minute."""
    rule = load_rule_file(CORPUS / "rules" / "cross-platform"
                          / "credential_access_grep_recursive_credential_discovery.toml")

    def grep(second: int, command_line: str, name: str = "grep") -> dict[str, Any]:
        return {"@timestamp": f"2026-11-20T09:58:{second:02d}.000Z",
                "event": {"category": ["process"], "type": ["start"]},
                "host": {"os": {"type": "linux"}, "id": "host-1", "name": "web-1"},
                "agent": {"id": "agent-1"}, "user": {"name": "root"},
                "process": {"name": name, "command_line": command_line,
                            "parent": {"name": "bash", "command_line": "bash"}}}

    events = [grep(1, "grep -r password /etc"), grep(2, "grep -R token /srv"),
              grep(3, "grep --recursive secret /home"),
              grep(4, "egrep -r password /etc", name="egrep"),  # another process name
              grep(5, "grep password /etc")]  # not recursive
    with EventStore() as store:
        store.bulk([line for doc in events for line in (
            {"index": {"_index": "logs-endpoint.events.process-default"}}, doc)])
        report = Detector(DuckDBBackend(store)).hunt(rule, started_at=T0)
    assert report.error is None
    (alert,) = report.alerts
    assert alert["Esql.unique_cmd"] == 3
    assert alert["Esql.cmd_values"] == ["grep --recursive secret /home", "grep -R token /srv",
                                        "grep -r password /etc"]
    assert (alert["host.name"], alert["user.name"], alert["process.parent.name"]) == (
        "web-1", "root", "bash")
    assert alert["Esql.time_bucket"] == "2026-11-20T09:58:00.000Z"
    assert "process.name" not in alert  # KEEP drops the BY key it does not list


def test_a_keep_star_rule_hunts_a_store_loaded_for_its_fields_only(tmp_path: Path) -> None:
    """A hunt's store reads only the fields its rules name; `KEEP *` names none, and the
    Defend multi-fields of parents the store did not read must not be asked for."""
    events = tmp_path / "events.ndjson"
    events.write_text(
        '{"@timestamp": "2026-11-20T10:00:00Z", "event": {"category": "process", "type": '
        '"start"}, "process": {"name": "svch0st.exe", "executable": "C:\\\\Temp\\\\svch0st.exe"}}\n'
        '{"@timestamp": "2026-11-20T10:00:01Z", "event": {"category": "process", "type": '
        '"start"}, "process": {"name": "svchost.exe", '
        '"executable": "C:\\\\Windows\\\\System32\\\\svchost.exe"}}\n', encoding="utf-8")
    rule = CORPUS / "rules" / "windows" / "defense_evasion_masquerading_as_svchost.toml"
    out = tmp_path / "alerts.ndjson"
    result = CliRunner().invoke(app, ["hunt", "--rules", str(rule), str(events), "--index",
                                      "logs-endpoint.events.process-default", "-o", str(out)])
    assert "failed" not in result.stderr + result.stdout, result.stderr + result.stdout
    assert result.exit_code == 0, result.stderr
    alerts = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    # Kibana moves each row value over its source field as a dotted key (mergeEsqlResultInSource)
    assert [a["process.name"] for a in alerts] == ["svch0st.exe"]
