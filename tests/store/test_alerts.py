"""The alert store over a real DuckDB: dedup, filters, workflow status, persistence, scale."""

from __future__ import annotations

import datetime
import hashlib
import time
import tomllib
from pathlib import Path
from typing import Any

import duckdb
import pytest

from lanner.store import AlertFilter, AlertStore, AlertStoreError, EventStore
from tests.conftest import SHARED, require_shared

SEED_DOCS = SHARED / "rules" / "seed-docs"


def seed_rule(stem: str) -> dict[str, Any]:
    """A rule as the (Chinese) seed pages give it: names, severities and ATT&CK mappings."""
    require_shared()
    return tomllib.loads((SEED_DOCS / f"{stem}.toml").read_text(encoding="utf-8"))["rule"]


BITS = "ingress_transfer_bits"  # low, TA0011 + TA0005, T1105 and T1197
POWERSHELL = "remote_file_download_powershell"  # medium, TA0002 Execution, T1059.001
ORCHESTRATOR = "update_orchestrator_hijack"  # high, Persistence + Privilege Escalation


def alert_id(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def make_alert(
    number: int,
    stem: str = BITS,
    *,
    host: Any = "ws-01",
    user: Any = "alice",
    original_time: str = "2024-05-01T10:00:00.000Z",
    **fields: Any,
) -> dict[str, Any]:
    """An alert shaped as Kibana writes one: the event nested, Kibana's fields dotted."""
    rule = seed_rule(stem)
    alert = {
        "@timestamp": "2024-05-02T08:00:00.000Z",
        "host": {"name": host, "os": {"family": "windows"}},
        "user": {"name": user, "domain": "CORP"},
        "process": {"name": "bitsadmin.exe", "args": ["bitsadmin.exe", "/transfer"]},
        "event.kind": "signal",
        "kibana.alert.uuid": alert_id(stem, number),
        "kibana.alert.rule.uuid": f"uuid-{rule['rule_id']}",
        "kibana.alert.rule.rule_id": rule["rule_id"],
        "kibana.alert.rule.name": rule["name"],
        "kibana.alert.rule.description": rule["description"],
        "kibana.alert.severity": rule["severity"],
        "kibana.alert.risk_score": rule["risk_score"],
        "kibana.alert.original_time": original_time,
        "kibana.alert.workflow_status": "open",
        "kibana.alert.rule.threat": rule["threat"],
    }
    alert.update(fields)
    return alert


def ids(alerts: list[dict[str, Any]]) -> list[str]:
    return [alert["kibana.alert.uuid"] for alert in alerts]


@pytest.fixture
def store() -> AlertStore:
    return AlertStore(EventStore().con)


@pytest.fixture
def populated(store: AlertStore) -> tuple[AlertStore, dict[str, dict[str, Any]]]:
    """Alerts of three rules over two days, hosts and users varied, by short name."""
    alerts = {
        "bits-early": make_alert(1, original_time="2024-05-01T09:00:00Z"),
        "bits-late": make_alert(2, host="ws-02", original_time="2024-05-01T18:30:00Z"),
        "powershell": make_alert(
            1, POWERSHELL, host=["ws-02", "ws-02.corp"], user="bob",
            original_time="2024-05-02T07:15:00.123456789Z",
        ),
        "orchestrator": make_alert(
            1, ORCHESTRATOR, host="dc-01", user="SYSTEM", original_time="2024-05-02T12:00:00Z"
        ),
        "critical": make_alert(  # severity_mapping raised it above the rule's own severity
            2, ORCHESTRATOR, host="dc-01", user="SYSTEM", original_time="2024-05-02T12:00:00Z",
            **{"kibana.alert.severity": "critical", "kibana.alert.risk_score": 99},
        ),
    }  # fmt: skip
    result = store.add(alerts.values())
    assert result.created == ids(list(alerts.values()))
    return store, alerts


def found(store: AlertStore, alerts: dict[str, dict[str, Any]], **query: Any) -> list[str]:
    """The short names of the alerts `find` returns, in its order."""
    names = {alert["kibana.alert.uuid"]: name for name, alert in alerts.items()}
    return [names[document["kibana.alert.uuid"]] for document in store.find(**query)]


# -- adding and de-duplicating ------------------------------------------------------------------


def test_add_returns_created_ids_and_get_returns_the_document(store: AlertStore) -> None:
    alert = make_alert(1)
    result = store.add([alert])
    assert result.created == [alert["kibana.alert.uuid"]]
    assert result.duplicates == 0
    assert store.get(alert["kibana.alert.uuid"]) == alert
    assert store.get(alert_id("nothing")) is None
    assert alert["kibana.alert.uuid"] in store
    assert len(store) == 1


def test_same_id_twice_in_one_batch_stores_the_first(store: AlertStore) -> None:
    first = make_alert(1, host="first")
    second = make_alert(1, host="second")
    other = make_alert(2)
    result = store.add([first, second, other])
    assert result.created == [first["kibana.alert.uuid"], other["kibana.alert.uuid"]]
    assert result.duplicates == 1
    assert len(store) == 2
    assert store.get(first["kibana.alert.uuid"])["host"]["name"] == "first"


def test_ids_stored_before_are_dropped_and_keep_their_status(store: AlertStore) -> None:
    store.add([make_alert(1), make_alert(2)])
    store.set_status([alert_id(BITS, 1)], "closed")
    result = store.add([make_alert(2), make_alert(3), make_alert(1), make_alert(3)])
    assert result.created == [alert_id(BITS, 3)]
    assert result.duplicates == 3
    assert len(store) == 3
    assert store.get(alert_id(BITS, 1))["kibana.alert.workflow_status"] == "closed"
    assert store.existing([alert_id(BITS, 1), alert_id(BITS, 9)]) == {alert_id(BITS, 1)}


def test_dedup_spans_insert_batches(store: AlertStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lanner.store.alerts.BATCH_ROWS", 3)
    alerts = [make_alert(number % 5) for number in range(12)]
    result = store.add(alerts)
    assert result.created == [alert_id(BITS, number) for number in range(5)]
    assert result.duplicates == 7
    assert len(store) == 5


def test_alert_without_workflow_status_is_open(store: AlertStore) -> None:
    alert = make_alert(1)
    del alert["kibana.alert.workflow_status"]
    store.add([alert])
    assert store.get(alert["kibana.alert.uuid"])["kibana.alert.workflow_status"] == "open"
    assert len(store.find(status="open")) == 1


def test_fields_nested_dotted_or_mixed(store: AlertStore) -> None:
    dotted = make_alert(1, **{"host.name": "dotted-host", "user.name": ["u1", "u2"]})
    del dotted["host"], dotted["user"]
    nested = make_alert(2)
    del nested["kibana.alert.uuid"], nested["kibana.alert.severity"]
    nested["kibana"] = {"alert": {"uuid": alert_id("nested"), "severity": "high"}}
    mixed = make_alert(3, host=None)
    mixed["host"] = {"name": None}
    mixed["kibana.alert"] = {"rule.rule_id": "mixed-rule"}
    del mixed["kibana.alert.rule.rule_id"]
    store.add([dotted, nested, mixed])
    assert ids(store.find(host="dotted-host")) == [dotted["kibana.alert.uuid"]]
    assert ids(store.find(user="u2")) == [dotted["kibana.alert.uuid"]]
    assert store.find(severity="high") == [store.get(alert_id("nested"))]
    assert store.get(alert_id("nested"))["kibana"]["alert"]["uuid"] == alert_id("nested")
    assert ids(store.find(rule_id="mixed-rule")) == [mixed["kibana.alert.uuid"]]
    assert store.counts("host") == {"dotted-host": 1, "ws-01": 1}


def test_chinese_rule_names_round_trip(store: AlertStore) -> None:
    names = [seed_rule(stem)["name"] for stem in (BITS, POWERSHELL, ORCHESTRATOR)]
    assert names == ["通过 Windows BITS 的入站传输", "通过 PowerShell 进行远程文件下载",
                     "通过更新编排服务劫持实现持久性"]  # fmt: skip
    alerts = [make_alert(1, stem) for stem in (BITS, POWERSHELL, ORCHESTRATOR)]
    store.add(alerts)
    for alert, name in zip(alerts, names, strict=True):
        stored = store.get(alert["kibana.alert.uuid"])
        assert stored["kibana.alert.rule.name"] == name
        assert stored["kibana.alert.rule.description"] == alert["kibana.alert.rule.description"]
    assert {summary.rule_name for summary in store.summary()} == set(names)
    assert set(store.counts("rule_name")) == set(names)


# -- invalid input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kibana.alert.uuid": None}, "needs a string `kibana.alert.uuid`, found None"),
        ({"kibana.alert.uuid": 7}, "needs a string `kibana.alert.uuid`, found 7"),
        ({"kibana.alert.severity": "urgent"}, "unknown severity 'urgent'"),
        ({"kibana.alert.workflow_status": "in-progress"}, "unknown workflow status 'in-progress'"),
        ({"kibana.alert.risk_score": "73"}, "risk score '73' is not a number"),
        ({"kibana.alert.group.index": 1.5}, "group index 1.5 is not an integer"),
        ({"kibana.alert.original_time": "yesterday"}, "`kibana.alert.original_time`: failed"),
        ({"process": {"pid": {1, 2}}}, "is not JSON"),
    ],
)
def test_an_invalid_alert_stores_none_of_its_batch(
    store: AlertStore, change: dict[str, Any], message: str
) -> None:
    store.add([make_alert(0)])
    with pytest.raises(AlertStoreError) as raised:
        store.add([make_alert(1), make_alert(2, **change)])
    assert message in str(raised.value)
    assert len(store) == 1
    assert store.add([make_alert(1)]).created == [alert_id(BITS, 1)]  # usable after rollback


