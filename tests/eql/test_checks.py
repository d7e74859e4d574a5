"""Checks: arity and argument types, conditions, fields and categories, with positions."""

from __future__ import annotations

import pytest

from lanner import eql
from lanner.eql import EqlSemanticError, Severity
from lanner.eql.schema import FieldSchema


@pytest.fixture(scope="module")
def schema() -> FieldSchema:
    return FieldSchema.default()


def issues(text: str, schema: FieldSchema | None = None, **kwargs: str) -> list[tuple]:
    return [(i.severity, i.code, i.message, i.line, i.col)
            for i in eql.validate(text, schema, **kwargs)]


def errors(text: str, schema: FieldSchema | None = None) -> list[tuple[str, str, int]]:
    return [(code, message, col) for severity, code, message, _, col in issues(text, schema)
            if severity is Severity.ERROR]


ARITY = [
    ('length()', "length() takes exactly 1 argument, found 0 in [length()]"),
    ('length(x, "a")', "length() takes exactly 1 argument, found 2"),
    ('startsWith(x)', "startsWith() takes exactly 2 arguments, found 1"),
    ('between(x, "a")', "between() takes 3 to 4 arguments, found 2"),
    ('between(x, "a", "b", true, 1)', "between() takes 3 to 4 arguments, found 5"),
    ('cidrMatch(source.ip)', "cidrMatch() takes at least 2 arguments, found 1"),
    ('concat()', "concat() takes at least 1 argument, found 0"),
    ('add(1)', "add() takes exactly 2 arguments, found 1"),
    ('substring(x)', "substring() takes 2 to 3 arguments, found 1"),
    ('number(x, 10, 1)', "number() takes 1 to 2 arguments, found 3"),
]


@pytest.mark.parametrize(("call", "message"), ARITY)
def test_wrong_arity_is_an_error_at_check_time(call: str, message: str) -> None:
    found = errors(f"process where {call} != null")
    assert found[0][0] == "arity" and message in found[0][1] and found[0][2] == 15
    with pytest.raises(EqlSemanticError, match="argument"):
        eql.parse(f"process where {call} != null")


ARGUMENTS = [
    ('startsWith(x, 5)', "second argument of [startsWith(x, 5)] must be [string], "
     "found value [5] type [integer]", 29),
    ('length(5)', "first argument of [length(5)] must be [string]", 22),
    ('substring(x, "a")', "second argument of [substring(x, \"a\")] must be [integer]", 28),
    ('indexOf(x, "a", 1.5)', "third argument of [indexOf(x, \"a\", 1.5)] must be [integer]", 31),
    ('add("a", 1)', "first argument of [add(\"a\", 1)] must be [float or integer]", 19),
    ('between(x, "a", "b", y)', "fourth argument of [between(x, \"a\", \"b\", y)] must be a "
     "constant, found [y]", 36),
    ('between(x, "a", "b", "yes")', "fourth argument of [between(x, \"a\", \"b\", \"yes\")] "
     "must be [boolean]", 36),
    ('cidrMatch(source.ip, x)', "second argument of [cidrMatch(source.ip, x)] must be a "
     "constant", 36),
    ('cidrMatch(source.ip, "10.0.0.0/33")', "is not an IP address or CIDR block", 36),
    ('cidrMatch(source.ip, "10.0.0.0/8", "fe80::/200")', "third argument", 50),
    ('length~(x)', "length() has no case-insensitive form length~()", 15),
]


@pytest.mark.parametrize(("call", "message", "col"), ARGUMENTS)
def test_argument_errors(call: str, message: str, col: int) -> None:
    found = errors(f"process where {call} != null")
    assert len(found) == 1, found
    assert message in found[0][1]
    assert found[0][2] == col


def test_arguments_that_elasticsearch_accepts() -> None:
    for call in ('cidrMatch(source.ip, "::1")', 'cidrMatch(source.ip, "10.0.0.1/8", "fe80::/10")',
                 'startsWith("explorer.exe", file.name)', 'concat(x, 1, true, null)',
                 'between(x, "a", "b", false)', 'indexOf(x, "a", null)', 'number("0x1f")',
                 'string(1.5)', 'stringContains~(x, "A")', 'divide(10, 3)'):
        assert errors(f"process where {call} != null") == [], call


def test_schema_types_make_field_arguments_warnings(schema: FieldSchema) -> None:
    found = issues("process where length(process.pid) > 1", schema)
    assert found == [(Severity.WARNING, "argument-type",
                      "first argument of [length(process.pid)] must be [string], found value "
                      "[process.pid] type [integer]", 1, 22)]


def test_conditions_must_be_boolean() -> None:
    assert errors('process where "abc"') == [
        ("condition-type", 'a condition must be boolean, found ["abc"] of type [string]', 15)]
    assert errors("process where true and 5")[0][0] == "condition-type"
    assert errors('process where not length("a")')[0][0] == "condition-type"
    assert errors("process where ?maybe_a_flag and x == null") == []


def test_patterns_must_be_strings() -> None:
    assert errors("process where x : 5") == [
        ("pattern-type", "the pattern of ':' must be a string, found [5]", 19)]
    assert errors("process where x like (\"a\", null)")[0][0] == "pattern-type"


def test_comparing_incompatible_literals_is_an_error() -> None:
    assert errors('process where "a" < 5') == [
        ("type-mismatch", '["a" < 5] compares a [string] with a [integer]', 15)]
    assert errors("process where 1 < 2.5") == []


def test_field_to_field_comparison_is_unsupported_but_optional_fields_are_not() -> None:
    assert errors("process where a.b != c.d")[0][0] == "unsupported"
    assert errors("process where ?x == ?y") == []


def test_unknown_fields_are_warnings_with_the_closest_names(schema: FieldSchema) -> None:
    found = issues('process where process.nmae : "cmd.exe" and process.name == "x"', schema)
    assert found == [(Severity.WARNING, "unknown-field",
                      "unknown field process.nmae; did you mean process.name? (write "
                      "?process.nmae if it may be absent from the index)", 1, 15)]


def test_unknown_field_without_close_names(schema: FieldSchema) -> None:
    [(severity, code, message, _, _)] = issues("process where zzqqxx_custom == 1", schema)
    assert (severity, code) == (Severity.WARNING, "unknown-field")
    assert message.startswith("unknown field zzqqxx_custom (write ?zzqqxx_custom")


def test_optional_fields_and_known_fields_are_not_reported(schema: FieldSchema) -> None:
    text = ("sequence by host.id [process where ?custom.thing == null and "
            "process.parent.executable : \"*\"] [file where file.Ext.header_bytes : \"4d5a*\"]")
    assert issues(text, schema) == []


def test_unknown_category_is_a_warning(schema: FieldSchema) -> None:
    assert issues("proces where true", schema) == [
        (Severity.WARNING, "unknown-category",
         "event category 'proces' is not an ECS event.category value; did you mean process?",
         1, 1)]
    assert issues("info where true", schema, category_field="event.type") == []


def test_issues_come_in_text_order(schema: FieldSchema) -> None:
    found = issues('process where bogus_one == 1 and length(5) == 1', schema)
    assert [(code, col) for _, code, _, _, col in found] == [
        ("unknown-field", 15), ("argument-type", 41)]


def test_validate_turns_a_syntax_error_into_one_issue() -> None:
    assert issues("process where x ==") == [
        (Severity.ERROR, "syntax", "expected a value: a field, a string, a number, true, "
         "false, null, a function call or '(', found end of query", 1, 19)]
