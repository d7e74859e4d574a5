"""The SQL compiler: ES semantics of every operator and function, on a real DuckDB store."""

from __future__ import annotations

import random
from typing import Any

import duckdb
import pytest

from lanner.engine.backends.sql import (
    CompileError,
    SqlCompiler,
    UnknownFieldError,
    install_macros,
    sql_literal,
)
from lanner.engine.values import ip_sort_key, java_double, version_sort_key
from lanner.eql import ast, parse_expression
from lanner.store import EventStore
from tests.engine.test_values import VERSIONS

MAPPING = {
    "properties": {
        "@timestamp": {"type": "date"},
        "nanos": {"type": "date_nanos"},
        "event": {"properties": {"category": {"type": "keyword"}}},
        "id": {"type": "long"},
        "name": {"type": "keyword"},
        "tags": {"type": "keyword"},
        "ip": {"type": "ip"},
        "ver": {"type": "version"},
        "n": {"type": "long"},
        "f": {"type": "double"},
        "flag": {"type": "boolean"},
        "mapped_only": {"type": "keyword"},
        "alias_name": {"type": "alias", "path": "name"},
    }
}

DOCS: list[dict[str, Any]] = [
    {"@timestamp": "2024-01-01T00:00:00.000Z", "nanos": "2024-01-01T00:00:00.000000001Z",
     "event": {"category": "process"}, "id": 1, "name": "cmd.exe", "tags": ["x", "y"],
     "ip": "10.0.0.5", "ver": "1.2.0", "n": -7, "f": 2.5, "flag": True},
    {"@timestamp": "2024-01-01T00:00:01.500Z", "event": {"category": "process"}, "id": 2,
     "name": "CMD.EXE", "tags": "z", "ip": "fe80::1", "ver": "1.11.0", "n": 7, "f": 0.5,
     "flag": False},
    {"@timestamp": 1704067205000, "event": {"category": "file"}, "id": 3, "name": "a%b_c\\d",
     "tags": ["x", None], "ver": "bad", "n": 0},
    {"@timestamp": "2024-01-01T00:00:06Z", "event": {"category": ["file", "network"]}, "id": 4,
     "tags": [None], "ip": "192.168.1.1"},
    {"@timestamp": "2024-01-01T00:00:07Z", "event": {"category": "process"}, "id": 5,
     "name": "explorer.exe", "n": 100},
]


@pytest.fixture(scope="module")
def store() -> EventStore:
    events = EventStore()
    events.put_mapping("test", MAPPING)
    report = events.ingest(DOCS, index="test")
    assert report.coercion_failures == 0
    install_macros(events.con)
    return events


def ids(store: EventStore, condition: str, category: str | None = None) -> list[int]:
    """Ids of the events for which the condition is TRUE."""
    sql = SqlCompiler(store).filter(category, parse_expression(condition))
    rows = store.con.execute(f"SELECT id FROM events WHERE {sql} ORDER BY id").fetchall()
    return [row[0] for row in rows]


def value(store: EventStore, expression: str) -> Any:
    """The value of a condition or expression for a single row (no fields)."""
    compiler = SqlCompiler(store)
    node = parse_expression(expression)
    sql = compiler.condition(node)
    return store.con.execute(f"SELECT {sql}").fetchone()[0]


# -- literals and macros ------------------------------------------------------------------


@pytest.mark.parametrize("literal", [
    "plain", "it's", "back\\slash", "new\nline", "nul\0char", "ünïcødé ☃", "", "%_*?",
])
def test_sql_literal_round_trips_strings(literal: str) -> None:
    con = duckdb.connect()
    assert con.execute(f"SELECT {sql_literal(literal)}").fetchone()[0] == literal


def test_sql_literal_values() -> None:
    con = duckdb.connect()
    values = [None, True, False, 0, -5, 2**63 - 1, 2**64, 1.5, float("inf")]
    row = con.execute("SELECT " + ", ".join(sql_literal(v) for v in values)).fetchone()
    assert list(row) == values


def test_version_macro_agrees_with_the_reference() -> None:
    con = duckdb.connect()
    install_macros(con)
    for version in [*VERSIONS, "", "1.0.0-", "1..2", "1.0.0+", "01.2"]:
        sql = f"SELECT eql_version_key({sql_literal(version)})"
        assert con.execute(sql).fetchone()[0] == version_sort_key(version), version


