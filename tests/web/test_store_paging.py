"""The alert store's additions for the triage UI: find's offset pages exactly, free text in
SQL over the stored text columns, rule groups and the time histogram as aggregates."""

from __future__ import annotations

import datetime
import itertools

import duckdb
import pytest

from lanner.store import AlertFilter, AlertStore, AlertStoreError

START = datetime.datetime(2026, 11, 20, tzinfo=datetime.UTC)


def alert(number: int, *, minute: int | None = None) -> dict[str, object]:
    moment = START + datetime.timedelta(minutes=number if minute is None else minute)
    return {
        "kibana.alert.uuid": f"alert-{number:04d}",
        "@timestamp": moment.isoformat(),
        "kibana.alert.original_time": moment.isoformat(),
        "kibana.alert.rule.rule_id": f"rule-{number % 3}",
        "kibana.alert.rule.name": f"规则 {number % 3}",
        "kibana.alert.severity": ("low", "medium", "high")[number % 3],
        "kibana.alert.risk_score": 21 + number % 3,
        "kibana.alert.rule.threat": [{"tactic": {"id": "TA0003", "name": "Persistence"}}]
        if number % 2 else [],
        "host": {"name": f"host-{number % 4}"},
        "user": {"name": "SYSTEM" if number % 5 else "Administrator"},
    }


