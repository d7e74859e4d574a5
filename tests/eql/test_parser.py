"""The parser: the tree each construct gives, precedence, and every kind of error."""

from __future__ import annotations

import pytest

from lanner import eql
from lanner.eql import EqlSemanticError, EqlSyntaxError, EqlUnsupportedError
from lanner.eql import ast as a


def cond(text: str) -> a.Expr:
    """The condition of `any where <text>`."""
    query = eql.parse(f"any where {text}")
    assert isinstance(query, a.EventQuery)
    return query.filter.condition


F = a.Field


def S(value: str) -> a.String:
    return a.String(value)


def N(value: int | float) -> a.Number:
    return a.Number(value)


# ------------------------------------------------------------------ query shapes


def test_event_query() -> None:
    query = eql.parse('process where process.name == "cmd.exe"')
    assert query == a.EventQuery((), a.EventFilter("process", a.Comparison(
        a.ComparisonOp.EQ, F("process.name"), S("cmd.exe"))))


def test_any_and_quoted_categories() -> None:
    assert eql.parse("any where true").filter.category is None
    assert eql.parse('"my-cat" where true').filter.category == "my-cat"
    assert eql.parse('"""my-cat""" where true').filter.category == "my-cat"


def test_pipes() -> None:
    query = eql.parse("process where true | head 4 | tail 2")
    assert query.pipes == (a.Pipe(a.PipeKind.HEAD, 4), a.Pipe(a.PipeKind.TAIL, 2))
    assert eql.parse("process where true | head 0").pipes == (a.Pipe(a.PipeKind.HEAD, 0),)


def test_sequence_with_everything() -> None:
    query = eql.parse("""
        sequence by host.id with maxspan=5m
          [process where true] by process.entity_id with runs=2
          ![file where true] by process.entity_id
          [network where true] by process.entity_id
        until [process where false] by process.entity_id
        | tail 3""")
    assert isinstance(query, a.Sequence)
    assert query.keys == (F("host.id"),)
    assert query.maxspan == a.TimeSpan(5, "m") and query.maxspan.millis == 300_000
    assert [(s.filter.category, s.runs, s.missing) for s in query.stages] == [
        ("process", 2, False), ("file", 1, True), ("network", 1, False)]
    assert query.until == a.Stage(a.EventFilter("process", a.Boolean(False)),
                                  (F("process.entity_id"),))
    assert query.key_fields(query.stages[0]) == (F("host.id"), F("process.entity_id"))
    assert query.pipes == (a.Pipe(a.PipeKind.TAIL, 3),)


@pytest.mark.parametrize(("span", "millis"), [
    ("500ms", 500), ("10s", 10_000), ("1m", 60_000), ("1h", 3_600_000),
    ("100000d", 8_640_000_000_000),
])
def test_maxspan_units(span: str, millis: int) -> None:
    query = eql.parse(f"sequence with maxspan={span} [a where true] [b where true]")
    assert query.maxspan.millis == millis


def test_single_stage_with_runs_is_a_sequence() -> None:
    query = eql.parse("sequence [process where true] with runs=2")
    assert query.stages[0].runs == 2


def test_sample() -> None:
    query = eql.parse("sample by host.id [process where true] by os [file where true] by op_sys")
    assert isinstance(query, a.Sample)
    assert query.keys == (F("host.id"),)
    assert [stage.keys for stage in query.stages] == [(F("os"),), (F("op_sys"),)]


def test_optional_join_keys() -> None:
    query = eql.parse("sequence by ?x [a where true] by ?y [b where true] by z")
    assert query.keys == (F("x", optional=True),)
    assert query.stages[0].keys == (F("y", optional=True),)


# ------------------------------------------------------------------ expressions


def test_precedence_or_and_not() -> None:
    assert cond("a or b and not c") == a.Or((F("a"), a.And((F("b"), a.Not(F("c"))))))
    assert cond("not a and b") == a.And((a.Not(F("a")), F("b")))


def test_and_or_are_flattened() -> None:
    assert cond("a and (b and c) and d") == a.And((F("a"), F("b"), F("c"), F("d")))
    assert cond("(a or b) or c") == a.Or((F("a"), F("b"), F("c")))


def test_not_applies_to_a_whole_comparison() -> None:
    assert cond("not x == 1") == a.Not(a.Comparison(a.ComparisonOp.EQ, F("x"), N(1)))


def test_arithmetic_precedence_and_associativity() -> None:
    add, sub, mul = a.ArithmeticOp.ADD, a.ArithmeticOp.SUB, a.ArithmeticOp.MUL
    assert cond("x + y * 2 == 1").left == a.Arithmetic(
        add, F("x"), a.Arithmetic(mul, F("y"), N(2)))
    assert cond("x - y - z == 1").left == a.Arithmetic(
        sub, a.Arithmetic(sub, F("x"), F("y")), F("z"))