def test_ip_macro_agrees_with_the_reference() -> None:
    con = duckdb.connect()
    install_macros(con)
    for text in ["10.0.0.1", "255.255.255.255", "0.0.0.0", "::", "::1", "fe80::1:2",
                 "2001:db8::ff00:42:8329", "1:2:3:4:5:6:7:8", "::ffff:1.2.3.4", "64:ff9b::1.2.3.4",
                 "FE80::1", "1.2.3.256", "1.2.3", "01.2.3.4", "1::2::3", "1:2:3:4:5:6:7:8:9",
                 "12345::", "x", ""]:
        key = con.execute(f"SELECT eql_ip_key({sql_literal(text)})").fetchone()[0]
        assert key == ip_sort_key(text), text
    # every octet in every position, from one seeded draw
    draw = random.Random(7)
    addresses = [".".join(str(draw.randrange(256)) for _ in range(4)) for _ in range(2000)]
    keys = con.execute("SELECT list_transform(?, lambda a: eql_ip_key(a))",
                       [addresses]).fetchone()[0]
    assert keys == [ip_sort_key(address) for address in addresses]


@pytest.mark.parametrize("number", [
    42.5, 1.0, -2.5, 0.001, 1234567.0, 1e7, 1e10, 12345678.0, 1e-4, 0.00012345, 1.5e300,
    -1.5e-300, 0.30000000000000004, 123456789012.5, 0.0,
])
def test_double_macro_prints_like_java(number: float) -> None:
    con = duckdb.connect()
    install_macros(con)
    assert con.execute(f"SELECT eql_double_str({sql_literal(number)})").fetchone()[0] == \
        java_double(number)


# -- operators ----------------------------------------------------------------------------


def test_equality_is_case_sensitive_and_colon_is_not(store: EventStore) -> None:
    assert ids(store, 'name == "cmd.exe"') == [1]
    assert ids(store, 'name : "cmd.exe"') == [1, 2]
    assert ids(store, 'name in ("CMD.EXE", "x")') == [2]
    assert ids(store, 'name in~ ("cmd.EXE", "x")') == [1, 2]
    assert ids(store, 'name like "CMD*"') == [2]
    assert ids(store, 'name like~ "cmd*"') == [1, 2]
    assert ids(store, 'name == "cmd*"') == []  # == has no wildcards


def test_wildcards_are_anchored_and_escape_sql_metacharacters(store: EventStore) -> None:
    assert ids(store, 'name : "*.exe"') == [1, 2, 5]
    assert ids(store, 'name : "exe"') == []
    assert ids(store, 'name : "?md.exe"') == [1, 2]
    assert ids(store, 'name : "a%b_c\\\\d"') == [3]  # % and _ are literal, \\ is a backslash
    assert ids(store, 'name : "a_b*"') == []
    assert ids(store, 'name : ("nothing", "explorer.*")') == [5]


def test_regex_is_lucene_and_anchored(store: EventStore) -> None:
    assert ids(store, 'name regex "cmd\\\\.exe"') == [1]
    assert ids(store, 'name regex~ "CMD\\\\..*"') == [1, 2]
    assert ids(store, 'name regex "cmd"') == []
    assert ids(store, 'name regex ("e.*", "c.d\\\\.exe")') == [1, 5]


def test_ordering_comparisons_on_strings_are_by_code_point(store: EventStore) -> None:
    assert ids(store, 'name < "a"') == [2]  # upper case sorts first
    assert ids(store, 'name >= "c" and name < "d"') == [1]


def test_where_has_query_dsl_two_valued_logic(store: EventStore) -> None:
    assert ids(store, "n >= 0") == [2, 3, 5]
    assert ids(store, "not (n >= 0)") == [1, 4]  # must_not range: 4 has no n
    assert ids(store, 'name != "cmd.exe"') == [2, 3, 4, 5]  # must_not term: 4 has no name
    assert ids(store, "n == null") == [4]
    assert ids(store, "n != null") == [1, 2, 3, 5]
    assert ids(store, "null == (n > 0)") == [4]  # inside a script, n > 0 is null
    assert ids(store, "n > 0 or true") == [1, 2, 3, 4, 5]
    assert ids(store, "n > 0 and false") == []
    assert ids(store, "not (n > 0 and false)") == [1, 2, 3, 4, 5]
    assert ids(store, "concat(name, n) == null") == [4]
    assert ids(store, "not (concat(name, n) == null)") == [1, 2, 3, 5]
    # f(…) == false is not f(…) (BooleanFunctionEqualsElimination), a field's == false is not
    assert ids(store, 'startsWith(name, "cmd") == false') == [2, 3, 4, 5]
    assert ids(store, "(n > 0) == false") == [1, 3, 4]
    assert ids(store, "flag == false") == [2]


