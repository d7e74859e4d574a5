"""The rule execution log: when each rule last ran and how it went (Kibana's event log).

The scheduler reads a rule's last start from here, so that after a restart the next run
knows its previous one: the gap between them is caught up, or reported, as Kibana does.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import duckdb

_TABLE = "rule_runs"


@dataclass(frozen=True, slots=True)
class RunRecord:
    rule_uuid: str
    rule_id: str
    started_at: datetime.datetime
    status: str  # succeeded, partial failure, failed
    alerts: int
    message: str | None


class RunLog:
    """Rule executions in table `rule_runs` of a DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        con.execute(f"CREATE TABLE IF NOT EXISTS {_TABLE} (rule_uuid VARCHAR, rule_id VARCHAR, "
                    "started_at TIMESTAMP, status VARCHAR, alerts INTEGER, message VARCHAR)")

    def record(self, run: RunRecord) -> None:
        self.con.execute(f"INSERT INTO {_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
                         [run.rule_uuid, run.rule_id, _naive(run.started_at), run.status,
                          run.alerts, run.message])

    def last_started(self, rule_uuid: str) -> datetime.datetime | None:
        row = self.con.execute(f"SELECT max(started_at) FROM {_TABLE} WHERE rule_uuid = ?",
                               [rule_uuid]).fetchone()
        return row[0].replace(tzinfo=datetime.UTC) if row and row[0] is not None else None

    def history(self, rule_uuid: str | None = None) -> list[RunRecord]:
        """Runs, oldest first; of one rule, or of all."""
        where, parameters = ("WHERE rule_uuid = ?", [rule_uuid]) if rule_uuid else ("", [])
        rows = self.con.execute(f"SELECT * FROM {_TABLE} {where} ORDER BY started_at, rule_id",
                                parameters).fetchall()
        return [RunRecord(u, r, s.replace(tzinfo=datetime.UTC), st, a, m)
                for u, r, s, st, a, m in rows]


def _naive(moment: datetime.datetime) -> datetime.datetime:
    """UTC without a zone: DuckDB's TIMESTAMPTZ would need pytz to come back to Python."""
    return moment.astimezone(datetime.UTC).replace(tzinfo=None)