def test_unary_minus_folds_numbers_and_negates_fields() -> None:
    assert cond("x == -5").right == N(-5)
    assert cond("x == -1.5").right == N(-1.5)
    assert cond("-x == 1").left == a.Negate(F("x"))
    assert cond("x == +5").right == N(5)


def test_integers_and_decimals_are_distinct_literals() -> None:
    assert cond("x == 1").right != cond("x == 1.0").right


def test_predicates_attach_to_the_primary_on_their_left() -> None:
    assert cond('x : "a"') == a.Match(a.MatchKind.COLON, F("x"), (S("a"),))
    assert cond('x like~ ("a*", "b")') == a.Match(a.MatchKind.LIKE_I, F("x"), (S("a*"), S("b")))
    assert cond('x regex """\\d+"""') == a.Match(a.MatchKind.REGEX, F("x"), (S("\\d+"),))
    # `-x : "a"` is minus applied to the predicate, as in Elasticsearch's grammar
    assert cond('-x : "1"') == a.Negate(a.Match(a.MatchKind.COLON, F("x"), (S("1"),)))


@pytest.mark.parametrize(("text", "insensitive", "negated"), [
    ("x in (1, 2)", False, False), ("x in~ (1, 2)", True, False),
    ("x not in (1, 2)", False, True), ("x not in~ (1, 2)", True, True),
])
def test_in_forms(text: str, insensitive: bool, negated: bool) -> None:
    assert cond(text) == a.In(F("x"), (N(1), N(2)), insensitive, negated)


def test_match_kinds_know_their_semantics() -> None:
    assert a.MatchKind.COLON.insensitive and not a.MatchKind.COLON.is_regex
    assert not a.MatchKind.LIKE.insensitive and a.MatchKind.REGEX_I.is_regex


def test_functions_resolve_case_insensitively_to_canonical_names() -> None:
    assert cond('cidrmatch(source.ip, "10.0.0.0/8")') == a.FunctionCall(
        "cidrMatch", (F("source.ip"), S("10.0.0.0/8")))
    assert cond('STARTSWITH~(x, "a")') == a.FunctionCall("startsWith", (F("x"), S("a")), True)
    assert cond('CONCAT(x, "a") == "b"').left.name == "concat"


def test_fields() -> None:
    assert cond("?a.b") == F("a.b", optional=True)
    assert cond("`my-field`.x") == F("my-field.x")
    assert cond("`a.b`") == F("a.b")
    assert cond("event.sequence == 1").left == F("event.sequence")
    assert cond("@timestamp == 1").left == F("@timestamp")


def test_literals() -> None:
    assert cond("null") == a.Null() and cond("true") == a.Boolean(True)
    assert cond('"a" == "b"') == a.Comparison(a.ComparisonOp.EQ, S("a"), S("b"))


def test_spans_cover_the_node_text() -> None:
    text = 'process where x == 1 and startsWith(y, "a")'
    call = eql.parse(text).filter.condition.terms[1]
    assert text[call.span.start:call.span.end] == 'startsWith(y, "a")'
    assert (call.span.line, call.span.col) == (1, 26)


# ------------------------------------------------------------------ errors

SYNTAX_ERRORS = [
    # (query, line, col, expected fragment, found fragment)
    ("process where", 1, 14, "a value", "end of query"),
    ("process x == 1", 1, 9, "'where'", "'x'"),
    ("process.name == 1", 1, 8, "'where' after the event category", "'.'"),
    ("process where x ==", 1, 19, "a value", "end of query"),
    ("process where (x == 1", 1, 22, "')'", "end of query"),
    ("process where x == 1 AND y == 2", 1, 22, "'|' and a pipe", "keywords are lowercase: 'and'"),
    ("process where x in 1", 1, 20, "'(' and a list", "'1'"),
    ("process where x : y*", 1, 19, "", ""),  # field on the right: unsupported, below
    ("process where f(", 1, 15, "", ""),  # unknown function: semantic, below
    ("sequence [a where true]\n  [b where true", 2, 16, "']' to close the stage", "end of query"),
    ("sequence", 1, 9, "'[' to open the first stage", "end of query"),
    ("sequence with maxspan 5m [a where true] [b where true]", 1, 23, "'=' after maxspan", "'5'"),
    ("process where true | tails 2", 1, 22, "did you mean 'tail'", "'tails'"),
    ("where x == 1", 1, 1, "a query", "'where'"),
    ("process where x == 1 )", 1, 22, "the end of the query", "')'"),
]


@pytest.mark.parametrize(("text", "line", "col", "expected", "found"),
                         [e for e in SYNTAX_ERRORS if e[3]])
def test_syntax_errors_name_position_expected_and_found(
        text: str, line: int, col: int, expected: str, found: str) -> None:
    with pytest.raises(EqlSyntaxError) as info:
        eql.parse(text)
    error = info.value
    assert (error.line, error.col) == (line, col), error.message
    assert expected in error.expected
    assert found in error.found


