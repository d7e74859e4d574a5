"""Limits of the front end (issue 17): over-deep queries and out-of-range numbers are typed
errors with positions, long flat chains work, and printing is linear. Bounds are shown by
construction (stack frames, call counts, output length), never by timing."""

from __future__ import annotations

import glob
import inspect
import sys
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from lanner import eql
from lanner.eql import EqlSemanticError, Severity
from lanner.eql import ast as a
from lanner.eql.parser import MAX_DEPTH, Parser
from lanner.eql.printer import Printer
from tests.conftest import CORPUS, require_shared

# ------------------------------------------------------------------ depth


def _nested(opener: str, closer: str, count: int, inner: str = "x") -> str:
    return opener * count + inner + closer * count


# (how to nest n levels, the column of the opener of level n on the query's second line)
DEEP = {
    "parentheses": (lambda n: _nested("(", ")", n), lambda n: n),
    "calls": (lambda n: _nested("concat(", ")", n), lambda n: 1 + 7 * (n - 1)),
    "not": (lambda n: "not " * n + "x", lambda n: 1 + 4 * (n - 1)),
    "minus": (lambda n: "-" * n + "x", lambda n: n),
    "in lists": (lambda n: "1 in (" * n + "1" + ")" * n, lambda n: 3 + 6 * (n - 1)),
}


@pytest.mark.parametrize("shape", DEEP)
@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 82, 980])
def test_over_deep_nesting_is_a_typed_error_at_the_opener_past_the_limit(
        shape: str, levels: int) -> None:
    make, column = DEEP[shape]
    text = "any where\n" + make(levels)
    with pytest.raises(EqlSemanticError) as info:
        eql.parse(text)
    error = info.value
    assert error.code == "too-deep"
    assert error.message.startswith(f"the query nests more than {MAX_DEPTH} levels deep")
    assert (error.line, error.col) == (2, column(MAX_DEPTH + 1))
    issues = eql.validate(text)  # never raises: the same error, as data
    assert [(i.severity, i.code, i.line, i.col) for i in issues] == [
        (Severity.ERROR, "too-deep", 2, column(MAX_DEPTH + 1))]


@pytest.mark.parametrize("shape", DEEP)
def test_nesting_up_to_the_limit_is_accepted(shape: str) -> None:
    make, _ = DEEP[shape]
    issues = eql.validate("any where " + make(MAX_DEPTH))
    assert not [issue for issue in issues if issue.code == "too-deep"]


def test_the_limit_is_far_above_the_deepest_rule_of_the_corpus() -> None:
    require_shared()
    deepest = 0
    for path in glob.glob(str(CORPUS / "**" / "*.toml"), recursive=True):
        with open(path, "rb") as file:
            rule = tomllib.load(file).get("rule", {})
        if rule.get("language") == "eql":
            parser = Parser(rule["query"])
            parser.parse_query()
            deepest = max(deepest, parser.deepest)
    assert deepest == 8  # measured over the 1,081 rules; the limit leaves room 8 times over
    assert 8 * deepest <= MAX_DEPTH


@pytest.mark.parametrize("terms", [496, 5000])
@pytest.mark.parametrize("chain", [
    lambda n: "x == " + " + ".join(["1"] * n),
    lambda n: "5 == " + " * ".join(["x"] * n) + " - 1",
    lambda n: "5 == " + " + ".join(["2 * y"] * n),
    lambda n: " or ".join(["a"] * n),
    lambda n: " and ".join(["a == 1"] * n),
], ids=["plus", "times-minus", "sum-of-products", "or", "and"])
def test_flat_chains_are_not_deep(chain: Callable[[int], str], terms: int) -> None:
    text = "any where " + chain(terms)
    tree = eql.parse(text)
    assert eql.validate(text) == []
    printed = eql.to_text(tree)
    assert printed == text  # canonical already: printed once, in linear length
    again = eql.parse(printed)
    assert again == tree and hash(again) == hash(tree)
    assert tree.transform(lambda node: node) is tree


