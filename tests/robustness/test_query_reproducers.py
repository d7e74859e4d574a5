"""Issue 17's hostile queries, each run as a user would (`lanner validate-query --print`, and a
search over events) in a process of its own with a time limit: a typed error with its place, or
an answer, in bounded time; never a traceback."""

from __future__ import annotations

import contextlib
import subprocess
import sys

import pytest

from lanner.engine.client import connect
from lanner.errors import LannerError

TIME_LIMIT = 60  # seconds for a whole process; each answers in about one

REPRODUCERS = {
    "82 parentheses": "process where " + "(" * 82 + "true" + ")" * 82,
    "76 nested calls": "process where " + "length(" * 76 + '"a"' + ")" * 76 + " > 0",
    "980 not": "process where " + "not " * 980 + "true",
    "flat sum of 496 terms": "process where n == " + " + ".join(["1"] * 496),
    "flat sum of 3000 terms": "process where n == " + " + ".join(["1"] * 3000),
    "4301-digit integer": "process where n == " + "9" * 4301,
    "26 nested unary minus": "process where n == " + "-" * 26 + "1",
    "1e999": "process where n == 1e999",
    "regex RE2 refuses": 'process where process.name regex "(a{1000}){1000}"',
}


@pytest.mark.parametrize("query", REPRODUCERS.values(), ids=REPRODUCERS.keys())
def test_validate_query_answers_in_bounded_time_without_a_traceback(query: str) -> None:
    done = subprocess.run([sys.executable, "-m", "lanner", "validate-query", "--print", "-"],
                          input=query, capture_output=True, text=True, timeout=TIME_LIMIT)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.returncode in (0, 1), done.stderr[-2000:]
    if done.returncode == 1:
        assert "<query>:1:" in done.stdout + done.stderr  # placed: line and column


@pytest.mark.parametrize("query", REPRODUCERS.values(), ids=REPRODUCERS.keys())
def test_a_search_answers_or_raises_a_typed_error(query: str) -> None:
    es = connect()
    es.bulk(operations=[{"index": {"_index": "i"}},
                        {"@timestamp": "2026-01-01T00:00:00Z", "event": {"category": "process"},
                         "n": 1, "process": {"name": "a"}}], refresh=True)
    with contextlib.suppress(LannerError):  # typed, with the place the query went wrong
        es.eql.search(index="i", query=query)
