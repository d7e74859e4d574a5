"""Fuzzing the front end (issue 17): mutated corpus and conformance queries either parse or
fail with one of Lanner's typed errors, `validate` never raises, and whatever parses prints
to text that parses back to the same tree.

Hypothesis runs a fixed number of examples with derandomize=True, so every run (and CI) tries
the same inputs; no deadline, since a run is bounded by the example count, not by a clock.
"""

from __future__ import annotations

import functools
import glob
import tomllib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lanner import eql
from lanner.eql.schema import FieldSchema
from lanner.errors import LannerError
from tests.conftest import CORPUS, conformance_cases, require_shared

SETTINGS = settings(max_examples=400, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@functools.cache
def seeds() -> tuple[str, ...]:
    """Every EQL query of the rule corpus and of Elasticsearch's conformance suite."""
    require_shared()
    queries = []
    for path in sorted(glob.glob(str(CORPUS / "**" / "*.toml"), recursive=True)):
        with open(path, "rb") as file:
            rule = tomllib.load(file).get("rule", {})
        if rule.get("language") == "eql":
            queries.append(rule["query"])
    queries.extend(case["query"] for case in conformance_cases())
    return tuple(queries)


TOKENS = (
    "(", ")", "[", "]", "![", ",", "|", ":", "==", "!=", "<", "<=", "=", "+", "-", "*", "/", "%",
    ".", "?", "~", "not", "and", "or", "in", "in~", "not in", "like~", "regex", "where", "any",
    "sequence", "sample", "by", "with", "maxspan=5m", "runs=", "until", "head", "tail", "true",
    "null", "0", "-1", "1.5", "1e308", "1e999", "-1e999", "9" * 5000, "0" * 400 + "1",
    "1" + "0" * 320, ".5e-999", "concat(", "length(", "add(", "cidrMatch(", "startsWith~(",
    '"', '"""', "'", "`", "\\", "\\u{", "/*", "*/", "//", "\n", "\t", "@timestamp",
    "process.name", "?x", "`a b`",
)
ODD_CHARACTERS = "\x00\x07\x7f\u00e9\u200b\u2028\ufeff\U0001f600\ud800\u0130\u212a\uff08"


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(seeds()))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(
            ["delete", "duplicate", "insert-char", "insert-token", "delete-word",
             "duplicate-word", "wrap", "number"]))
        at = draw(st.integers(0, len(text)))
        if kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 8)):]
        elif kind == "duplicate":
            end = min(len(text), at + draw(st.integers(1, 40)))
            text = text[:end] + text[at:end] + text[end:]
        elif kind == "insert-char":
            char = draw(st.one_of(st.sampled_from(ODD_CHARACTERS), st.characters()))
            text = text[:at] + char + text[at:]
        elif kind == "insert-token":
            text = f"{text[:at]} {draw(st.sampled_from(TOKENS))} {text[at:]}"
        elif kind in ("delete-word", "duplicate-word"):
            words = text.split(" ")
            index = draw(st.integers(0, len(words) - 1))
            words[index:index + 1] = [] if kind == "delete-word" else [words[index]] * 2
            text = " ".join(words)
        elif kind == "wrap":
            count = draw(st.sampled_from([1, 2, 30, 63, 64, 65, 100, 1000]))
            opener, closer = draw(st.sampled_from(
                [("(", ")"), ("not ", ""), ("-", ""), ("length(", ")"), ("not (", ")")]))
            where = text.find("where ", at)
            at = where + 6 if where >= 0 else at
            end = text.find("]", at)
            end = end if end >= 0 else len(text)
            text = text[:at] + opener * count + text[at:end] + closer * count + text[end:]
        else:
            number = draw(st.sampled_from(["9" * 4301, "1e999", "18446744073709551616",
                                           "1" + "0" * 308, "2.5e-400"]))
            text = text[:at] + number + text[at:]
    return text


@functools.cache
def schema() -> FieldSchema:
    return FieldSchema.default()


@SETTINGS
@given(mutated())
def test_mutated_queries_fail_only_with_typed_errors(text: str) -> None:
    issues = eql.validate(text)  # never raises
    assert all(isinstance(issue, eql.Issue) for issue in issues)
    assert all(isinstance(issue, eql.Issue) for issue in eql.validate(text, schema()))
    try:
        tree = eql.parse(text)
    except LannerError as error:
        assert isinstance(error, eql.EqlError) and error.span is not None
        assert error.line >= 1 and error.col >= 1
        return
    assert not [issue for issue in issues if issue.severity is eql.Severity.ERROR]
    printed = eql.to_text(tree)
    printed.encode("utf-8")  # writable to a file, a request or SQL (no lone surrogates)
    again = eql.parse(printed)  # what parsed prints to text that parses, to the same tree
    assert again == tree
    assert eql.to_text(again) == printed