def test_constants_fold_as_the_planner_folds_them(store: EventStore) -> None:
    compiler = SqlCompiler(store)
    assert compiler.condition(parse_expression('?missing : "x"')) == "FALSE"  # folds to null
    assert compiler.condition(parse_expression('not ?missing : "x"')) == "FALSE"
    assert compiler.condition(parse_expression("?missing == null")) == "TRUE"
    assert compiler.condition(parse_expression('startsWith("abc", "a")')) == "TRUE"
    assert ids(store, '?missing : "x" or n == 7') == [2]  # a null term leaves the `or`
    assert ids(store, 'not (?missing : "x" or n == 7)') == [1, 3, 4, 5]
    assert ids(store, 'not (?missing : "x" and n == 7)') == []  # and makes the `and` null
    assert ids(store, 'not (false and ?missing : "x")') == [1, 2, 3, 4, 5]  # false wins
    with pytest.raises(CompileError, match=r"invalid regular expression \[a\{99999\}\]"):
        compiler.condition(parse_expression('"a" regex "a{99999}"'))


def test_multi_valued_fields_match_any_value(store: EventStore) -> None:
    assert ids(store, 'tags == "y"') == [1]
    assert ids(store, 'tags == "x"') == [1, 3]
    assert ids(store, 'tags : "?"') == [1, 2, 3]
    assert ids(store, 'tags in ("z", "y")') == [1, 2]
    assert ids(store, 'startsWith(tags, "y")') == [1]
    assert ids(store, 'tags != "x"') == [2, 4, 5]  # no value equal (ES must_not term)
    assert ids(store, 'tags not in ("x")') == [2, 4, 5]
    assert ids(store, 'not (tags == "x")') == [2, 4, 5]
    assert ids(store, "tags == null") == [4, 5]  # [null] holds no value
    assert ids(store, "tags != null") == [1, 2, 3]
    assert ids(store, 'length(tags) == 1') == [1, 2, 3]


def test_category_is_exact_and_any_value(store: EventStore) -> None:
    assert ids(store, "true", "process") == [1, 2, 5]
    assert ids(store, "true", "network") == [4]
    assert ids(store, "true", "Process") == []
    assert ids(store, "true") == [1, 2, 3, 4, 5]


def test_java_integer_arithmetic(store: EventStore) -> None:
    assert ids(store, "n / 2 == -3") == [1]  # truncation toward zero, not floor
    assert ids(store, "n % 2 == -1") == [1]  # sign of the dividend
    assert ids(store, "n / 2.0 == -3.5") == [1]
    assert ids(store, "n / 0 == 0") == []  # no value where Java throws
    assert value(store, "modulo(-10, -6) == -4")
    assert value(store, "modulo(10, -6) == 4")
    assert value(store, "divide(30, 4.0) == 7.5")
    assert value(store, "divide(7, 2) == 3")
    assert value(store, "-(3) * 2 == -6")
    assert ids(store, "f * 2 == 5") == [1]


def test_dates_compare_with_strings_and_epoch_millis(store: EventStore) -> None:
    assert ids(store, '@timestamp == "2024-01-01T00:00:01.500Z"') == [2]
    assert ids(store, "@timestamp == 1704067205000") == [3]
    assert ids(store, '@timestamp < "2024-01-01T00:00:02Z"') == [1, 2]
    assert ids(store, '@timestamp in ("2024-01-01T00:00:06Z", 1704067205000)') == [3, 4]
    assert ids(store, 'nanos == "2024-01-01T00:00:00.000000001Z"') == [1]
    assert ids(store, 'nanos == "2024-01-01T00:00:00Z"') == []
    with pytest.raises(CompileError, match="failed to parse date"):
        ids(store, '@timestamp == "yesterday"')


