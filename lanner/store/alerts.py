"""The alert store: Kibana-shaped alert documents in DuckDB, beside the events.

Alerts live in table `alerts` of the event store's database (in memory or a file, so they
survive across runs and processes): one row per alert id, typed columns for what queries
filter and sort on, and `document`, the alert as it was added (JSON text) but for
suppression updates. The workflow fields change more often, so they live in columns of their
own, and `get`/`find` put them back into the document they return.

Kibana's behaviour kept here:

* an alert whose `kibana.alert.uuid` is stored already is dropped, not written again
  (`filterDuplicateAlerts` and `create`'s 409), and within one batch the first one wins;
* changing the workflow status touches only alerts whose status differs, sets
  `kibana.alert.workflow_status_updated_at`, and sets `kibana.alert.workflow_reason` to the
  reason given or removes it (the security solution's status route);
* building-block alerts (`kibana.alert.building_block_type`) are hidden unless asked for,
  as in the alerts table;
* suppression across runs extends the latest alert of the same `kibana.alert.instance.id`
  created in the window and not closed (`create_persistence_rule_type_wrapper.ts`).

Fields are read whether a document nests them (`{"host": {"name": …}}`), spells them dotted
(`"host.name"`) or mixes the two; values inside arrays of objects (threat mappings) count.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import duckdb
import orjson

from lanner.cache import gc_paused
from lanner.store.documents import field_objects, field_values
from lanner.store.mappings import StoreError, coercer

SEVERITY_RANKS: dict[str, int] = {"low": 1, "medium": 2, "high": 3, "critical": 4}
WORKFLOW_STATUSES = ("open", "acknowledged", "closed")

# Alerts per insert (and per query for the ids already stored).
BATCH_ROWS = 10_000

UUID = "kibana.alert.uuid"
WORKFLOW_STATUS = "kibana.alert.workflow_status"
WORKFLOW_STATUS_UPDATED_AT = "kibana.alert.workflow_status_updated_at"
WORKFLOW_REASON = "kibana.alert.workflow_reason"
WORKFLOW_TAGS = "kibana.alert.workflow_tags"
WORKFLOW_ASSIGNEES = "kibana.alert.workflow_assignee_ids"
NOTES = "lanner.notes"  # Lanner's own: the analysts' notes, [{text, author?, at}]

# Column -> DuckDB type. Times are TIMESTAMP_NS (UTC) like the events' date columns; they
# travel to DuckDB as epoch nanoseconds and are converted on insert.
COLUMNS: dict[str, str] = {
    "id": "VARCHAR PRIMARY KEY",
    "rule_uuid": "VARCHAR",
    "rule_id": "VARCHAR",
    "rule_name": "VARCHAR",
    "severity": "VARCHAR",
    "severity_rank": "TINYINT",  # 1 low .. 4 critical, 0 when the alert has none
    "risk_score": "DOUBLE",  # Kibana maps kibana.alert.risk_score as float
    "original_time": "TIMESTAMP_NS",
    "created_at": "TIMESTAMP_NS",
    "workflow_status": "VARCHAR",
    "workflow_status_updated_at": "VARCHAR",  # as written in the document, ISO 8601
    "workflow_reason": "VARCHAR",
    "hosts": "VARCHAR[]",
    "users": "VARCHAR[]",
    "tactic_ids": "VARCHAR[]",
    "tactic_names": "VARCHAR[]",
    "technique_ids": "VARCHAR[]",  # techniques and sub-techniques
    "technique_names": "VARCHAR[]",
    "building_block": "BOOLEAN",
    "group_id": "VARCHAR",
    "group_index": "INTEGER",
    "instance_id": "VARCHAR",  # kibana.alert.instance.id: the group of a suppressed alert
    # Documents are large and much alike (the rule's fields repeat): with zstd, 100k alerts
    # of 13 KB took 24 MB on disk instead of 1 GB, and a file store's commit 10x less time.
    "document": "VARCHAR USING COMPRESSION zstd",
    # Added after the first release (a store without them gets them when opened):
    "tags": "VARCHAR[]",  # kibana.alert.workflow_tags
    "assignees": "VARCHAR[]",  # kibana.alert.workflow_assignee_ids
    "search_text": "VARCHAR",  # the text columns lower-cased, for free text (_SEARCH_TEXT)
}
_ADDED_COLUMNS = ("tags", "assignees", "search_text")
_TEXT_MATCH = "(contains(search_text, $text) OR contains(lower(workflow_reason), $text))"
_TIME_COLUMNS = frozenset({"original_time", "created_at"})
# What free text searches, computed once when an alert is stored: rule name and id, severity,
# hosts, users, ATT&CK ids and names (the workflow reason, which changes, is searched apart).
# Concatenating the lists of 100k alerts at each search took 1.4 s; a stored column, 50 ms.
_SEARCH_TEXT = (
    "lower(concat_ws(chr(10), rule_name, rule_id, severity, array_to_string(hosts || users "
    "|| tactic_ids || tactic_names || technique_ids || technique_names, chr(10))))"
)
# How the rows file types each column (the documents come from a file of lines).
_JSON_TYPES = {
    name: "BIGINT" if name in _TIME_COLUMNS else kind.removesuffix(" PRIMARY KEY")
    for name, kind in COLUMNS.items()
    if name not in ("document", "search_text")
}
_SELECTS = ", ".join(
    f"make_timestamp_ns({name})" if name in _TIME_COLUMNS
    else _SEARCH_TEXT if name == "search_text" else name
    for name in COLUMNS
)
# A file of one document per line, each line one VARCHAR: orjson escapes every control
# character, so \x01 never occurs as a delimiter and no quoting is needed.
_DOCUMENT_LINES = (
    "read_csv(?, columns = {'document': 'VARCHAR'}, delim = '\x01', quote = '', escape = '', "
    f"header = false, auto_detect = false, max_line_size = {1 << 30})"
)
_DOCUMENT_COLUMNS = (
    "document, workflow_status, workflow_status_updated_at, workflow_reason, tags, assignees"
)

# The statements that change the table (see AlertStore.writes).
_WRITES = ("INSERT", "UPDATE", "DELETE", "ALTER")

# Pages of at most this many alerts read their documents by id (see `find`).
_PAGE_BY_IDS = 1_000

_ORDERS = {
    "time": "original_time DESC NULLS LAST, group_id, group_index, id",
    "severity": "severity_rank DESC, risk_score DESC NULLS LAST, original_time DESC NULLS LAST, id",
}

# counts(by=…) -> the SQL giving each alert's keys (lists unnested: one count per value).
_DIMENSIONS = {
    "rule_id": "rule_id",
    "rule_name": "rule_name",
    "severity": "severity",
    "status": "workflow_status",
    "host": "unnest(hosts)",
    "user": "unnest(users)",
    "tactic": "unnest(tactic_names)",
    "technique": "unnest(technique_ids)",
    "tag": "unnest(tags)",
    "assignee": "unnest(assignees)",
}

_parse_date = coercer("date")  # ES `strict_date_optional_time||epoch_millis` -> epoch nanos
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)

Order = Literal["time", "severity"]
Selection = str | Iterable[str] | None  # one value or several, any of which matches
TimeBound = datetime.datetime | str | int | None


class AlertStoreError(StoreError):
    """An alert document, a filter or a status the alert store cannot accept."""


@dataclass(frozen=True, slots=True)
class AddResult:
    """What one `add` wrote: the new ids in input order, and the alerts dropped as known."""

    created: list[str]
    duplicates: int


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts a query covers; every condition given must hold (see `AlertStore.find`)."""

    rule_id: Selection = None
    rule_uuid: Selection = None
    severity: Selection = None
    min_severity: str | None = None
    host: Selection = None
    user: Selection = None
    tactic: Selection = None
    technique: Selection = None
    status: Selection = None
    since: TimeBound = None
    until: TimeBound = None
    building_blocks: bool = False
    # Free text, ignoring case, over the stored text columns: rule name and id, severity,
    # workflow reason, hosts, users, ATT&CK tactic and technique ids and names (not the
    # whole document: scanning 100k documents of 20 KB takes seconds).
    text: str | None = None
    tag: Selection = None  # any of the alert's kibana.alert.workflow_tags
    assignee: Selection = None  # any of its kibana.alert.workflow_assignee_ids


