"""Every runnable active corpus ES|QL rule runs over a store where its FROM patterns match an
index: the translation of all of them reaches DuckDB and back, whatever fields the store lacks
(an index without a mapping stands for the integration's data stream, which maps them)."""

from __future__ import annotations

import datetime

from lanner import esql
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.engine.esql_sql import run
from lanner.store import EventStore
from tests.esql.test_parser import active_esql_rules

EVENT = {"@timestamp": "2026-01-01T00:00:00Z", "host": {"name": "h", "id": "i"},
         "user": {"name": "u"}, "event": {"category": ["process"], "code": "1"},
         "process": {"name": "p", "args": ["a", "b"], "command_line": "p a b"},
         "source": {"ip": "10.0.0.1"}}
# Lucene's `&` (intersection) in an RLIKE: refused by name rather than guessed.
REFUSED = {"Kubernetes Pod Exec Potential Reverse Shell":
           "the Lucene operator '&' is not supported by Lanner"}


def test_every_runnable_rule_runs_over_an_index_it_names() -> None:
    queries = [(name, esql.parse(text)) for name, text in active_esql_rules()]
    runnable = [(name, query) for name, query in queries if not esql.not_runnable(query)]
    assert len(runnable) == 202
    failed = {}
    with EventStore() as store:
        for index in sorted({pattern.replace("*", "x") for _, query in runnable
                             for pattern in query.source.indices
                             if not pattern.startswith("-")}):
            store.ingest([EVENT], index=index)
        backend = DuckDBBackend(store)
        now = datetime.datetime(2026, 1, 1, 1, tzinfo=datetime.UTC)
        for name, query in runnable:
            indices = backend.indices(list(query.source.indices))
            assert indices, name
            try:
                run(backend, query, indices, filter_sql=None, now=now, limit=101)
            except esql.EsqlError as error:
                failed[name] = error.message
    assert set(failed) == set(REFUSED)
    assert all(REFUSED[name] in message for name, message in failed.items())
