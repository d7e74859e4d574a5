"""The five seed rules, in their seed-document and upstream versions, fire on the example
events the project ships and stay silent when any single exclusion of their query applies."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest

import lanner
from lanner.rules import Rule, load_rule_file
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
    sequence's events in order). The one place that runs rules, so that moving these tests to
    the detection engine's alerts changes only this function."""
    with lanner.connect() as es:
        report = es.ingest_file(events_file)
        assert report.bad_lines == [] and report.without_index == 0
        response = es.eql.search(index=list(rule.index), query=rule.query, size=1000)
    hits = response["hits"]
    if "sequences" in hits:
        return {tuple(_event_id(hit) for hit in sequence["events"])
                for sequence in hits["sequences"]}
    return {(_event_id(hit),) for hit in hits["events"]}


def _event_id(hit: dict[str, Any]) -> str:
    return hit["_source"]["event"]["id"]


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
    assert description_part in rule.raw["description"]
    assert note_part in rule.raw["note"]