@dataclass(frozen=True, slots=True)
class AlertSummary:
    """The alerts of one rule at one severity, for reports (times are original event times)."""

    rule_uuid: str | None
    rule_id: str | None
    rule_name: str | None
    severity: str | None
    count: int
    open: int
    acknowledged: int
    closed: int
    max_risk_score: float | None
    hosts: list[str]
    users: list[str]
    first_seen: datetime.datetime | None
    last_seen: datetime.datetime | None


class AlertStore:
    """Alerts in table `alerts` of a DuckDB connection, typically `EventStore.con`."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._text_matched: str | None = None  # see `matching_text`
        # Statements that wrote the table through this store, counted: a copy of the alerts
        # (the server's alerts index) knows it is current without reading them.
        self.writes = 0
        columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
        self._execute(f"CREATE TABLE IF NOT EXISTS alerts ({columns})")
        found = {
            name
            for (name,) in self._execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = 'alerts' "
                "AND schema_name = 'main' AND database_name = current_database()"
            ).fetchall()
        }
        missing = [name for name in _ADDED_COLUMNS if name not in found]
        if missing and found | set(missing) == set(COLUMNS):
            self._add_columns(missing)
            found = set(COLUMNS)
        if found != set(COLUMNS):
            raise AlertStoreError(
                "the database has a table `alerts` that is not an alert store's: columns "
                + ", ".join(sorted(found))
            )

    def _add_columns(self, names: list[str]) -> None:
        """Bring a store written before these columns existed up to date."""
        for name in names:
            self._execute(f"ALTER TABLE alerts ADD COLUMN {name} {COLUMNS[name]}")
        self._execute(
            f"UPDATE alerts SET tags = coalesce(tags, []), assignees = coalesce(assignees, []), "
            f"search_text = {_SEARCH_TEXT}"
        )

    @contextlib.contextmanager
    def matching_text(self, text: str | None) -> Iterator[None]:
        """Within the block, filters with this free text read the alerts it matches from a
        temporary table filled once, instead of scanning the text of every alert again: a
        screen of the triage UI asks four questions of one filter (measured with 100k
        alerts: 290 ms of scans down to 130 ms). Writes inside the block are not seen by
        the text match; hold the connection's lock around it."""
        if not text:
            yield
            return
        needle = text.lower()
        self._execute(f"CREATE OR REPLACE TEMP TABLE alert_text_matches AS SELECT id "
                      f"FROM alerts WHERE {_TEXT_MATCH}", {"text": needle})
        self._text_matched = needle
        try:
            yield
        finally:
            self._text_matched = None
            self._execute("DROP TABLE IF EXISTS alert_text_matches")

    # -- writing --------------------------------------------------------------------------------

    # Rows hold no reference cycles, but the cyclic GC would traverse every alert held (large
    # nested documents) again and again: a quarter of the time, measured.
    @gc_paused(kept=False)
    def add(self, alerts: Iterable[Mapping[str, Any]]) -> AddResult:
        """Store the alerts whose id is new; all or nothing (an invalid alert stores none).

        Alerts dropped as duplicates are not validated, as Kibana drops them unread.
        An alert without `kibana.alert.workflow_status` is open, as Kibana builds it.
        """
        created: list[str] = []
        seen: set[str] = set()
        received = 0
        self._execute("BEGIN TRANSACTION")
        try:
            batch: list[tuple[str, Mapping[str, Any]]] = []
            for alert in alerts:
                received += 1
                alert_id = _alert_id(alert)
                if alert_id not in seen:
                    seen.add(alert_id)
                    batch.append((alert_id, alert))
                if len(batch) >= BATCH_ROWS:
                    created.extend(self._insert(batch))
                    batch = []
            if batch:
                created.extend(self._insert(batch))
            self._execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                self.con.execute("ROLLBACK")
            raise
        return AddResult(created, received - len(created))

    def set_status(
        self, ids: str | Iterable[str], status: str, *, reason: str | None = None
    ) -> int:
        """Give alerts a workflow status; returns how many changed (unknown ids are skipped).

        Alerts already in that status are left untouched, their update time and reason too.
        """
        _check_values("workflow status", [status], WORKFLOW_STATUSES)
        updated_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        changed = self._execute(
            "UPDATE alerts SET workflow_status = $status, workflow_status_updated_at = $at, "
            "workflow_reason = $reason "
            "WHERE id IN (SELECT unnest($ids)) AND workflow_status <> $status",
            {
                "status": status,
                "at": updated_at.replace("+00:00", "Z"),  # as JavaScript's toISOString()
                "reason": reason,
                "ids": _strings(ids),
            },
        ).fetchone()
        return changed[0] if changed else 0

    def change_tags(
        self, ids: str | Iterable[str], *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> int:
        """Add and remove workflow tags (Kibana's signals/tags: `tags_to_add`,
        `tags_to_remove`); returns how many alerts changed."""
        return self._change_list("tags", ids, add, remove)

    def change_assignees(
        self, ids: str | Iterable[str], *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> int:
        """Add and remove assignees (Kibana's signals/assignees: `add`, `remove`, user ids
        in `kibana.alert.workflow_assignee_ids`); returns how many alerts changed."""
        return self._change_list("assignees", ids, add, remove)

    def _change_list(
        self, column: str, ids: str | Iterable[str], add: Iterable[str], remove: Iterable[str]
    ) -> int:
        added = [value.strip() for value in _strings(add) if value.strip()]
        removed = _strings(remove)
        changed_list = (f"list_sort(list_distinct(list_filter({column} || $add, "
                        f"lambda v: NOT list_contains($remove, v))))")
        changed = self._execute(
            f"UPDATE alerts SET {column} = {changed_list} WHERE id IN (SELECT unnest($ids)) "
            f"AND list_sort({column}) IS DISTINCT FROM {changed_list}",
            {"add": added, "remove": removed, "ids": _strings(ids)},
        ).fetchone()
        return changed[0] if changed else 0

    def add_note(self, alert_id: str, text: str, *, author: str | None = None) -> bool:
        """Append an analyst's note to the alert's `lanner.notes` ({text, author?, at});
        returns whether the alert exists."""
        if not isinstance(text, str) or not text.strip():
            raise AlertStoreError("a note needs some text")
        row = self._execute("SELECT document FROM alerts WHERE id = ?", [alert_id]).fetchone()
        if row is None:
            return False
        notes = list(orjson.loads(row[0]).get(NOTES) or [])
        note: dict[str, str] = {"text": text.strip()}
        if author:
            note["author"] = author
        note["at"] = datetime.datetime.now(datetime.UTC).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")
        self._execute(
            "UPDATE alerts SET document = json_merge_patch(document, ?) WHERE id = ?",
            [orjson.dumps({NOTES: [*notes, note]}).decode(), alert_id],
        )
        return True

    def extend_suppression(
        self, alert_id: str, docs_count: int, end: str, *, last_detected: str | None = None
    ) -> bool:
        """Record in a stored alert that it suppressed more events: its new
        `kibana.alert.suppression.docs_count` and `.end` (and `kibana.alert.last_detected`,
        which Kibana sets to the run's time). Returns whether the alert exists.
        """
        patch = {
            "kibana.alert.suppression.docs_count": docs_count,
            "kibana.alert.suppression.end": end,
        }
        if last_detected is not None:
            patch["kibana.alert.last_detected"] = last_detected
        changed = self._execute(
            "UPDATE alerts SET document = json_merge_patch(document, ?) WHERE id = ?",
            [orjson.dumps(patch).decode(), alert_id],
        ).fetchone()
        return bool(changed and changed[0])

    # -- reading --------------------------------------------------------------------------------

    def get(self, alert_id: str) -> dict[str, Any] | None:
        """The stored document of one alert, with its current workflow status; None if unknown."""
        row = self._execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM alerts WHERE id = ?", [alert_id]
        ).fetchone()
        return _document(*row) if row else None

    def find(
        self,
        *,
        rule_id: Selection = None,
        rule_uuid: Selection = None,
        severity: Selection = None,
        min_severity: str | None = None,
        host: Selection = None,
        user: Selection = None,
        tactic: Selection = None,
        technique: Selection = None,
        status: Selection = None,
        since: TimeBound = None,
        until: TimeBound = None,
        building_blocks: bool = False,
        limit: int | None = None,
        order: Order = "time",
        offset: int = 0,
        text: str | None = None,
        tag: Selection = None,
        assignee: Selection = None,
    ) -> list[dict[str, Any]]:
        """The documents of the alerts matching every condition given.

        Host and user match any of the alert's `host.name` / `user.name` values exactly; a
        tactic matches its id or name, a technique its (sub-technique) id or name, both
        ignoring case. `since`/`until` bound `kibana.alert.original_time`, both inclusive
        (datetimes, naive meaning UTC; ES date strings; epoch milliseconds). Order "time" is
        newest first, "severity" most severe first, then highest risk score, then newest.
        `offset` skips that many alerts of the order first (paging: `limit` rows from
        `offset`). `text` keeps the alerts whose stored text columns contain it, ignoring case
        (see `AlertFilter.text`).
        """
        where = AlertFilter(
            rule_id=rule_id,
            rule_uuid=rule_uuid,
            severity=severity,
            min_severity=min_severity,
            host=host,
            user=user,
            tactic=tactic,
            technique=technique,
            status=status,
            since=since,
            until=until,
            building_blocks=building_blocks,
            text=text,
            tag=tag,
            assignee=assignee,
        )
        if order not in _ORDERS:
            raise AlertStoreError(f"unknown order {order!r}: expected one of {', '.join(_ORDERS)}")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise AlertStoreError(f"offset must be a whole number >= 0, not {offset!r}")
        condition, parameters = _where(where, self._text_matched)
        if limit is not None and (
                isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise AlertStoreError(f"limit must be a whole number >= 0, not {limit!r}")
        if limit is None or limit > _PAGE_BY_IDS:
            sql = (f"SELECT {_DOCUMENT_COLUMNS} FROM alerts WHERE {condition} "
                   f"ORDER BY {_ORDERS[order]}")
            if limit is not None:
                sql += f" LIMIT {limit}"
            if offset:
                sql += f" OFFSET {offset}"
        else:
            # A page: choose its ids over the narrow columns first, then read only those
            # documents by id (a top-N over the documents decompresses every one of them;
            # with 100k alerts of 20 KB, 175 ms instead of 15 + 100 ms, measured).
            page = [alert_id for (alert_id,) in self._execute(
                f"SELECT id FROM alerts WHERE {condition} ORDER BY {_ORDERS[order]} "
                f"LIMIT {limit} OFFSET {offset}", parameters).fetchall()]
            if not page:
                return []
            rows = self._execute(
                f"SELECT id, {_DOCUMENT_COLUMNS} FROM alerts WHERE id IN "
                f"({', '.join('?' * len(page))})", page).fetchall()
            documents = {row[0]: row[1:] for row in rows}
            return [_document(*documents[alert_id]) for alert_id in page]
        return [_document(*row) for row in self._execute(sql, parameters).fetchall()]

    def versions(self) -> dict[str, int]:
        """Every alert's id (newest first, as `find`) and a hash of what its document shows
        (the stored document and the workflow columns): a copy kept elsewhere (the server's
        alerts index) sees what changed without parsing any document."""
        return dict(self._execute(f"SELECT id, hash({_DOCUMENT_COLUMNS}) FROM alerts "
                                  f"ORDER BY {_ORDERS['time']}").fetchall())

    def documents(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """The documents of these alerts (unknown ids skipped), newest first as `find`."""
        return [_document(*row) for row in self._execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM alerts WHERE id IN (SELECT unnest($ids)) "
            f"ORDER BY {_ORDERS['time']}", {"ids": _strings(ids)}).fetchall()]

    def count(self, where: AlertFilter | None = None) -> int:
        """How many alerts match the filter (what `find` gives without a limit)."""
        condition, parameters = _where(where or AlertFilter(), self._text_matched)
        return self._execute(f"SELECT count(*) FROM alerts WHERE {condition}",
                             parameters).fetchone()[0]

    def suppression_leader(
        self, instance_id: str, since: datetime.datetime | str | int
    ) -> dict[str, Any] | None:
        """The alert that later alerts of a suppression group fold into: the newest one of
        that `kibana.alert.instance.id` created (`@timestamp`) since the window's start and
        not closed; None when there is none, and a new alert starts the group."""
        row = self._execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM alerts WHERE instance_id = ? "
            "AND created_at >= make_timestamp_ns(?) AND workflow_status <> 'closed' "
            "ORDER BY created_at DESC, id LIMIT 1",
            [instance_id, _bound(since)],
        ).fetchone()
        return _document(*row) if row else None

    def summary(self, where: AlertFilter | None = None) -> list[AlertSummary]:
        """Alerts grouped by rule and severity, most severe first, then the most alerts."""
        condition, parameters = _where(where or AlertFilter(), self._text_matched)
        rows = self._execute(
            "SELECT rule_uuid, rule_id, rule_name, severity, count(*), "
            "count(*) FILTER (WHERE workflow_status = 'open'), "
            "count(*) FILTER (WHERE workflow_status = 'acknowledged'), "
            "count(*) FILTER (WHERE workflow_status = 'closed'), max(risk_score), "
            "list_sort(list_distinct(flatten(list(hosts)))), "
            "list_sort(list_distinct(flatten(list(users)))), "
            "min(original_time), max(original_time) "
            f"FROM alerts WHERE {condition} "
            "GROUP BY rule_uuid, rule_id, rule_name, severity, severity_rank "
            "ORDER BY severity_rank DESC, count(*) DESC, rule_name, rule_id, rule_uuid",
            parameters,
        ).fetchall()
        return [
            AlertSummary(
                rule_uuid=rule_uuid,
                rule_id=rule_id,
                rule_name=rule_name,
                severity=severity,
                count=count,
                open=open_count,
                acknowledged=acknowledged,
                closed=closed,
                max_risk_score=max_risk_score,
                hosts=hosts,
                users=users,
                first_seen=_utc(first_seen),
                last_seen=_utc(last_seen),
            )
            for (rule_uuid, rule_id, rule_name, severity, count, open_count, acknowledged,
                 closed, max_risk_score, hosts, users, first_seen, last_seen) in rows
        ]  # fmt: skip

    def counts(self, by: str, where: AlertFilter | None = None) -> dict[str, int]:
        """Alerts per value of one dimension, most first; an alert counts once per value it
        has (several hosts: once for each), and not at all when it has none.

        `by`: rule_id, rule_name, severity, status, host, user, tactic (names) or technique
        (ids).
        """
        keys = _DIMENSIONS.get(by)
        if keys is None:
            raise AlertStoreError(
                f"cannot count alerts by {by!r}: expected one of {', '.join(_DIMENSIONS)}"
            )
        condition, parameters = _where(where or AlertFilter(), self._text_matched)
        rows = self._execute(
            f"SELECT key, count(*) FROM (SELECT {keys} AS key FROM alerts WHERE {condition}) "
            "WHERE key IS NOT NULL GROUP BY key ORDER BY count(*) DESC, key",
            parameters,
        ).fetchall()
        return dict(rows)

    def rule_groups(self, where: AlertFilter | None = None) -> list[dict[str, Any]]:
        """Alerts per rule in one aggregate, most first: rule_id, name, the highest severity,
        count and open count (lighter than `summary`: no host or user lists)."""
        condition, parameters = _where(where or AlertFilter(), self._text_matched)
        rows = self._execute(
            "SELECT rule_id, any_value(rule_name), arg_max(severity, severity_rank), count(*), "
            "count(*) FILTER (WHERE workflow_status = 'open') "
            f"FROM alerts WHERE {condition} GROUP BY rule_id "
            "ORDER BY count(*) DESC, any_value(rule_name), rule_id",
            parameters,
        ).fetchall()
        return [{"rule_id": rule_id, "name": name, "severity": severity, "count": count,
                 "open": open_count}
                for rule_id, name, severity, count, open_count in rows]

    def histogram(
        self, where: AlertFilter | None = None, buckets: int = 48
    ) -> list[tuple[datetime.datetime, datetime.datetime, int]]:
        """The matching alerts over `kibana.alert.original_time` in at most `buckets` equal
        intervals from the first to the last: (start, end, count) each, oldest first, empty
        intervals included. Alerts without a time are not counted."""
        if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 1:
            raise AlertStoreError(f"buckets must be a whole number >= 1, not {buckets!r}")
        condition, parameters = _where(where or AlertFilter(), self._text_matched)
        rows = self._execute(
            "WITH matched AS (SELECT epoch_ns(original_time) AS t FROM alerts "
            f"WHERE {condition} AND original_time IS NOT NULL), "
            "bounds AS (SELECT min(t) AS low, max(t) AS high FROM matched), "
            "width AS (SELECT low, greatest(1, (high - low) // $buckets + 1) AS step "
            "FROM bounds WHERE low IS NOT NULL) "
            "SELECT (t - low) // step AS bucket, any_value(low), any_value(step), count(*) "
            "FROM matched, width GROUP BY bucket ORDER BY bucket",
            {**parameters, "buckets": buckets},
        ).fetchall()
        if not rows:
            return []
        low, step = rows[0][1], rows[0][2]
        found = {bucket: count for bucket, _, _, count in rows}
        last = max(found)

        def moment(nanos: int) -> datetime.datetime:
            return _EPOCH + datetime.timedelta(microseconds=nanos // 1000)

        return [(moment(low + n * step), moment(low + (n + 1) * step - 1), found.get(n, 0))
                for n in range(last + 1)]

    def existing(self, ids: Iterable[str]) -> set[str]:
        """Which of these ids are stored: what Kibana asks before truncating to max_signals."""
        rows = self._execute(
            "SELECT id FROM alerts WHERE id IN (SELECT unnest(?))", [_strings(ids)]
        ).fetchall()
        return {alert_id for (alert_id,) in rows}

    def __contains__(self, alert_id: object) -> bool:
        row = self._execute("SELECT 1 FROM alerts WHERE id = ?", [alert_id]).fetchone()
        return row is not None

    def __len__(self) -> int:
        """Every stored alert, building blocks included."""
        return self._execute("SELECT count(*) FROM alerts").fetchone()[0]

    # -- the database ---------------------------------------------------------------------------

    def _insert(self, batch: list[tuple[str, Mapping[str, Any]]]) -> list[str]:
        """Insert the alerts of a batch (ids distinct) not stored yet; returns their ids.

        Rows go through a JSON file that DuckDB reads with explicit types, the documents
        through a file of raw lines, joined back by position: without pandas or pyarrow the
        fastest route the event store measured, and here 2x faster than documents embedded
        in the rows and stored as DuckDB JSON.
        """
        stored = self.existing(alert_id for alert_id, _ in batch)
        rows: list[dict[str, Any]] = []
        documents: list[bytes] = []
        for alert_id, alert in batch:
            if alert_id in stored:
                continue
            rows.append(_row(alert_id, alert))
            try:
                documents.append(orjson.dumps(alert))
            except TypeError as error:
                raise AlertStoreError(f"alert {alert_id} is not JSON: {error}") from None
        if not rows:
            return []
        with tempfile.TemporaryDirectory(prefix="lanner-alerts-") as folder:
            rows_file = os.path.join(folder, "rows.json")
            documents_file = os.path.join(folder, "documents.txt")
            with open(rows_file, "wb") as out:
                out.write(orjson.dumps(rows))
            with open(documents_file, "wb") as out:
                out.write(b"\n".join(documents))  # compact JSON never holds a raw newline
            self._execute(
                f"INSERT INTO alerts SELECT {_SELECTS} FROM read_json(?, format = 'array', "
                f"columns = ?) POSITIONAL JOIN {_DOCUMENT_LINES}",
                [rows_file, _JSON_TYPES, documents_file],
            )
        return [row["id"] for row in rows]

    def _execute(self, sql: str, parameters: Any = None) -> duckdb.DuckDBPyConnection:
        if sql.startswith(_WRITES):
            self.writes += 1
        try:
            return self.con.execute(sql, parameters)
        except duckdb.Error as error:
            raise AlertStoreError(f"alert store: {error}\n  while running: {sql}") from None


def _alert_id(alert: Mapping[str, Any]) -> str:
    alert_id = _first(alert, UUID)
    if not isinstance(alert_id, str) or not alert_id:
        raise AlertStoreError(f"an alert needs a string `{UUID}`, found {alert_id!r}")
    return alert_id


def _row(alert_id: str, alert: Mapping[str, Any]) -> dict[str, Any]:
    """An alert's typed columns, checked: Kibana's alert fields have fixed value sets."""
    status = _first(alert, WORKFLOW_STATUS)
    if status is None:
        status = "open"
    elif status not in WORKFLOW_STATUSES:
        raise AlertStoreError(
            f"alert {alert_id}: unknown workflow status {status!r}: "
            f"expected one of {', '.join(WORKFLOW_STATUSES)}"
        )
    severity = _first(alert, "kibana.alert.severity")
    if severity is not None and severity not in SEVERITY_RANKS:
        raise AlertStoreError(
            f"alert {alert_id}: unknown severity {severity!r}: "
            f"expected one of {', '.join(SEVERITY_RANKS)}"
        )
    risk_score = _first(alert, "kibana.alert.risk_score")
    if risk_score is not None and type(risk_score) not in (int, float):
        raise AlertStoreError(f"alert {alert_id}: risk score {risk_score!r} is not a number")
    group_index = _first(alert, "kibana.alert.group.index")
    if group_index is not None and type(group_index) is not int:
        raise AlertStoreError(f"alert {alert_id}: group index {group_index!r} is not an integer")
    threats = field_objects(alert, "kibana.alert.rule.threat")
    techniques = field_objects(threats, "technique")
    subtechniques = field_objects(techniques, "subtechnique")
    return {
        "id": alert_id,
        "rule_uuid": _text(alert, "kibana.alert.rule.uuid"),
        "rule_id": _text(alert, "kibana.alert.rule.rule_id"),
        "rule_name": _text(alert, "kibana.alert.rule.name"),
        "severity": severity,
        "severity_rank": SEVERITY_RANKS.get(severity, 0),
        "risk_score": risk_score,
        "original_time": _time(alert, "kibana.alert.original_time", alert_id),
        "created_at": _time(alert, "@timestamp", alert_id),
        "workflow_status": status,
        "workflow_status_updated_at": _text(alert, WORKFLOW_STATUS_UPDATED_AT),
        "workflow_reason": _text(alert, WORKFLOW_REASON),
        "hosts": _texts(alert, "host.name"),
        "users": _texts(alert, "user.name"),
        "tactic_ids": _texts(threats, "tactic.id"),
        "tactic_names": _texts(threats, "tactic.name"),
        "technique_ids": _texts(techniques + subtechniques, "id"),
        "technique_names": _texts(techniques + subtechniques, "name"),
        "building_block": _first(alert, "kibana.alert.building_block_type") is not None,
        "group_id": _text(alert, "kibana.alert.group.id"),
        "group_index": group_index,
        "instance_id": _text(alert, "kibana.alert.instance.id"),
        "tags": _texts(alert, WORKFLOW_TAGS),
        "assignees": _texts(alert, WORKFLOW_ASSIGNEES),
    }


def _document(
    text: str,
    status: str,
    status_updated_at: str | None,
    reason: str | None,
    tags: list[str] | None,
    assignees: list[str] | None,
) -> dict[str, Any]:
    """A stored document with its current workflow fields, written as Kibana writes them."""
    document = orjson.loads(text)
    document[WORKFLOW_STATUS] = status
    for key, values in ((WORKFLOW_TAGS, tags), (WORKFLOW_ASSIGNEES, assignees)):
        if values or key in document:
            document[key] = values or []
    for key, value in ((WORKFLOW_STATUS_UPDATED_AT, status_updated_at), (WORKFLOW_REASON, reason)):
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    return document


def _first(alert: Any, path: str) -> Any:
    values = field_values(alert, path)
    return values[0] if values else None


def _text(alert: Any, path: str) -> str | None:
    value = _first(alert, path)
    return None if value is None else str(value)


def _texts(alert: Any, path: str) -> list[str]:
    """A field's distinct values as text, in document order."""
    return list(dict.fromkeys(str(value) for value in field_values(alert, path)))


def _time(alert: Mapping[str, Any], path: str, alert_id: str) -> int | None:
    value = _first(alert, path)
    if value is None:
        return None
    try:
        return _parse_date(value)
    except ValueError as error:
        raise AlertStoreError(f"alert {alert_id}: `{path}`: {error}") from None


def _where(where: AlertFilter, text_matched: str | None = None) -> tuple[str, dict[str, Any]]:
    """A filter as a SQL condition over table `alerts` and its named parameters; free text
    equal to `text_matched` reads the table `matching_text` filled."""
    conditions: list[str] = []
    parameters: dict[str, Any] = {}

    def match(sql: str, name: str, value: Any) -> None:
        conditions.append(sql)
        parameters[name] = value

    if where.rule_id is not None:
        match("list_contains($rule_id, rule_id)", "rule_id", _strings(where.rule_id))
    if where.rule_uuid is not None:
        match("list_contains($rule_uuid, rule_uuid)", "rule_uuid", _strings(where.rule_uuid))
    if where.severity is not None:
        severities = _check_values("severity", _strings(where.severity), SEVERITY_RANKS)
        match("list_contains($severity, severity)", "severity", severities)
    if where.min_severity is not None:
        _check_values("severity", [where.min_severity], SEVERITY_RANKS)
        match("severity_rank >= $min_rank", "min_rank", SEVERITY_RANKS[where.min_severity])
    if where.host is not None:
        match("list_has_any(hosts, $host)", "host", _strings(where.host))
    if where.user is not None:
        match("list_has_any(users, $user)", "user", _strings(where.user))
    if where.tactic is not None:
        match(
            "list_has_any(list_transform(tactic_ids || tactic_names, lambda t: lower(t)), "
            "$tactic)",
            "tactic",
            [value.lower() for value in _strings(where.tactic)],
        )
    if where.technique is not None:
        match(
            "list_has_any(list_transform(technique_ids || technique_names, "
            "lambda t: lower(t)), $technique)",
            "technique",
            [value.lower() for value in _strings(where.technique)],
        )
    if where.status is not None:
        statuses = _check_values("workflow status", _strings(where.status), WORKFLOW_STATUSES)
        match("list_contains($status, workflow_status)", "status", statuses)
    if where.since is not None:
        match("original_time >= make_timestamp_ns($since)", "since", _bound(where.since))
    if where.until is not None:
        match("original_time <= make_timestamp_ns($until)", "until", _bound(where.until))
    if where.text and where.text.lower() == text_matched:
        conditions.append("id IN (SELECT id FROM alert_text_matches)")
    elif where.text:
        match(_TEXT_MATCH, "text", where.text.lower())
    if where.tag is not None:
        match("list_has_any(tags, $tag)", "tag", _strings(where.tag))
    if where.assignee is not None:
        match("list_has_any(assignees, $assignee)", "assignee", _strings(where.assignee))
    if not where.building_blocks:
        conditions.append("NOT building_block")
    return " AND ".join(conditions) or "true", parameters


def _strings(selection: str | Iterable[str]) -> list[str]:
    """One value or several as a list; a lone string is one value, not its characters."""
    values = [selection] if isinstance(selection, str) else list(selection)
    for value in values:
        if not isinstance(value, str):
            raise AlertStoreError(f"expected text, found {value!r}")
    return values


def _check_values(what: str, values: list[str], allowed: Iterable[str]) -> list[str]:
    known = list(allowed)
    for value in values:
        if value not in known:
            raise AlertStoreError(f"unknown {what} {value!r}: expected one of {', '.join(known)}")
    return values


def _bound(value: datetime.datetime | str | int) -> int:
    """A time bound as epoch nanoseconds; a naive datetime is UTC, text and numbers are
    read as ES reads a date field (ISO 8601, or epoch milliseconds)."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return (value - _EPOCH) // datetime.timedelta(microseconds=1) * 1000
    try:
        return _parse_date(value)
    except ValueError as error:
        raise AlertStoreError(f"bad time bound: {error}") from None


def _utc(moment: datetime.datetime | None) -> datetime.datetime | None:
    """DuckDB gives TIMESTAMP_NS values as naive datetimes; the store keeps them in UTC."""
    return None if moment is None else moment.replace(tzinfo=datetime.UTC)