@contextmanager
def stack_budget(frames: int) -> Iterator[None]:
    """Python's recursion limit set to `frames` above the caller's stack."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _dense(levels: int) -> str:
    """Every level as many nodes deep as one level can be: or, and, ==, +, *, a call."""
    text = '"x"'
    for _ in range(levels):
        text = f"a or b and c == 1 + 2 * length({text})"
    return text


@pytest.mark.parametrize("text", [
    _dense(MAX_DEPTH), _nested("(", ")", MAX_DEPTH), "not " * MAX_DEPTH + "x",
    "- " * MAX_DEPTH + "x", _nested("concat(", ")", MAX_DEPTH),
])
def test_the_deepest_accepted_query_stays_far_inside_the_stack(text: str) -> None:
    """Parse, validate, print, reparse, compare, hash and transform within 600 frames (of
    Python's 1,000): only the parser recurses, about 8 frames a level; the rest loop."""
    text = "any where " + text
    with stack_budget(600):
        tree = Parser(text).parse_query()
        eql.validate(text)
        printed = eql.to_text(tree)
        again = Parser(printed).parse_query()
        assert again == tree and hash(again) == hash(tree)
        tree.transform(lambda node: node)


# ------------------------------------------------------------------ numbers


@pytest.mark.parametrize(("number", "shown"), [
    ("9" * 5000, "9" * 20 + "…(5000 characters)"),  # was a ValueError from int()
    ("1" + "0" * 309, "1" + "0" * 19 + "…(310 characters)"),  # beyond a double
    ("1e999", "1e999"),  # was accepted and printed back as `inf`
    ("2.5E+400", "2.5E+400"),
    ("9" * 400 + ".5", "9" * 20 + "…(402 characters)"),
])
def test_numbers_beyond_a_double_are_errors_like_elasticsearch(number: str, shown: str) -> None:
    text = f"process where\n  x == {number}"
    with pytest.raises(EqlSemanticError) as info:
        eql.parse(text)
    assert info.value.code == "number-range"
    assert info.value.message == f"Number [{shown}] is too large"
    assert (info.value.line, info.value.col) == (2, 8)
    assert [(i.code, i.line, i.col) for i in eql.validate(text)] == [("number-range", 2, 8)]


@pytest.mark.parametrize(("number", "value"), [
    ("9223372036854775808", 2**63),  # beyond a long: kept exact, as before
    ("1" + "0" * 308, 10**308),
    ("0" * 5000 + "7", 7),  # leading zeros are not digits of range
    ("1e308", 1e308),
    ("1e-999", 0.0),  # underflow is zero, in Java as in Python
])
def test_large_numbers_within_a_double_keep_their_value(number: str, value: float) -> None:
    tree = eql.parse(f"process where x == {number}")
    right = tree.filter.condition.right
    assert right == a.Number(value)
    assert eql.parse(eql.to_text(tree)) == tree


@pytest.mark.parametrize("text", ['any where\n  x == "a\ud800"', 'any where\n  x == 1 or \udfff'])
def test_lone_surrogates_are_syntax_errors(text: str) -> None:
    """Found by tests/eql/test_fuzz.py: they parsed and printed, but no UTF-8 text (a rule
    file, an Elasticsearch request, a SQL literal) can hold them."""
    with pytest.raises(eql.EqlSyntaxError) as info:
        eql.parse(text)
    surrogate = next(c for c in text if "\ud800" <= c <= "\udfff")
    assert info.value.message == ("expected a valid Unicode code point, found the lone "
                                  f"surrogate \\u{{{ord(surrogate):04x}}}")
    assert (info.value.line, info.value.col) == (2, text.split("\n")[1].index(surrogate) + 1)
    assert [issue.code for issue in eql.validate(text)] == ["syntax"]


# ------------------------------------------------------------------ printing


@pytest.mark.parametrize("signs", [2, 16, 22, MAX_DEPTH])
def test_nested_minus_prints_each_operand_once(signs: int,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`negate_text` printed its operand twice: 22 signs took 2**22 calls (8 s)."""
    calls = 0
    original = Printer.negate_text

    def counted(self: Printer, node: a.Negate) -> str:
        nonlocal calls
        calls += 1
        return original(self, node)

    monkeypatch.setattr(Printer, "negate_text", counted)
    tree = eql.parse("any where 5 == " + "-" * signs + "y")
    printed = eql.to_text(tree)
    assert calls == signs
    assert len(printed) <= len("any where 5 == y") + 2 * signs
    assert eql.parse(printed) == tree