def test_a_foreign_alerts_table_is_refused() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE alerts (name VARCHAR)")
    with pytest.raises(AlertStoreError, match="not an alert store's: columns name"):
        AlertStore(con)


# -- finding ------------------------------------------------------------------------------------


def test_find_by_rule(populated: tuple[AlertStore, dict[str, dict[str, Any]]]) -> None:
    store, alerts = populated
    bits_rule_id = seed_rule(BITS)["rule_id"]
    assert found(store, alerts, rule_id=bits_rule_id) == ["bits-late", "bits-early"]
    assert found(store, alerts, rule_uuid=f"uuid-{bits_rule_id}") == ["bits-late", "bits-early"]
    assert found(store, alerts, rule_id=[bits_rule_id, seed_rule(POWERSHELL)["rule_id"]]) == [
        "powershell", "bits-late", "bits-early"
    ]  # fmt: skip
    assert found(store, alerts, rule_id="unknown") == []


def test_find_by_severity(populated: tuple[AlertStore, dict[str, dict[str, Any]]]) -> None:
    store, alerts = populated
    assert found(store, alerts, severity="critical") == ["critical"]
    assert sorted(found(store, alerts, severity=["low", "medium"])) == [
        "bits-early", "bits-late", "powershell"
    ]  # fmt: skip
    assert sorted(found(store, alerts, min_severity="high")) == ["critical", "orchestrator"]
    assert len(found(store, alerts, min_severity="low")) == 5
    with pytest.raises(AlertStoreError, match="unknown severity 'severe': expected one of low"):
        store.find(min_severity="severe")
    with pytest.raises(AlertStoreError, match="unknown severity 'High'"):
        store.find(severity=["High"])


