"""The ES|QL front end: every active corpus rule parses; precedence, names, literals and
error positions as Elasticsearch's grammar has them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from lanner import esql
from lanner.esql import Severity, ast

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "detection-rules-other"


def active_esql_rules() -> list[tuple[str, str]]:
    rules = []
    for line in (CORPUS / "INDEX.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        path, _, rule_type, _, _, name = line.split("\t")
        if rule_type == "esql" and "_deprecated" not in path:
            document = tomllib.loads((CORPUS / path).read_text(encoding="utf-8"))
            rules.append((name, document["rule"]["query"]))
    return rules


def test_every_active_corpus_rule_parses_and_checks() -> None:
    rules = active_esql_rules()
    assert len(rules) == 209
    not_runnable = []
    for name, text in rules:
        issues = esql.validate(text)
        assert all(i.code == "not-runnable" and i.severity is Severity.WARNING
                   for i in issues), (name, issues)
        if issues:
            not_runnable.append(name)
    assert len(not_runnable) == 7
    assert all("COMPLETION" in i.message for _, t in rules for i in esql.validate(t))


def where(text: str) -> ast.Expr:
    command = esql.parse(f"FROM logs-* | WHERE {text}").commands[1]
    assert isinstance(command, ast.Where)
    return command.condition


def test_not_binds_to_the_predicate_and_and_before_or() -> None:
    assert where('NOT a IN ("x", "y") OR b == 1 AND c') == ast.Binary(
        "or", ast.Unary("not", ast.In(ast.Column("a"), (ast.Literal("x"), ast.Literal("y")))),
        ast.Binary("and", ast.Binary("==", ast.Column("b"), ast.Literal(1)), ast.Column("c")))
    assert where('a NOT LIKE "x*"') == ast.Like(ast.Column("a"), ("x*",), False, True)
    assert where("a IS NOT NULL") == ast.IsNull(ast.Column("a"), True)
    assert where("1 + 2 * -x > 3") == ast.Binary(">", ast.Binary(
        "+", ast.Literal(1), ast.Binary("*", ast.Literal(2), ast.Unary("-", ast.Column("x")))),
        ast.Literal(3))


def test_sources_metadata_strings_spans_and_casts() -> None:
    query = esql.parse('from logs-endpoint.events.process-*, .alerts-security.* metadata _id, '
                       '_index\n| eval t = date_trunc(5 minutes, @timestamp), s = """a\\d"b""", '
                       'n = x::double, to_lower(`odd name`)\n| keep Esql.*, _id')
    source, evaluate, keep = query.commands
    assert source == ast.From(("logs-endpoint.events.process-*", ".alerts-security.*"),
                              ("_id", "_index"))
    names = [a.name for a in evaluate.assignments]
    assert names == ["t", "s", "n", "to_lower(`odd name`)"]
    assert evaluate.assignments[0].value.args[0] == ast.TimeSpan(5, "minute")
    assert evaluate.assignments[1].value == ast.Literal('a\\d"b')
    assert evaluate.assignments[2].value == ast.Cast(ast.Column("x"), "double")
    assert keep == ast.Keep(("Esql.*", "_id"))
    assert not query.is_aggregating


def test_stats_makes_a_query_aggregating_but_inline_stats_does_not() -> None:
    stats = esql.parse("FROM a | STATS c = COUNT(*), VALUES(x) BY host.name, d = y + 1")
    command = stats.commands[1]
    assert [a.name for a in command.aggregates] == ["c", "VALUES(x)"]
    assert [g.name for g in command.groups] == ["host.name", "d"]
    assert stats.is_aggregating
    assert not esql.parse("FROM a | INLINE STATS c = COUNT(*) BY x").is_aggregating


@pytest.mark.parametrize(("text", "line", "col", "message"), [
    ("FROM a | WHERE x ==", 1, 20, "expected an expression, found end of input"),
    ("FROM a\n| WHRE x", 2, 3, "expected a processing command"),
    ('FROM a | WHERE x IN ("a"', 1, 25, "expected ')'"),
    ('FROM a | EVAL x = "abc', 1, 19, "unterminated string"),
    ("WHERE x", 1, 1, "expected FROM"),
])
def test_syntax_errors_say_where_and_what_was_expected(text: str, line: int, col: int,
                                                        message: str) -> None:
    with pytest.raises(esql.EsqlSyntaxError) as caught:
        esql.parse(text)
    assert (caught.value.line, caught.value.col) == (line, col)
    assert message in caught.value.message


def test_verifier_refuses_columns_a_pipeline_no_longer_has() -> None:
    issues = esql.validate("FROM a | STATS c = COUNT(*) BY host.name | WHERE user.name == \"x\"")
    assert [(i.code, i.message, i.col) for i in issues] == [
        ("verification", "Unknown column [user.name]", 50)]
    issues = esql.validate("FROM a | KEEP host.* | EVAL x = TO_LOWER(user.name, 1)")
    assert [i.message for i in issues] == [
        "function [to_lower] does not take 2 arguments", "Unknown column [user.name]"]
    issues = esql.validate("FROM a | EVAL x = COUNT(*) | EVAL y = NOPE(1)")
    assert [i.message for i in issues] == ["aggregate function [count] is only allowed in STATS",
                                           "Unknown function [nope]"]
    assert esql.validate("FROM a | DISSECT m \"%{a} %{?b} %{+a}\" | GROK n \"%{IP:c.d}\" "
                         "| KEEP a, c.d") == []


def test_every_corpus_query_prints_back_to_itself() -> None:
    for name, text in active_esql_rules():
        query = esql.parse(text)
        assert esql.parse(esql.to_text(query)) == query, name
    assert esql.to_text(esql.parse('from a | where not (x == 1 or y in (2, 3)) and `a b` : "q"'
                                   " | sort x desc nulls last")) == (
        'FROM a\n| WHERE NOT (x == 1 OR y IN (2, 3)) AND `a b` : "q"\n| SORT x DESC NULLS LAST')
