"""Why a rule does not fire: the clause, stage, join key, maxspan or until that left nothing,
counted over the example events as the engine counts them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from lanner.detection.explain import (
    BlockerKind,
    ClauseCount,
    Connective,
    Explanation,
    explain_query,
    explain_rule,
)
from lanner.detection.run import Detector
from lanner.engine.backends.duckdb import DuckDBBackend, SearchScope
from lanner.engine.backends.sql import UnknownFieldError
from lanner.engine.plan import QueryKind
from lanner.rules import load_rule_file
from lanner.store import EventStore
from tests.conftest import EXAMPLES, ROOT

EVENTS = ROOT / "examples" / "events"
Edit = Callable[[dict[str, Any]], None]


def _documents(stem: str, edit: Edit | None = None) -> list[dict[str, Any]]:
    documents = [json.loads(line) for line in (EVENTS / f"{stem}.ndjson").read_text()
                 .splitlines() if line]
    for document in documents:
        if edit is not None:
            edit(document)
    return documents


def explain(stem: str, edit: Edit | None = None, *, rule_stem: str | None = None,
            closest: int = 3) -> Explanation:
    """The explanation of a seed rule over (a copy of) its example events, after checking
    that the detector agrees on whether it fires."""
    with EventStore(None) as store:
        store.ingest(_documents(stem, edit))
        backend = DuckDBBackend(store)
        rule = load_rule_file(EXAMPLES / f"{rule_stem or stem}.toml")
        explanation = explain_rule(backend, rule, closest=closest)
        fires = bool(Detector(backend).hunt(rule).alerts)
    assert fires == (explanation.blocker is None)
    return explanation


def query(stem: str, text: str) -> Explanation:
    with EventStore(None) as store:
        store.ingest(_documents(stem))
        backend = DuckDBBackend(store)
        return explain_query(backend, text, SearchScope(backend.indices("*")))


def on(event_id: str, change: Callable[[dict[str, Any]], None]) -> Edit:
    def edit(document: dict[str, Any]) -> None:
        if document["event"]["id"] in event_id.split(","):
            change(document)
    return edit


# -- event queries ---------------------------------------------------------------------------

USO_CLAUSES = ['event.category == "process"', 'host.os.type == "windows"',
               'event.type == "start"',
               'process.parent.executable : "C:\\\\Windows\\\\System32\\\\svchost.exe"',
               'process.parent.args : "UsoSvc"']


def test_a_firing_rule_has_no_blocker_and_counts_every_clause() -> None:
    explanation = explain("update_orchestrator_hijack")
    assert (explanation.kind, explanation.matches, explanation.events_in_scope) == (
        QueryKind.EVENT, 1, 7)
    assert explanation.indices == ("logs-endpoint.events.process-default",)
    stage = explanation.stages[0]
    assert stage.failed is None
    assert [c.text for c in stage.clauses[:5]] == USO_CLAUSES
    assert [c.given_previous for c in stage.clauses] == [7, 7, 5, 3, 2, 1, 1]
    assert [c.alone for c in stage.clauses] == [7, 7, 5, 4, 3, 6, 6]


def test_the_first_clause_no_event_gets_past_is_named_with_the_closest_events() -> None:
    explanation = explain("update_orchestrator_hijack", lambda d: d["process"].get(
        "parent", {}).update(args=[a.replace("UsoSvc", "wuauserv")
                                   for a in d["process"]["parent"]["args"]]))
    assert explanation.blocker is not None
    assert explanation.blocker.kind is BlockerKind.CLAUSE
    assert explanation.blocker.message == ("none of the 3 event(s) that satisfy the clauses "
                                           'before it satisfies process.parent.args : "UsoSvc"')
    stage = explanation.stages[0]
    assert stage.failed == 4
    assert stage.clauses[4] == ClauseCount('process.parent.args : "UsoSvc"', 0, 0)
    assert (stage.connective, stage.parts) == (Connective.LEAF, ())
    closest = stage.closest[0]
    assert (closest.label, closest.satisfied, closest.failed) == (
        "uso-tp-cmd-start", 6, ('process.parent.args : "UsoSvc"',))
    assert closest.timestamp == "2026-11-20T10:01:10.655Z"
    assert closest.values == (("process.parent.args", (
        "C:\\Windows\\system32\\svchost.exe", "-k", "netsvcs", "-p", "-s", "wuauserv")),)


def test_an_exclusion_that_removes_the_last_events_names_the_patterns_that_matched() -> None:
    explanation = explain("update_orchestrator_hijack", on("uso-tp-cmd-start", lambda d: d[
        "process"].update(executable="C:\\Windows\\System32\\UsoClient.exe")))
    stage = explanation.stages[0]
    assert stage.failed == 5 and stage.clauses[5].text.startswith("not process.executable : (")
    assert stage.connective is Connective.EXCLUSION
    excluding = [(part.text, part.given_previous) for part in stage.parts if part.given_previous]
    assert excluding == [('process.executable : "?:\\\\Windows\\\\System32\\\\UsoClient.exe"', 1),
                         ('process.executable : "?:\\\\Windows\\\\System32\\\\MoUsoCoreWorker.exe"',
                          1)]
    assert len(stage.parts) == 12


def test_a_failed_pattern_list_is_counted_pattern_by_pattern() -> None:
    explanation = query("ingress_transfer_bits", 'file where event.action == "rename" and '
                        'file.extension : ("zip", "exe", "rar")')
    assert (explanation.blocker, explanation.matches) == (None, 2)
    explanation = query("ingress_transfer_bits", 'file where event.action == "creation" and '
                        'file.extension : ("zip", "exe", "rar")')
    stage = explanation.stages[0]
    assert (stage.failed, stage.connective) == (2, Connective.ANY)
    assert [(p.text, p.alone, p.given_previous) for p in stage.parts] == [
        ('file.extension : "zip"', 0, 0), ('file.extension : "exe"', 2, 0),
        ('file.extension : "rar"', 0, 0)]


def test_alternatives_of_an_or_are_counted_on_their_own() -> None:
    explanation = query("ingress_transfer_bits", 'file where event.action == "creation" and '
                        '(file.extension == "zip" or file.name : "*.txt")')
    stage = explanation.stages[0]
    assert stage.connective is Connective.ANY
    assert [(p.text, p.alone) for p in stage.parts] == [('file.extension == "zip"', 0),
                                                        ('file.name : "*.txt"', 1)]


def test_events_outside_the_rules_indices_are_not_searched() -> None:
    explanation = explain("update_orchestrator_hijack", lambda d: d["data_stream"].update(
        dataset="custom.audit"))
    assert explanation.blocker is not None
    assert explanation.blocker.kind is BlockerKind.NO_INDEX
    assert explanation.blocker.message == (
        "no loaded event is in an index the rule searches (winlogbeat-*, "
        "logs-endpoint.events.process-*, logs-windows.*, endgame-*)")


# -- sequences --------------------------------------------------------------------------------

SMB_NETWORK = "smb-tp-connect-445,smb-powershell-disconnect"


def test_a_sequence_stage_whose_filter_keeps_nothing() -> None:
    explanation = explain("smb_connection_lolbin", lambda d: d.get("destination", {}).update(
        port=139) if "destination" in d else None)
    blocker = explanation.blocker
    assert blocker is not None and blocker.kind is BlockerKind.CLAUSE
    assert blocker.message == ("stage 2: none of the 4 event(s) that satisfy the clauses "
                               "before it satisfies destination.port == 445")
    stage = explanation.stages[blocker.stage or 0]
    assert stage.position == 1 and stage.clauses[stage.failed or 0].text == \
        "destination.port == 445"
    assert stage.closest[0].values == (("destination.port", (139,)),)
    assert [s.matches for s in explanation.stages] == [1, 0, 1]
    assert [s.is_until for s in explanation.stages] == [False, False, True]


def test_a_join_key_no_two_stages_share() -> None:
    explanation = explain("smb_connection_lolbin", on(SMB_NETWORK, lambda d: d["process"].update(
        entity_id="b3RoZXI=")))
    blocker = explanation.blocker
    assert blocker is not None and blocker.kind is BlockerKind.JOIN_KEY
    assert blocker.message == ("stage 2: none of its events shares a process.entity_id value "
                               "with the events of the stages before it")
    assert blocker.details[1] == ("stage 2: N2U1YzRkMWEtOTNiMi00ZjBlLThjNjEtMmQ5YTViN2YzZTEwLT"
                                  "MzNDQtMTM0Mzk2NDI0NjAuMDAwMDAwMA==; b3RoZXI=")


def test_stages_out_of_order() -> None:
    explanation = explain("smb_connection_lolbin", on(SMB_NETWORK, lambda d: d.update({
        "@timestamp": "2026-11-20T10:00:05.000Z"})))
    assert explanation.blocker is not None
    assert explanation.blocker.kind is BlockerKind.ORDER


def test_maxspan_with_the_shortest_span_found() -> None:
    def late(document: dict[str, Any]) -> None:
        if document["event"]["id"] in SMB_NETWORK.split(","):
            document["@timestamp"] = "2026-11-20T10:01:20.000Z"
        if document["event"]["id"] == "smb-powershell-end":
            document["@timestamp"] = "2026-11-20T10:01:30.000Z"
    explanation = explain("smb_connection_lolbin", late)
    assert explanation.blocker is not None
    assert explanation.blocker.kind is BlockerKind.MAXSPAN
    assert explanation.blocker.details == (
        "the shortest sequence without maxspan spans 69.75s",)


def test_until_cuts_every_sequence() -> None:
    explanation = explain("smb_connection_lolbin", on(SMB_NETWORK, lambda d: d.update({
        "@timestamp": "2026-11-20T10:00:40.000Z"})))
    assert explanation.blocker is not None
    assert explanation.blocker.kind is BlockerKind.UNTIL


def test_a_missing_join_key() -> None:
    explanation = explain("smb_connection_lolbin", on("smb-tp-powershell-start", lambda d: d[
        "process"].pop("entity_id")))
    assert explanation.blocker is not None
    assert (explanation.blocker.kind, explanation.blocker.message) == (
        BlockerKind.JOIN_KEY, "stage 1: none of its 1 event(s) has the join key "
        "process.entity_id")


def test_a_firing_sequence_counts_sequences() -> None:
    explanation = explain("remote_file_download_powershell")
    assert (explanation.kind, explanation.matches, explanation.blocker) == (
        QueryKind.SEQUENCE, 1, None)


@pytest.mark.parametrize(("text", "matches", "kind"), [
    ('sample by process.entity_id [process where event.type == "start"] '
     "[network where true]", 2, None),
    ("sample by host.name [process where true] [network where destination.port == 9999]", 0,
     BlockerKind.CLAUSE),
    ('sample by user.id [process where process.name : "powershell.exe"] '
     '[process where process.name : "veeam*"]', 0, BlockerKind.JOIN_KEY),
])
def test_samples(text: str, matches: int, kind: BlockerKind | None) -> None:
    explanation = query("smb_connection_lolbin", text)
    assert explanation.matches == matches
    assert (explanation.blocker.kind if explanation.blocker else None) is kind


def test_an_unknown_field_is_the_searchs_error() -> None:
    with pytest.raises(UnknownFieldError, match=r"Unknown column \[process.nmae\]"):
        query("smb_connection_lolbin", 'process where process.nmae == "x"')