def test_find_by_host_and_user(populated: tuple[AlertStore, dict[str, dict[str, Any]]]) -> None:
    store, alerts = populated
    assert found(store, alerts, host="ws-02") == ["powershell", "bits-late"]
    assert found(store, alerts, host="ws-02.corp") == ["powershell"]
    assert found(store, alerts, host=["ws-01", "dc-01"], order="severity") == [
        "critical", "orchestrator", "bits-early"
    ]  # fmt: skip
    assert found(store, alerts, host="WS-01") == []  # keyword fields match exactly
    assert found(store, alerts, user="bob") == ["powershell"]
    assert found(store, alerts, user="SYSTEM", host="dc-01", severity="high") == ["orchestrator"]


def test_find_by_tactic_and_technique(
    populated: tuple[AlertStore, dict[str, dict[str, Any]]],
) -> None:
    store, alerts = populated
    assert found(store, alerts, tactic="TA0002") == ["powershell"]
    assert found(store, alerts, tactic="execution") == ["powershell"]
    assert found(store, alerts, tactic="ta0005") == ["bits-late", "bits-early"]
    assert sorted(found(store, alerts, tactic="Command and Control")) == [
        "bits-early", "bits-late", "powershell"
    ]  # fmt: skip
    assert sorted(found(store, alerts, tactic=["Persistence", "TA0002"])) == [
        "critical", "orchestrator", "powershell"
    ]  # fmt: skip
    assert found(store, alerts, technique="T1059.001") == ["powershell"]  # a sub-technique
    assert found(store, alerts, technique="t1197") == ["bits-late", "bits-early"]
    assert found(store, alerts, technique="bits jobs") == ["bits-late", "bits-early"]
    assert found(store, alerts, technique="Windows Service", order="severity") == [
        "critical", "orchestrator"
    ]  # fmt: skip
    assert found(store, alerts, technique="T9999") == []