def test_ip_fields(store: EventStore) -> None:
    assert ids(store, 'ip == "10.0.0.5"') == [1]
    assert ids(store, 'ip == "10.0.0.0/8"') == [1]  # a term query on an ip field takes CIDR
    assert ids(store, 'ip == "FE80:0::1"') == [2]
    assert ids(store, 'ip < "10.0.0.6"') == [1]
    assert ids(store, 'cidrMatch(ip, "10.0.0.0/8", "fe80::/10")') == [1, 2]
    assert ids(store, 'cidrMatch(ip, "192.168.0.0/16")') == [4]
    assert ids(store, 'not cidrMatch(ip, "192.168.0.0/16")') == [1, 2, 3, 5]
    with pytest.raises(CompileError):
        ids(store, 'ip == "not-an-ip"')


def test_version_fields(store: EventStore) -> None:
    assert ids(store, 'ver > "1.5.0"') == [2, 3]  # 1.11.0, and bad (illegal sorts last)
    assert ids(store, 'ver < "1.5.0"') == [1]
    assert ids(store, 'ver == "bad"') == [3]
    assert ids(store, 'concat(ver, "") == "1.2.0"') == [1]


def test_boolean_and_numeric_literals_are_typed(store: EventStore) -> None:
    assert ids(store, "flag") == [1]
    assert ids(store, "flag == false") == [2]
    assert ids(store, 'n == "7"') == [2]
    assert ids(store, 'name == 5') == []
    with pytest.raises(CompileError):
        ids(store, 'n == "seven"')


def test_optional_and_unknown_fields(store: EventStore) -> None:
    assert ids(store, "?missing == null") == [1, 2, 3, 4, 5]
    assert ids(store, "?missing") == []
    assert ids(store, '?missing == "x"') == []  # ReplaceNullChecks: "x" == null
    assert ids(store, '?missing != "x"') == [1, 2, 3, 4, 5]
    assert ids(store, "?missing == ?other") == [1, 2, 3, 4, 5]  # null == null
    assert ids(store, "?missing != ?other") == []
    assert ids(store, "?name == null") == [4]  # a mapped ?field is a normal field
    assert ids(store, "mapped_only == null") == [1, 2, 3, 4, 5]
    assert ids(store, 'alias_name == "cmd.exe"') == [1]
    with pytest.raises(UnknownFieldError) as raised:
        ids(store, 'nmae == "x" and other > 1')
    assert raised.value.fields == ["nmae"]
    assert "Unknown column [nmae], did you mean [name]?" in str(raised.value)


def test_verify_names_every_unknown_field(store: EventStore) -> None:
    compiler = SqlCompiler(store)
    nodes = [parse_expression('nmae == "x" and ?opt == 1 and other > 1 and nmae : "y"')]
    with pytest.raises(UnknownFieldError) as raised:
        compiler.verify(nodes)
    assert raised.value.fields == ["nmae", "other"]
    assert str(raised.value).startswith("Found 2 problems\nline 1:1: Unknown column [nmae]")


# -- functions ----------------------------------------------------------------------------


@pytest.mark.parametrize("condition", [
    'between("System Idle Process", "s", "e", false) == "t"',
    'between~("System Idle Process", "s", "E") == "yst"',
    'between("System Idle Process", "S", "e", true) == "ystem Idle Proc"',
    'between("abc", "x", "c") == ""',
    'between("abc", "a", "x") == ""',
    'between("", "a", "b") == ""',
    'between("abc", "", "c") == "abc"',
    'between(null, "a", "b") == null',
    'concat("a", 1, true, 2.5) == "a1true2.5"',
    'concat("a", null) == null',
    'endsWith("explorer.exe", ".exe") and not endsWith("explorer.exe", ".EXE")',
    'endsWith~("explorer.exe", ".EXE")',
    'startsWith("", "")',
    'startsWith~("Explorer", "exp") and not startsWith("Explorer", "exp")',
    'indexOf("explorer.exe", "plore") == 2',
    'indexOf("explorer.exe", "plore", 3) == null',
    'indexOf("explorer.exe", "x", -5) == 1',
    'indexOf("abc", "", 2) == 2',
    'indexOf("abc", "") == 0',
    'indexOf~("EXPLORER", "plore") == 2',
    'indexOf("abc", null) == null',
    'length("") == 0 and length("héllo") == 5',
    'number("32", 16) == 50 and number("0x32") == 50 and number(" 5 ") == 5',
    'number("2.5") == 2.5',
    'string(true) == "true" and string(42.5) == "42.5" and string(5) == "5"',
    'string(1.0) == "1.0"',
    'stringContains("abc", "b") and not stringContains("abc", "B")',
    'stringContains~("abc", "B")',
    'not stringContains("abc", "") and not stringContains("", "")',
    'substring("explorer.exe", -4) == ".exe"',
    'substring("explorer.exe", -4, -1) == ".ex"',
    'substring("explorer.exe", 1, 3) == "xp"',
    'substring("abc", 5) == "" and substring("abc", 2, 1) == ""',
    'substring("", 1) == ""',
    'add(1, 2) == 3 and subtract(1, 2) == -1 and multiply(2, 3) == 6',
    'cidrMatch("10.1.2.3", "10.0.0.0/8") and not cidrMatch("11.1.2.3", "10.0.0.0/8")',
    'cidrMatch("::ffff:10.1.2.3", "10.0.0.0/8")',
    'CONCAT("a", "b") == "ab"',
])
def test_functions(store: EventStore, condition: str) -> None:
    assert value(store, condition) is True


