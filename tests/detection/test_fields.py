"""The fields a hunt loads: every field its rules and their exceptions can read."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lanner.detection.exceptions import ExceptionEntry, ExceptionItem, ExceptionLists
from lanner.detection.fields import fields_read
from lanner.engine.search import prepare
from lanner.rules import known, load_rule_file, load_rules
from lanner.rules.model import ExceptionListRef
from tests.conftest import CORPUS, require_shared

SEED = Path(__file__).resolve().parents[3] / "shared" / "rules" / "seed"


def _rule():
    rule = load_rule_file(SEED / "command_and_control_ingress_transfer_bits.toml")
    return dataclasses.replace(rule, exceptions_list=(ExceptionListRef("trusted"),))


def _lists(*entries: ExceptionEntry) -> ExceptionLists:
    return ExceptionLists(items=[ExceptionItem("skip", "trusted", entries)])


def test_query_timestamp_and_exception_fields_are_read() -> None:
    fields = fields_read([_rule()], _lists(ExceptionEntry("user.name", "match", value="svc")))
    assert {"process.name", "file.Ext.original.name", "@timestamp", "user.name"} <= fields


def test_a_nested_exception_entry_needs_every_field() -> None:
    nested = ExceptionEntry("dll.code_signature", "nested", entries=(
        ExceptionEntry("subject_name", "match", value="Microsoft"),))
    assert fields_read([_rule()], _lists(nested)) is None


def test_the_fields_the_rules_loader_knows_are_the_ones_planning_reads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A warm hunt takes each query's fields, and whether a file has exceptions, from the
    rules loader (lanner.rules.known) without parsing or reading again: the same fields."""
    require_shared()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("LANNER_CACHE", raising=False)
    load_rules([CORPUS])  # cold: fills the cache
    rules, _ = load_rules([CORPUS])  # warm: the queries are not read yet
    assert sum(known.query_fields(rule.query) is not None for rule in rules) > 1000
    for rule in rules:
        if known.query_fields(rule.query) is not None:
            assert known.query_fields(rule.query) == prepare(rule.query).fields
    learnt = fields_read(rules)
    monkeypatch.setattr(known, "_QUERY_FIELDS", {})
    monkeypatch.setattr(known, "_OWN_EXCEPTIONS", {})
    assert learnt == fields_read(rules)