@pytest.fixture
def store() -> AlertStore:
    alerts = AlertStore(duckdb.connect())
    alerts.add(alert(n, minute=n // 2) for n in range(237))  # ties in time: the id decides
    return alerts


def ids(alerts: list[dict[str, object]]) -> list[object]:
    return [a["kibana.alert.uuid"] for a in alerts]


@pytest.mark.parametrize("order", ["time", "severity"])
@pytest.mark.parametrize("size", [1, 7, 50, 1_001])
def test_find_with_offset_pages_exactly(store: AlertStore, order: str, size: int) -> None:
    every = ids(store.find(order=order))  # type: ignore[arg-type]
    assert len(every) == 237
    pages = [ids(store.find(order=order, limit=size, offset=start))  # type: ignore[arg-type]
             for start in range(0, 237, size)]
    assert [i for page in pages for i in page] == every
    assert all(len(page) == size for page in pages[:-1])
    assert store.find(limit=size, offset=237) == []
    assert ids(store.find(offset=230)) == every[230:] if order == "time" else True


def test_offset_with_filters_and_bad_offsets(store: AlertStore) -> None:
    hosts = ids(store.find(host="host-1"))
    assert ids(store.find(host="host-1", limit=10, offset=10)) == hosts[10:20]
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(AlertStoreError, match="offset"):
            store.find(offset=bad)  # type: ignore[arg-type]


def test_free_text_matches_the_stored_text_columns_ignoring_case(store: AlertStore) -> None:
    assert store.count(AlertFilter(text="HOST-2")) == len(store.find(host="host-2"))
    assert store.count(AlertFilter(text="persist")) == len(store.find(tactic="TA0003"))
    assert store.count(AlertFilter(text="规则 1")) == len(store.find(rule_id="rule-1"))
    assert store.count(AlertFilter(text="administrator")) == len(store.find(user="Administrator"))
    assert store.count(AlertFilter(text="nowhere")) == 0
    found = store.find(text="host-3", limit=5, offset=5)
    assert ids(found) == ids(store.find(host="host-3"))[5:10]
    store.set_status(["alert-0001"], "closed", reason="Benign BACKUP job")
    assert ids(store.find(text="backup", status="closed")) == ["alert-0001"]


def test_rule_groups_and_counts_are_aggregates(store: AlertStore) -> None:
    groups = store.rule_groups()
    assert [g["rule_id"] for g in groups] == ["rule-0", "rule-1", "rule-2"]
    assert [g["count"] for g in groups] == [79, 79, 79]
    assert groups[2] == {"rule_id": "rule-2", "name": "规则 2", "severity": "high",
                         "count": 79, "open": 79}
    assert sum(store.counts("host").values()) == 237


def test_histogram_counts_every_alert_in_equal_intervals(store: AlertStore) -> None:
    bars = store.histogram(buckets=10)
    assert len(bars) <= 10 and sum(count for _, _, count in bars) == 237
    assert bars[0][0] == START and bars[-1][1] >= START + datetime.timedelta(minutes=118)
    for (_, end, _), (start, _, _) in itertools.pairwise(bars):
        assert end <= start < end + datetime.timedelta(microseconds=2)  # adjacent
    narrow = AlertFilter(since="2026-11-20T00:10:00Z", until="2026-11-20T00:19:59Z")
    assert sum(count for _, _, count in store.histogram(narrow)) == store.count(narrow) == 20
    assert store.histogram(AlertFilter(host="none")) == []
    single = AlertStore(duckdb.connect())
    single.add([alert(1)])
    assert [count for _, _, count in single.histogram()] == [1]


def test_tags_and_assignees_change_filter_and_count(store: AlertStore) -> None:
    assert store.change_tags(["alert-0001", "alert-0002"], add=["phishing", " "]) == 2
    assert store.change_tags("alert-0001", add=["phishing"]) == 0  # already tagged
    assert store.change_assignees("alert-0002", add=["u_alice"]) == 1
    assert store.get("alert-0001")["kibana.alert.workflow_tags"] == ["phishing"]
    assert store.get("alert-0002")["kibana.alert.workflow_assignee_ids"] == ["u_alice"]
    assert [a["kibana.alert.uuid"] for a in store.find(tag="phishing")] == [
        "alert-0002", "alert-0001"]
    assert store.count(AlertFilter(assignee="u_alice")) == 1
    assert store.counts("tag") == {"phishing": 2}
    assert store.change_tags("alert-0001", remove=["phishing"]) == 1
    assert store.get("alert-0001").get("kibana.alert.workflow_tags", []) == []
    assert store.count(AlertFilter(tag="phishing")) == 1


def test_notes_are_kept_in_order_with_author_and_time(store: AlertStore) -> None:
    assert store.add_note("alert-0003", "seen before", author="alice")
    assert store.add_note("alert-0003", "<b>not bold</b>")
    assert not store.add_note("no-such-alert", "x")
    notes = store.get("alert-0003")["lanner.notes"]
    assert [n["text"] for n in notes] == ["seen before", "<b>not bold</b>"]
    assert notes[0]["author"] == "alice" and "author" not in notes[1]
    assert all(n["at"].endswith("Z") for n in notes)
    with pytest.raises(AlertStoreError):
        store.add_note("alert-0003", "  ")


def test_a_store_without_the_added_columns_gets_them(store: AlertStore) -> None:
    con = store.con
    for column in ("tags", "assignees", "search_text"):
        con.execute(f"ALTER TABLE alerts DROP COLUMN {column}")
    reopened = AlertStore(con)
    assert reopened.count(AlertFilter(text="规则 1")) == store.count(AlertFilter(rule_id="rule-1"))
    assert reopened.change_tags("alert-0005", add=["x"]) == 1
    assert reopened.find(tag="x")[0]["kibana.alert.uuid"] == "alert-0005"


def test_matching_text_once_gives_what_each_query_gives(store: AlertStore) -> None:
    store.set_status(["alert-0004", "alert-0010"], "closed", reason="seen on host-9")
    for text in ("规则 1", "HOST-2", "host-9", "persistence", "nothing like it"):
        where = AlertFilter(text=text, status="open")
        expected = ([a["kibana.alert.uuid"] for a in store.find(text=text, status="open",
                                                                 limit=20, offset=5)],
                    store.count(where), store.counts("status", AlertFilter(text=text)),
                    store.rule_groups(where), store.histogram(where, 7))
        with store.matching_text(text):
            found = ([a["kibana.alert.uuid"] for a in store.find(text=text, status="open",
                                                                  limit=20, offset=5)],
                     store.count(where), store.counts("status", AlertFilter(text=text)),
                     store.rule_groups(where), store.histogram(where, 7))
            assert store.count(AlertFilter(text="other")) == 0  # another text: scanned
        assert found == expected
    assert store.count(AlertFilter(text="host-9")) == 2  # the table is gone, reason searched
