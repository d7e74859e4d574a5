"""The printer: canonical text that parses back to the same tree, for every query we know."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from lanner import eql
from lanner.eql import ast
from lanner.eql.printer import Printer
from lanner.rules import load_rules
from tests.conftest import CORPUS, SEED_RULES, conformance_cases, require_shared

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_lines(name: str) -> list[str]:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def multiline_fixtures(name: str) -> list[str]:
    return [part.strip("\n") for part in (FIXTURES / name).read_text().split("---\n")]


@pytest.mark.parametrize("text", fixture_lines("roundtrip.eql"))
def test_canonical_queries_print_back_unchanged(text: str) -> None:
    assert eql.to_text(eql.parse(text)) == text


@pytest.mark.parametrize("text", multiline_fixtures("roundtrip_multiline.eql"))
def test_canonical_sequences_and_samples_print_back_unchanged(text: str) -> None:
    assert eql.to_text(eql.parse(text)) == text


@pytest.mark.parametrize(("text", "canonical"), [
    ("process where x:\"a\"", 'process where x : "a"'),
    ("process where (x == 1)", "process where x == 1"),
    ("process where ((a and b))", "process where a and b"),
    ('process where x : ("a")', 'process where x : "a"'),
    ('process where STARTSWITH(x, "a")', 'process where startsWith(x, "a")'),
    ('process where x == """C:\\Windows"""', 'process where x == "C:\\\\Windows"'),
    ("process where x == 1e3", "process where x == 1000.0"),
    ("process where x == 1 // comment", "process where x == 1"),
    ('"process" where true', "process where true"),
    ("sequence [a where true] with runs=1 [b where true]",
     "sequence\n  [a where true]\n  [b where true]"),
])
def test_printing_normalises(text: str, canonical: str) -> None:
    assert eql.to_text(eql.parse(text)) == canonical


def test_precedence_is_kept_where_the_tree_needs_parentheses() -> None:
    x, y, one = ast.Field("x"), ast.Field("y"), ast.Number(1)
    sub = ast.ArithmeticOp.SUB
    tree = ast.Arithmetic(sub, x, ast.Arithmetic(sub, y, one))
    assert eql.to_text(tree) == "x - (y - 1)"
    assert eql.to_text(ast.Negate(ast.Arithmetic(ast.ArithmeticOp.ADD, x, one))) == "-(x + 1)"
    match = ast.Match(ast.MatchKind.COLON, ast.Arithmetic(ast.ArithmeticOp.ADD, x, one),
                      (ast.String("2"),))
    assert eql.to_text(match) == '(x + 1) : "2"'
    assert eql.to_text(ast.Not(ast.Or((x, y)))) == "not (x or y)"


def test_every_node_class_has_a_printer_method() -> None:
    classes = [cls for _, cls in inspect.getmembers(ast, inspect.isclass)
               if issubclass(cls, ast.Node) and cls.__module__ == ast.__name__]
    abstract = {ast.Node, ast.Expr, ast.Literal, ast.Query}
    missing = [cls.__name__ for cls in classes
               if cls not in abstract and not hasattr(Printer, f"{cls.__name__.lower()}_text")]
    assert missing == []


def corpus_queries() -> list[tuple[str, str]]:
    require_shared()
    rules, errors = load_rules([CORPUS, SEED_RULES])
    assert errors == []
    return [(rule.path or "", rule.query) for rule in rules]


def test_round_trip_over_the_whole_rule_corpus() -> None:
    queries = corpus_queries()
    assert len(queries) == 1086
    failures = []
    for path, text in queries:
        tree = eql.parse(text)
        printed = eql.to_text(tree)
        again = eql.parse(printed)
        if again != tree or eql.to_text(again) != printed:
            failures.append(path)
    assert failures == []


def test_round_trip_over_the_conformance_queries() -> None:
    cases = conformance_cases()
    assert len(cases) == 231
    for case in cases:
        tree = eql.parse(case["query"])
        assert eql.parse(eql.to_text(tree)) == tree, case["name"]
