"""Reading a rule's earlier alerts back: the state rule types that remember between runs
rebuild from the alert store (threshold's signal history, OTHER-RULE-TYPES.md §3.3), so a
restart keeps it."""

from __future__ import annotations

from typing import Any

import orjson

from lanner.store.alerts import AlertStore


def rule_alert_documents(store: AlertStore, rule_uuid: str, *,
                         original_after: int | None = None) -> list[dict[str, Any]]:
    """The stored alerts of a rule (`kibana.alert.rule.uuid`), those whose original time is
    after `original_after` (epoch nanoseconds) when given, oldest first."""
    sql = "SELECT document FROM alerts WHERE rule_uuid = ?"
    parameters: list[Any] = [rule_uuid]
    if original_after is not None:
        sql += " AND original_time > make_timestamp_ns(?)"
        parameters.append(int(original_after))
    rows = store.con.execute(sql + " ORDER BY original_time, id", parameters).fetchall()
    return [orjson.loads(row[0]) for row in rows]