UNSUPPORTED = [
    # (query, construct fragment, col)
    ("join [a where true] [b where true]", "'join'", 1),
    ("process where descendant of [process where true]", "'descendant of'", 15),
    ("process where child of [process where true]", "'child of'", 15),
    ("process where event of [process where true]", "'event of'", 15),
    ("process where true | sort x", "the 'sort' pipe", 22),
    ("process where true | unique x", "the 'unique' pipe", 22),
    ("process where true | count", "the 'count' pipe", 22),
    ("process where true | filter x == 1", "the 'filter' pipe", 22),
    ("process where true | unique_count x", "the 'unique_count' pipe", 22),
    ("process where x = 1", "'=' as a comparison", 17),
    ("process where x == 'a'", "a single-quoted string", 20),
    ('process where arrayContains(x, "a")', "the function 'arrayContains'", 15),
    ('process where arraySearch(x, s, s : "a")', "the function 'arraySearch'", 15),
    ("process where arrayCount(x, s, true) == 1", "the function 'arrayCount'", 15),
    ('process where match(x, "a")', "the function 'match'", 15),
    ("process where safe(x)", "the function 'safe'", 15),
    ("process where x[0] == 1", "array indexing", 16),
    ("process where x in (y, 1)", "comparing to a field in a list", 21),
    ("process where x : y", "comparing to a field or function with ':'", 19),
    ("process where x like~ lower(y)", "comparing to a field or function", 23),
    ("process where x == y", "comparing a field to another field", 15),
    ("process where length(x) > length(y)", "comparing a field to another field", 15),
    ("sequence [a where true] by x * 2 [b where true] by y", "the join key 'x * 2'", 28),
    ("sequence [a where true] fork=true [b where true]", "'fork'", 25),
    ("sample [a where true] [b where true] | head 1", "a pipe after a sample", 38),
    ("sample [a where true] ![b where true]", "a missing-event stage", 23),
    ("sample [a where true] with runs=2 [b where true]", "'with runs' here", 23),
]


@pytest.mark.parametrize(("text", "construct", "col"), UNSUPPORTED)
def test_foreign_constructs_are_named(text: str, construct: str, col: int) -> None:
    with pytest.raises(EqlUnsupportedError) as info:
        eql.parse(text)
    assert construct in info.value.message
    assert "is not supported in Elasticsearch EQL" in info.value.message
    assert info.value.col == col


SEMANTIC_ERRORS = [
    # (query, code, message fragment, col)
    ("process where foo(x)", "unknown-function", "unknown function [foo]", 15),
    ("process where startWith(x, \"a\")", "unknown-function", "did you mean [startsWith]", 15),
    ("sequence with maxspan=0s [a where true] [b where true]", "maxspan", "positive maxspan", 23),
    ("sequence with maxspan=5 [a where true] [b where true]", "maxspan",
     "did you mean [s] as in [5s]", 23),
    ("sequence with maxspan=5w [a where true] [b where true]", "maxspan",
     "unrecognized time unit [w]", 24),
    ("sequence with maxspan=0.5s [a where true] [b where true]", "maxspan",
     "decimal time interval [0.5]", 23),
    ("sequence with maxspan=1m by x [a where true] [b where true]", "syntax",
     "[by] before [with]", 26),
    ("sequence [a where true]", "sequence", "at least two stages", 1),
    ("sequence [a where true] with runs=0", "runs", "between 1 and 100", 35),
    ("sequence [a where true] with runs=101", "runs", "between 1 and 100", 35),
    ("sequence [a where true] ![b where true]", "sequence", "needs 'with maxspan", 25),
    ("sequence with maxspan=1m ![a where true] ![b where true]", "sequence",
     "at least one stage that is not a missing event", 26),
    ("sequence by a [x where true] by b [y where true]", "join-keys",
     "expected [1] but found [0]", 35),
    ("sequence [x where true] by b [y where true] by c until [z where true]", "join-keys",
     "expected [1] but found [0]", 56),
    ("process where true | head -1", "pipe-argument", "positive integer", 27),
    ("process where true | head x", "pipe-argument", "positive integer", 27),
    ("process where true | head 1, 2", "pipe-argument", "exactly one argument", 28),
    ("process where x < y < z", "syntax", "chained comparisons", 21),
    ("process where x in (1 + 1)", "in-literal", "must be literals", 21),
]


@pytest.mark.parametrize(("text", "code", "message", "col"), SEMANTIC_ERRORS)
def test_semantic_errors(text: str, code: str, message: str, col: int) -> None:
    with pytest.raises(EqlSemanticError) as info:
        eql.parse(text)
    assert info.value.code == code
    assert message in info.value.message
    assert info.value.col == col


def test_error_on_a_later_line_counts_lines() -> None:
    with pytest.raises(EqlSyntaxError) as info:
        eql.parse("sequence\n  [process where true]\n  [file where x == ]")
    assert (info.value.line, info.value.col) == (3, 20)
    view = eql.caret_view(info.value.text, info.value.line, info.value.col)
    assert view == "  [file where x == ]\n                   ^"