def test_find_by_original_time(populated: tuple[AlertStore, dict[str, dict[str, Any]]]) -> None:
    store, alerts = populated
    assert sorted(found(store, alerts, since="2024-05-02")) == [
        "critical", "orchestrator", "powershell"
    ]  # fmt: skip
    assert found(store, alerts, until="2024-05-01T18:30:00Z") == ["bits-late", "bits-early"]
    # Both bounds are inclusive, to the nanosecond.
    exact = "2024-05-02T07:15:00.123456789Z"
    assert found(store, alerts, since=exact, until=exact) == ["powershell"]
    assert sorted(found(store, alerts, since="2024-05-02T07:15:00.12345679Z")) == [
        "critical", "orchestrator"
    ]  # fmt: skip
    # A time zone offset, an aware datetime, a naive (UTC) one, epoch milliseconds.
    assert found(store, alerts, since="2024-05-01T20:30:00+02:00", until="2024-05-02") == [
        "bits-late"
    ]  # fmt: skip
    assert found(store, alerts, since="2024-05-01T20:31:00+02:00", until="2024-05-02") == []
    berlin = datetime.timezone(datetime.timedelta(hours=2))
    assert sorted(found(store, alerts, since=datetime.datetime(2024, 5, 2, 14, tzinfo=berlin))) == [
        "critical", "orchestrator"
    ]  # fmt: skip
    assert found(store, alerts, until=datetime.datetime(2024, 5, 1, 9)) == ["bits-early"]
    assert found(store, alerts, until=1714554000000) == ["bits-early"]  # 2024-05-01T09:00Z
    with pytest.raises(AlertStoreError, match="bad time bound: failed to parse date field"):
        store.find(since="last tuesday")


def test_find_orders_and_limits(populated: tuple[AlertStore, dict[str, dict[str, Any]]]) -> None:
    store, alerts = populated
    # Newest original time first; ties by id.
    tie = sorted(["critical", "orchestrator"], key=lambda name: alerts[name]["kibana.alert.uuid"])
    assert found(store, alerts) == [*tie, "powershell", "bits-late", "bits-early"]
    # Most severe first, then risk score, then newest.
    assert found(store, alerts, order="severity") == [
        "critical", "orchestrator", "powershell", "bits-late", "bits-early"
    ]  # fmt: skip
    assert found(store, alerts, order="severity", limit=2) == ["critical", "orchestrator"]
    assert found(store, alerts, limit=0) == []
    with pytest.raises(AlertStoreError, match="unknown order 'risk'"):
        store.find(order="risk")  # type: ignore[arg-type]
    with pytest.raises(AlertStoreError, match="limit must be a whole number >= 0, not -1"):
        store.find(limit=-1)


