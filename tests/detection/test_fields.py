"""The fields a hunt loads: every field its rules and their exceptions can read."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from lanner.detection.exceptions import ExceptionEntry, ExceptionItem, ExceptionLists
from lanner.detection.fields import fields_read
from lanner.rules import load_rule_file
from lanner.rules.model import ExceptionListRef

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
