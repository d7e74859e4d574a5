"""Elasticsearch's EQL QA suite as a ratchet: every case runs (head and tail) through the public
client, on DuckDB and on Spark; a failing case must be listed in known_failures.txt (one list for
both engines), and a listed case that passes must be removed from it, so the list only shrinks.
See harness.py for how the suite is run."""

from __future__ import annotations

import pytest

from tests.conformance import harness

if not harness.CONFORMANCE.is_dir():
    pytest.skip(f"the conformance suite is missing: expected it at {harness.CONFORMANCE}",
                allow_module_level=True)

CASES = harness.cases()
KNOWN = harness.known_failures()
RESULTS: dict[str, list[bool]] = {}  # per spec file (and rerun target): outcomes, for the summary


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case(case: harness.Case) -> None:
    _check(case, "duckdb")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case_on_spark(case: harness.Case, spark: object) -> None:
    """The same case on the Spark backend, against the same expectations and known failures."""
    _check(case, "spark")


@pytest.mark.parametrize("order", ["all", "all-reversed"])
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case_with_every_index_in_one_store(case: harness.Case, order: str) -> None:
    """The same case with all the suite's indices in one store, loaded in either order: a
    search sees each index as its own mapping types it (endgame-140's `@timestamp` is `date`,
    endgame-140-nanos's `date_nanos`), as Elasticsearch does."""
    _check(case, "duckdb", order)


def _check(case: harness.Case, engine: str, order: str = "own") -> None:
    outcome = harness.run(case, engine, order)
    group = case.id.split("::")[0] + ("" if engine == "duckdb" else f" on {engine}") \
        + ("" if order == "own" else f" ({order})")
    RESULTS.setdefault(group, []).append(outcome.passed)
    if case.id in KNOWN:
        if outcome.passed:
            pytest.fail(f"{case.id} passes now: remove it from known_failures.txt")
        pytest.xfail(KNOWN[case.id])
    assert outcome.passed, "\n".join(outcome.problems)


def test_known_failures_name_real_cases() -> None:
    ids = {case.id for case in CASES}
    assert sorted(set(KNOWN) - ids) == []


def test_every_spec_file_runs() -> None:
    """The suite's 231 active cases, and test_queries.toml again on the nanosecond index."""
    assert len({(case.file, case.name) for case in CASES}) == 231
    assert len(CASES) == 231 + 133


def test_the_nanos_maxspan_case_as_elasticsearch_runs_it_now() -> None:
    """sequencesOnDifferentEventTypes7 as ES PR #76953 rewrote it (maxspan=50ms, see
    known_failures.txt): [] on both the millisecond and the nanosecond index, while 500ms
    accepts the 50 ms spans of the nanosecond index."""
    case = next(case for case in CASES if case.name == "sequencesOnDifferentEventTypes7"
                and case.target is harness.NANOS)
    assert "maxspan=500ms" in case.query
    for target in (harness.ENDGAME, harness.NANOS):
        rewritten = harness.Case(case.file, case.name, case.query.replace("500ms", "50ms"), (),
                                 (), target)
        assert harness.run(rewritten).passed
    spans = harness.Case(case.file, case.name, case.query,
                         (67, 68, 69, 70, 72, 73, 74, 75), (), harness.NANOS)
    assert harness.run(spans).passed
