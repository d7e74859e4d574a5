"""Every active KQL query of the detection-rules corpus compiles to Kibana's Query DSL and to
SQL on a store typed with the ECS schema (as `rules validate` types fields), and the SQL runs
on DuckDB (all of them in about 5 s: value lists on one PowerShell text field or one ip field
are tested together, not clause by clause).

"Active" is INDEX.tsv's maturity `production`: 453 query, 240 new_terms, 28 threshold and 6
threat_match rules, plus the 6 threat_query strings of the indicator-match rules.
"""

from __future__ import annotations

import functools
from collections import Counter

import pytest

import lanner
from bench import kql as kql_bench
from lanner import kql
from lanner.engine.backends.duckdb import SearchScope
from lanner.engine.client import Lanner
from lanner.engine.querydsl import field_types, kql_condition
from tests.conftest import SHARED, require_shared

CORPUS = SHARED / "corpus" / "detection-rules-other"

@functools.cache
def active_kql() -> tuple[tuple[str, str, str], ...]:
    """(where, rule type, query) of every active kuery query, threat queries included."""
    require_shared()
    return tuple(kql_bench.active_kql(CORPUS))


@pytest.fixture(scope="module")
def ecs_typed() -> Lanner:
    """A store whose one index has no mapping, so the ECS schema types every field."""
    client = lanner.connect()
    client.bulk(operations=[{"index": {"_index": "logs-endpoint"}},
                            {"@timestamp": "2025-01-01T00:00:00Z",
                             "event": {"category": "process"}}])
    return client


def test_the_census_is_the_corpus() -> None:
    assert Counter(kind for _, kind, _ in active_kql()) == {
        "query": 453, "new_terms": 240, "threshold": 28, "threat_match": 6, "threat_query": 6}


def test_every_active_kql_query_compiles_to_dsl_and_sql(ecs_typed: Lanner) -> None:
    backend = ecs_typed.backend
    scope = SearchScope(backend.indices("logs-endpoint"))
    compiler = backend.compiler(scope)
    assert compiler.schema is not None
    types = field_types(compiler)
    failures = []
    ran = 0
    for where, _, query in active_kql():
        try:
            dsl = kql.to_query_dsl(query, types)
            assert isinstance(dsl, dict) and len(dsl) == 1
            sql = kql_condition(query, compiler)
            assert backend.count(sql, scope) in (0, 1)
            ran += 1
        except lanner.errors.LannerError as error:
            failures.append(f"{where}: {error}")
    assert failures == []
    assert ran == 733