def test_functions_on_fields(store: EventStore) -> None:
    assert ids(store, 'between(name, "c", ".") == "md"') == [1]
    assert ids(store, 'number(string(n)) > 5') == [2, 5]
    assert ids(store, 'concat(name, ":", n) : "CMD.exe:7"') == [2]
    assert ids(store, 'indexOf(name, ".") == 3') == [1, 2]
    assert ids(store, 'string(f) == "2.5"') == [1]


def test_compile_errors_name_the_problem(store: EventStore) -> None:
    with pytest.raises(CompileError, match="must be boolean"):
        ids(store, "name")
    with pytest.raises(CompileError):
        ids(store, 'cidrMatch(ip, "10.0.0.0/99")')
    with pytest.raises(CompileError):
        ids(store, 'number("zz")')


def test_compiler_accepts_condition_nodes_built_by_code(store: EventStore) -> None:
    compiler = SqlCompiler(store)
    node = ast.In(ast.Field("id"), (ast.Number(1), ast.Number(5)))
    sql = compiler.condition(node)
    assert [r[0] for r in store.con.execute(f"SELECT id FROM events WHERE {sql}").fetchall()] \
        == [1, 5]


def test_in_on_computed_values(store: EventStore) -> None:
    assert ids(store, 'concat(n, "") in ("7", "100")') == [2, 5]
    assert ids(store, "(n * 2) in (14, 200)") == [2, 5]
    assert ids(store, 'length(name) in ("7")') == [1, 2, 3]


def test_dates_compare_at_millisecond_resolution() -> None:
    events = EventStore()
    events.put_mapping("t", {"properties": {"@timestamp": {"type": "date"},
                                            "id": {"type": "long"}}})
    events.ingest([{"@timestamp": "2024-01-01T00:00:00.0009Z", "id": 1},
                   {"@timestamp": "1969-12-31T23:59:59.9995Z", "id": 2}], index="t")
    install_macros(events.con)
    assert ids(events, '@timestamp == "2024-01-01T00:00:00.000Z"') == [1]  # floored, not rounded
    assert ids(events, '@timestamp == "2024-01-01T00:00:00.0004Z"') == [1]
    assert ids(events, "@timestamp == -1") == [2]


def test_long_wildcard_runs_compile_to_a_linear_regex(store: EventStore) -> None:
    """A run LIKE would compare at every position of a value (value x run cost) tests as an
    anchored RE2 regex instead; short runs stay LIKE; both match the same events."""
    compiler = SqlCompiler(store)
    long_run = "*" + "c" * 20 + "*"
    assert "regexp_matches" in compiler.condition(parse_expression(f'name : "{long_run}"'))
    assert "LIKE" in compiler.condition(parse_expression('name : "*md.ex*"')).upper()
    assert ids(store, 'name : "*MD.EXE"') == ids(store, 'name : "cmd.exe"') != []
    assert ids(store, f'name : "{long_run}"') == []
    assert ids(store, 'name : "*' + "x" * 17 + '*" or name : "cmd.exe"') == ids(
        store, 'name : "cmd.exe"')