# -- workflow status ----------------------------------------------------------------------------


def test_set_status_changes_what_get_and_find_return(
    populated: tuple[AlertStore, dict[str, dict[str, Any]]],
) -> None:
    store, alerts = populated
    target = [alerts["bits-early"]["kibana.alert.uuid"], alerts["powershell"]["kibana.alert.uuid"]]
    before = datetime.datetime.now(datetime.UTC)
    assert store.set_status(target, "closed", reason="false_positive") == 2
    after = datetime.datetime.now(datetime.UTC)
    closed = store.get(target[0])
    assert closed["kibana.alert.workflow_status"] == "closed"
    assert closed["kibana.alert.workflow_reason"] == "false_positive"
    stamp = closed["kibana.alert.workflow_status_updated_at"]
    assert len(stamp) == 24 and stamp.endswith("Z")  # 2024-05-01T10:00:00.000Z
    moment = datetime.datetime.fromisoformat(stamp)
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= moment <= after
    assert found(store, alerts, status="closed") == ["powershell", "bits-early"]
    assert sorted(found(store, alerts, status=["open", "acknowledged"])) == [
        "bits-late", "critical", "orchestrator"
    ]  # fmt: skip
    assert [doc["kibana.alert.workflow_status"] for doc in store.find(host="ws-02")] == [
        "closed", "open"
    ]  # fmt: skip


def test_set_status_counts_only_changes_and_drops_the_reason(
    populated: tuple[AlertStore, dict[str, dict[str, Any]]],
) -> None:
    store, alerts = populated
    one = alerts["bits-early"]["kibana.alert.uuid"]
    assert store.set_status(one, "acknowledged", reason="looking") == 1  # a lone id
    stamp = store.get(one)["kibana.alert.workflow_status_updated_at"]
    # Already acknowledged: no change, the time and reason stay (Kibana's noop).
    assert store.set_status([one, alert_id("unknown")], "acknowledged") == 0
    assert store.get(one)["kibana.alert.workflow_status_updated_at"] == stamp
    assert store.get(one)["kibana.alert.workflow_reason"] == "looking"
    # Reopened without a reason: the reason goes, as Kibana removes it.
    assert store.set_status([one], "open") == 1
    reopened = store.get(one)
    assert reopened["kibana.alert.workflow_status"] == "open"
    assert "kibana.alert.workflow_reason" not in reopened
    assert store.set_status(ids(list(alerts.values())), "closed") == 5


@pytest.mark.parametrize("status", ["in-progress", "Closed", "resolved", ""])
def test_set_status_refuses_unknown_statuses(
    populated: tuple[AlertStore, dict[str, dict[str, Any]]], status: str
) -> None:
    store, alerts = populated
    with pytest.raises(
        AlertStoreError,
        match=f"unknown workflow status '{status}': expected one of open, acknowledged, closed",
    ):
        store.set_status(ids(list(alerts.values())), status)
    assert store.counts("status") == {"open": 5}
    with pytest.raises(AlertStoreError, match="unknown workflow status 'done'"):
        store.find(status="done")


# -- building blocks ----------------------------------------------------------------------------


def test_building_blocks_are_hidden_unless_asked_for(store: AlertStore) -> None:
    shell_id = alert_id("sequence", 1)
    shell = make_alert(
        0, **{"kibana.alert.uuid": shell_id, "kibana.alert.group.id": shell_id}
    )
    blocks = [
        make_alert(
            index,
            original_time=f"2024-05-01T10:0{index}:00Z",
            **{
                "kibana.alert.uuid": alert_id("sequence", 1, index),
                "kibana.alert.building_block_type": "default",
                "kibana.alert.group.id": shell_id,
                "kibana.alert.group.index": index,
            },
        )
        for index in range(2)
    ]
    store.add([*blocks, shell])
    assert ids(store.find()) == [shell_id]
    everything = store.find(building_blocks=True)
    assert ids(everything) == [alert_id("sequence", 1, 1), alert_id("sequence", 1, 0), shell_id]
    assert len(store) == 3
    assert [summary.count for summary in store.summary()] == [1]
    assert store.summary(AlertFilter(building_blocks=True))[0].count == 3
    assert store.counts("host") == {"ws-01": 1}


