"""The planner: stage filters, positional join keys, runs expansion, pipes, fields read."""

from __future__ import annotations

from lanner import eql
from lanner.engine.plan import QueryKind
from lanner.engine.planner import plan
from lanner.eql import ast


def test_event_query_is_one_filter_with_its_pipes() -> None:
    p = plan(eql.parse('process where process.name : "a" | head 5 | tail 2'))
    assert p.kind is QueryKind.EVENT
    assert [(s.category, eql.to_text(s.condition)) for s in p.stages] == [
        ("process", 'process.name : "a"')]
    assert p.pipes == (("head", 5), ("tail", 2))
    assert p.fields == {"process.name"}


def test_sequence_keys_are_positional_and_runs_expand() -> None:
    p = plan(eql.parse("""
        sequence by host.id with maxspan=2s
          [process where true] by process.entity_id with runs=2
          ![file where ?file.x == null] by process.entity_id
          [network where true] by process.parent.entity_id
        until [process where event.type == "end"] by process.entity_id"""))
    assert p.kind is QueryKind.SEQUENCE and p.maxspan_ns == 2_000_000_000
    assert [(s.position, s.source, s.category, s.missing) for s in p.stages] == [
        (0, 0, "process", False), (1, 0, "process", False), (2, 1, "file", True),
        (3, 2, "network", False)]
    assert [tuple(k.name for k in s.keys) for s in p.stages] == [
        ("host.id", "process.entity_id"), ("host.id", "process.entity_id"),
        ("host.id", "process.entity_id"), ("host.id", "process.parent.entity_id")]
    assert p.until is not None and p.until.position == 4 and p.until.source == 3
    assert [s.source for s in p.distinct_filters()] == [0, 1, 2, 3]
    assert p.optional_fields == {"file.x"}


def test_sample_has_no_maxspan_and_keeps_stage_keys() -> None:
    p = plan(eql.parse("sample by host.id [process where true] by a [file where true] by ?b"))
    assert p.kind is QueryKind.SAMPLE and p.maxspan_ns is None and p.until is None
    assert [s.keys for s in p.stages] == [
        (ast.Field("host.id"), ast.Field("a")), (ast.Field("host.id"), ast.Field("b", True))]
