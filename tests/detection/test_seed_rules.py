"""The five seed rules, in their seed-document and upstream versions, fire on the example
events the project ships and stay silent when any single exclusion of their query applies."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest

from lanner.detection.guide import expand_transforms
from lanner.detection.run import Detector
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.rules import Rule, load_rule_file
from lanner.store import EventStore
from lanner.store.alerts import AlertStore
from tests.conftest import EXAMPLES, require_shared
from tests.detection.seed_cases import (
    CHINESE_TEXT,
    EXCLUSIONS,
    SEED_RULES_UNDER_TEST,
    Edits,
    Exclusion,
    SeedRule,
)

RULES_BY_KEY = {seed.key: seed for seed in SEED_RULES_UNDER_TEST}


def fired(rule: Rule, events_file: Path) -> set[tuple[str, ...]]:
    """What the rule raises over the events: one tuple of event.ids per alert (an event, or a
    sequence's events in order, from its building blocks). The one place that runs rules."""
    return {tuple(_event_id(event) for event in events)
            for _, events in _alerts(rule, events_file)}


def _alerts(rule: Rule, events_file: Path) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The rule hunted over the file by the detection engine: each alert an analyst sees (an
    event alert, or a sequence's shell) with the alert documents of its events."""
    with EventStore() as store:
        report = store.ingest_file(events_file)
        assert report.bad_lines == [] and report.without_index == 0
        run = Detector(DuckDBBackend(store), AlertStore(store.con)).hunt(rule)
    assert run.error is None, run.error
    blocks: dict[str, list[dict[str, Any]]] = {}
    for alert in run.alerts:
        if "kibana.alert.group.index" in alert:
            blocks.setdefault(alert["kibana.alert.group.id"], []).append(alert)
    found = []
    for alert in run.alerts:
        if "kibana.alert.group.index" in alert:
            continue
        group = sorted(blocks.get(alert["kibana.alert.uuid"], [alert]),
                       key=lambda block: block.get("kibana.alert.group.index", 0))
        found.append((alert, group))
    return found


def _event_id(alert: dict[str, Any]) -> str:
    return alert["event"]["id"]


def _load(seed: SeedRule) -> Rule:
    require_shared()
    return load_rule_file(seed.path)


@cache
def _fired_unedited(key: str) -> frozenset[tuple[str, ...]]:
    """The rule over its unedited example file, run once per rule version: every exclusion
    case checks it before its edit, and the file does not change between them."""
    seed = RULES_BY_KEY[key]
    return frozenset(fired(_load(seed), seed.events))


def _edited(events_file: Path, edits: Edits, out: Path) -> Path:
    """A copy of the events file with the edits applied; every edited event must exist."""
    documents = [orjson.loads(line) for line in events_file.read_bytes().splitlines() if line]
    by_id = {document["event"]["id"]: document for document in documents}
    assert set(edits) <= set(by_id), f"no such events: {set(edits) - set(by_id)}"
    for event_id, fields in edits.items():
        for name, value in fields.items():
            _set_field(by_id[event_id], name, copy.deepcopy(value))
    out.write_bytes(b"".join(orjson.dumps(document) + b"\n" for document in documents))
    return out


def _set_field(document: dict[str, Any], dotted: str, value: Any) -> None:
    """Set a dotted field in nested objects, or remove it when value is None; the field must
    already be there, so that a typo in a case cannot pass unnoticed."""
    *parents, leaf = dotted.split(".")
    node = document
    for part in parents:
        node = node[part]
    assert leaf in node, f"{dotted} is not in the event"
    if value is None:
        del node[leaf]
    else:
        node[leaf] = value


@pytest.mark.parametrize("seed", SEED_RULES_UNDER_TEST, ids=lambda seed: seed.key)
def test_rule_fires_on_its_example_events(seed: SeedRule) -> None:
    assert _fired_unedited(seed.key) == seed.fires


@pytest.mark.parametrize("seed", SEED_RULES_UNDER_TEST, ids=lambda seed: seed.key)
def test_alerts_carry_the_rules_severity_risk_and_attack_mapping(seed: SeedRule) -> None:
    rule = _load(seed)
    found = _alerts(rule, seed.events)
    assert found
    for alert, _ in found:
        assert alert["kibana.alert.rule.name"] == rule.name
        assert alert["kibana.alert.severity"] == rule.severity
        assert alert["kibana.alert.risk_score"] == rule.risk_score
        threat = alert["kibana.alert.rule.threat"]
        assert [t["tactic"]["id"] for t in threat] == list(rule.tactic_ids)
        assert {t["id"] for entry in threat for t in entry["technique"]} <= set(
            rule.technique_ids)
        # the note Kibana gets: detection-rules puts the transform's blocks in for $osquery_N
        assert alert["kibana.alert.rule.parameters"]["note"] == expand_transforms(
            rule.note, rule.transform)
        assert "$osquery_" not in alert["kibana.alert.rule.note"]
        assert alert["kibana.alert.reason"].endswith(
            f"created {rule.severity} alert {rule.name}.")


@pytest.mark.parametrize("case", EXCLUSIONS, ids=lambda case: case.id)
def test_one_exclusion_silences_the_rule(case: Exclusion, tmp_path: Path) -> None:
    seed = RULES_BY_KEY[case.rule]
    assert _fired_unedited(case.rule) == seed.fires
    edited = _edited(seed.events, case.edits, tmp_path / "edited.ndjson")
    assert fired(_load(seed), edited) == set(), f"still fires with {case.clause} applying"


def test_every_exclusion_case_names_a_rule_version_and_is_unique() -> None:
    assert {case.rule for case in EXCLUSIONS} == set(RULES_BY_KEY)
    ids = [case.id for case in EXCLUSIONS]
    assert len(ids) == len(set(ids))


def test_upstream_smb_rule_fires_although_the_process_ended_before_the_connection(
        tmp_path: Path) -> None:
    """The seed-docs version ends the sequence at the process's end (`until`); the upstream
    version dropped that clause, so the same events still raise its alert."""
    (ended_early,) = [case for case in EXCLUSIONS
                      if case.id == "smb-docs-process-ended-before-connection"]
    seed = RULES_BY_KEY["smb-upstream"]
    edited = _edited(seed.events, ended_early.edits, tmp_path / "edited.ndjson")
    assert fired(_load(seed), edited) == seed.fires


@pytest.mark.parametrize("stem", sorted(CHINESE_TEXT))
def test_seed_docs_rules_keep_their_chinese_text(stem: str) -> None:
    name, description_part, note_part = CHINESE_TEXT[stem]
    rule = load_rule_file(EXAMPLES / f"{stem}.toml")
    assert rule.name == name
    assert description_part in rule.description
    assert note_part in (rule.note or "")