# -- suppression across runs -------------------------------------------------------------------


def test_suppression_leader_is_the_newest_open_alert_of_the_group(store: AlertStore) -> None:
    def suppressed(number: int, created: str) -> dict[str, Any]:
        return make_alert(number, **{
            "@timestamp": created,
            "kibana.alert.instance.id": "group-1",
            "kibana.alert.suppression.docs_count": 0,
            "kibana.alert.suppression.end": "2024-05-01T10:00:00Z",
        })  # fmt: skip

    older, newer = suppressed(1, "2024-05-01T10:00:00Z"), suppressed(2, "2024-05-01T10:30:00Z")
    store.add([older, newer, make_alert(3)])
    since = datetime.datetime(2024, 5, 1, 9, tzinfo=datetime.UTC)
    assert store.suppression_leader("group-1", since) == newer
    assert store.suppression_leader("group-2", since) is None
    store.set_status([newer["kibana.alert.uuid"]], "closed")  # Kibana skips closed alerts
    assert store.suppression_leader("group-1", since) == older
    assert store.suppression_leader("group-1", "2024-05-01T10:15:00Z") is None

    assert store.extend_suppression(
        older["kibana.alert.uuid"], 3, "2024-05-01T10:40:00Z",
        last_detected="2024-05-01T10:45:00.000Z",
    )  # fmt: skip
    extended = store.get(older["kibana.alert.uuid"])
    assert extended["kibana.alert.suppression.docs_count"] == 3
    assert extended["kibana.alert.suppression.end"] == "2024-05-01T10:40:00Z"
    assert extended["kibana.alert.last_detected"] == "2024-05-01T10:45:00.000Z"
    assert extended["kibana.alert.rule.name"] == "通过 Windows BITS 的入站传输"
    assert store.suppression_leader("group-1", since) == extended
    assert not store.extend_suppression(alert_id("unknown"), 1, "2024-05-01T11:00:00Z")


# -- reports ------------------------------------------------------------------------------------


def test_summary_groups_by_rule_and_severity(
    populated: tuple[AlertStore, dict[str, dict[str, Any]]],
) -> None:
    store, alerts = populated
    store.set_status([alerts["bits-late"]["kibana.alert.uuid"]], "closed")
    summaries = store.summary()
    assert [(s.rule_name, s.severity, s.count) for s in summaries] == [
        ("通过更新编排服务劫持实现持久性", "critical", 1),
        ("通过更新编排服务劫持实现持久性", "high", 1),
        ("通过 PowerShell 进行远程文件下载", "medium", 1),
        ("通过 Windows BITS 的入站传输", "low", 2),
    ]
    bits = summaries[3]
    assert bits.rule_id == seed_rule(BITS)["rule_id"]
    assert bits.rule_uuid == f"uuid-{bits.rule_id}"
    assert (bits.open, bits.acknowledged, bits.closed) == (1, 0, 1)
    assert bits.hosts == ["ws-01", "ws-02"]
    assert bits.users == ["alice"]
    assert bits.max_risk_score == 21
    utc = datetime.UTC
    assert bits.first_seen == datetime.datetime(2024, 5, 1, 9, tzinfo=utc)
    assert bits.last_seen == datetime.datetime(2024, 5, 1, 18, 30, tzinfo=utc)
    assert summaries[0].max_risk_score == 99
    assert summaries[2].hosts == ["ws-02", "ws-02.corp"]
    only_open = store.summary(AlertFilter(status="open", tactic="TA0011"))
    assert [(s.rule_name, s.count) for s in only_open] == [
        ("通过 PowerShell 进行远程文件下载", 1), ("通过 Windows BITS 的入站传输", 1)
    ]  # fmt: skip


