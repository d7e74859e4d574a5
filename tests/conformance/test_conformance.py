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


def _check(case: harness.Case, engine: str) -> None:
    outcome = harness.run(case, engine)
    group = case.id.split("::")[0] + ("" if engine == "duckdb" else f" on {engine}")
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
