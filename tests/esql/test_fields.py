"""The fields a hunt loads for ES|QL rules: what the query names, its KQL() fields included."""

from __future__ import annotations

from lanner import esql
from lanner.detection.fields import fields_read
from lanner.rules import Rule

QUERY = ('FROM logs-* METADATA _id | WHERE KQL("event.type:start and not process.name:(a or b) '
         'and user.*:x") AND x.y == 1 | MV_EXPAND event.action | RENAME host.ip AS ip '
         "| STATS n = COUNT(*) BY host.name | KEEP host.*, n")


def test_the_query_names_columns_kql_fields_and_renamed_ones() -> None:
    assert esql.fields_read(QUERY) == {"event.type", "process.name", "x.y", "event.action",
                                       "host.ip", "host.name", "n"}
    assert esql.fields_read("FROM a | WHERE (") == set()


def test_a_hunt_loads_an_esql_rules_fields_and_its_timestamp_override() -> None:
    rule = Rule(name="r", rule_id="r", type="esql", language="esql", query=QUERY,
                timestamp_override="event.ingested")
    assert {"event.type", "x.y", "host.name", "event.ingested", "@timestamp"} <= (
        fields_read([rule]) or set())