def test_counts_by_each_dimension(populated: tuple[AlertStore, dict[str, dict[str, Any]]]) -> None:
    store, _ = populated
    assert store.counts("severity") == {"critical": 1, "high": 1, "low": 2, "medium": 1}
    assert store.counts("status") == {"open": 5}
    assert store.counts("host") == {"dc-01": 2, "ws-02": 2, "ws-01": 1, "ws-02.corp": 1}
    assert store.counts("user") == {"SYSTEM": 2, "alice": 2, "bob": 1}
    assert store.counts("tactic") == {
        "Command and Control": 3, "Persistence": 2, "Privilege Escalation": 2,
        "Defense Evasion": 2, "Execution": 1,
    }  # fmt: skip
    assert list(store.counts("tactic")) == [
        "Command and Control", "Defense Evasion", "Persistence", "Privilege Escalation",
        "Execution",
    ]  # fmt: skip
    assert store.counts("technique")["T1574.011"] == 2
    assert store.counts("rule_id")[seed_rule(BITS)["rule_id"]] == 2
    assert store.counts("host", AlertFilter(min_severity="high")) == {"dc-01": 2}
    with pytest.raises(AlertStoreError, match="cannot count alerts by 'colour': expected one"):
        store.counts("colour")


# -- persistence and scale ----------------------------------------------------------------------


def test_alerts_persist_across_connections_to_a_file(tmp_path: Path) -> None:
    path = tmp_path / "lanner.duckdb"
    alerts = [make_alert(1), make_alert(1, POWERSHELL, user="bob")]
    with EventStore(path) as events:
        events.ingest([{"@timestamp": "2024-05-01T10:00:00Z", "event": {"kind": "event"}}])
        alert_store = AlertStore(events.con)
        assert alert_store.add(alerts).created == ids(alerts)
        alert_store.set_status([alerts[0]["kibana.alert.uuid"]], "acknowledged", reason="因为")
    with EventStore(path) as events:
        reopened = AlertStore(events.con)
        assert events.count() == 1
        assert len(reopened) == 2
        stored = reopened.get(alerts[1]["kibana.alert.uuid"])
        assert stored == alerts[1]
        first = reopened.get(alerts[0]["kibana.alert.uuid"])
        assert first["kibana.alert.workflow_status"] == "acknowledged"
        assert first["kibana.alert.workflow_reason"] == "因为"
        assert first["kibana.alert.rule.name"] == "通过 Windows BITS 的入站传输"
        assert reopened.add(alerts).duplicates == 2  # a later run sees the same alerts
        assert ids(reopened.find(user="bob")) == [alerts[1]["kibana.alert.uuid"]]


def test_a_hundred_thousand_alerts_in_one_batch(store: AlertStore) -> None:
    base = make_alert(0)
    alerts = [
        {
            **base,
            "host": {"name": f"host-{number % 100}"},
            "kibana.alert.uuid": alert_id("bulk", number),
            "kibana.alert.original_time": f"2024-05-01T{number % 24:02d}:00:00Z",
        }
        for number in range(100_000)
    ]
    start = time.perf_counter()
    result = store.add(alerts)
    added = time.perf_counter() - start
    start = time.perf_counter()
    again = store.add(alerts[:50_000])
    readded = time.perf_counter() - start
    print(f"100k alerts: add {added:.2f}s, re-add 50k duplicates {readded:.2f}s")
    assert len(result.created) == 100_000 and result.duplicates == 0
    assert result.created[:2] == [alert_id("bulk", 0), alert_id("bulk", 1)]
    assert again.created == [] and again.duplicates == 50_000
    assert len(store) == 100_000
    assert store.counts("host")["host-7"] == 1000
    late_on_host_7 = sum(1 for n in range(100_000) if n % 100 == 7 and n % 24 == 23)
    assert len(store.find(host="host-7", since="2024-05-01T23:00:00Z")) == late_on_host_7
    assert store.set_status([alert_id("bulk", n) for n in range(0, 100_000, 2)], "closed") == 50_000
    assert store.counts("status") == {"closed": 50_000, "open": 50_000}
