"""The Python eql_* helpers Spark runs as UDFs give what the DuckDB macros give, NULLs too;
the `nested` extraction reads JSON as DuckDB's JSON functions do."""

from __future__ import annotations

import itertools
import math
import random
import struct
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

import duckdb
import pytest

from lanner.engine.backends.spark_sql import (
    MAX_NESTED_DEPTH,
    SPARK_FUNCTIONS,
    eql_between,
    eql_double_str,
    eql_index_of,
    eql_ip_key,
    eql_nested,
    eql_number,
    eql_substring,
    eql_version_key,
    native_call,
    native_helpers,
    spark_literal,
)
from lanner.engine.backends.sql import install_macros, sql_literal

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

TEXTS = [None, "", "a", "abcabc", "Hello World", "a.b.c", "éàü-ß", "xyz"]
NEEDLES = [None, "", "a", "b", "c", "bc", "z", ".", "ß"]
POSITIONS = [None, -10, -3, -1, 0, 1, 2, 5, 100]


@cache
def _macros() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    install_macros(con)
    return con


def _macro(name: str, *args: object) -> object:
    sql = f"SELECT {name}({', '.join(map(sql_literal, args))})"
    return _macros().execute(sql).fetchone()[0]


def _agree(name: str, function: Callable[..., object], *args: object) -> None:
    assert function(*args) == _macro(name, *args), (name, args)


def test_every_udf_has_a_macro_of_its_name() -> None:
    nested = {f"eql_nested_{depth}" for depth in range(1, MAX_NESTED_DEPTH + 1)}
    assert nested <= set(SPARK_FUNCTIONS)  # they stand for DuckDB's JSON functions
    for name in set(SPARK_FUNCTIONS) - nested:
        assert _macros().execute(
            "SELECT count(*) FROM duckdb_functions() WHERE function_name = ?", [name]
        ).fetchone()[0] > 0, name


def test_between_agrees_with_the_macro() -> None:
    for text, left, right, greedy in itertools.product(TEXTS, NEEDLES, NEEDLES,
                                                       [None, True, False]):
        searched = text.lower() if text is not None else None
        _agree("eql_between", eql_between, text, searched, left, right, greedy)


def test_index_of_agrees_with_the_macro() -> None:
    for text, sub, start in itertools.product(TEXTS, NEEDLES, POSITIONS):
        _agree("eql_index_of", eql_index_of, text, sub, start)


def test_substring_agrees_with_the_macro() -> None:
    for text, start, end in itertools.product(TEXTS, POSITIONS, POSITIONS):
        _agree("eql_substring", eql_substring, text, start, end)


@pytest.mark.parametrize("text", [
    None, "", "1", " 42 ", "-7", "+3", "1.5", ".5", "5.", "1e3", "-2.5E-2", "0x1F", "0xZZ", "ff",
    "FF", "-ff", "z", "10", "1_000", "\t1", "0x", "-", "12abc",
])
@pytest.mark.parametrize("base", [None, 2, 8, 10, 16, 36, 1, 37])
def test_number_agrees_with_the_macro(text: str | None, base: int | None) -> None:
    _agree("eql_number", eql_number, text, base)


@pytest.mark.parametrize("value", [
    None, 0.0, -0.0, 1.0, -2.5, 0.001, 0.0009999, 1e7, 9999999.0, 1e-4, 123456789012.5,
    1.5e300, float("inf"), float("-inf"), float("nan"),
])
def test_double_text_agrees_with_the_macro(value: float | None) -> None:
    _agree("eql_double_str", eql_double_str, value)


@pytest.mark.parametrize("text", [None, "10.0.0.1", "::1", "::ffff:1.2.3.4", "fe80::1%eth0",
                                  "1.2.3.256", "x", ""])
def test_ip_key_agrees_with_the_macro(text: str | None) -> None:
    _agree("eql_ip_key", eql_ip_key, text)


@pytest.mark.parametrize("text", [None, "1.0.0", "1.0.0-alpha.1", "1.0.0+build", "1.2", "",
                                  "not.a.version"])
def test_version_key_agrees_with_the_macro(text: str | None) -> None:
    _agree("eql_version_key", eql_version_key, text)


def test_nested_values_are_read_as_duckdb_reads_json() -> None:
    """Every value at a path, under each spelling of the path, as json_extract_string gives
    it: numbers, booleans, nested arrays and objects, nulls left out, digits indexing arrays."""
    values = ('[1, 1.0, 1e5, 1.5e300, 1E-7, -0.0, 2.5e-6, 1e20, 1.23e21, 0.1, -7.25e-9, '
              '12345678901234567890123, true, false, null, "x", "", {"k": [1, "é"]}, [1, [2]]]')
    source = ('{"o": [{"f": ' + values + ', "g": "one"}, {"f": null}, '
              '{"g.h": 2, "g": {"h": 3}}, 7], "p": {"q": 1}}')
    con = duckdb.connect()
    expected = con.execute(
        "SELECT list_transform(list_filter(json_extract(CAST(? AS JSON), '$.o[0].f[*]'), "
        "lambda v: json_type(v) <> 'NULL'), lambda v: json_extract_string(v, '$'))",
        [source]).fetchone()[0]
    spec = ('{"path": ["/o"], "fields": [[["/f"], false], [["/g/h", "/g.h"], false], '
            '[["/f/0"], false], [["/g"], false]], "nested": []}')
    rows = eql_nested(1, source, spec)
    assert rows is not None and len(rows) == 3  # the three objects; 7 is not one
    assert rows[0] == ([expected, [], ["1"], ["one"]],)
    assert rows[1] == ([[], [], [], []],)
    assert rows[2] == ([[], ["3"], [], ['{"h":3}']],)
    assert eql_nested(1, '{"p": {"q": 1}}', spec.replace('"/o"', '"/p"')) == [([[]] * 4,)]
    assert eql_nested(1, None, spec) is None


def test_nested_levels_hold_the_objects_of_each_inner_path() -> None:
    spec = ('{"path": ["/s"], "fields": [[["/ip"], true]], "nested": ['
            '{"path": ["/in"], "fields": [[["/t"], false]], "nested": []}]}')
    source = '{"s": [{"ip": ["10.0.0.1", "nope"], "in": [{"t": "x"}, {"t": "y"}]}, {"in": {}}]}'
    assert eql_nested(2, source, spec) == [
        ([[eql_ip_key("10.0.0.1"), None]], [[([["x"]],), ([["y"]],)]]),
        ([[]], [[([[]],)]]),
    ]


# -- the native Spark SQL versions (inside lambdas) give what the macros give ---------------

def _native_answers(spark: SparkSession, name: str, rows: list[tuple[object, ...]]) -> list:
    """The native helper `eql_<name>` over every row of arguments, in one Spark query."""
    width = len(rows[0])
    columns = [f"c{index}" for index in range(width)]
    values = ", ".join(
        "(" + ", ".join([str(number), *(spark_literal(value) for value in row)]) + ")"
        for number, row in enumerate(rows))
    sql = (f"SELECT {native_call(name, columns)} FROM VALUES {values} "
           f"AS t(_row, {', '.join(columns)}) ORDER BY _row")
    return [row[0] for row in spark.sql(sql).collect()]


def _native_differences(spark: SparkSession, name: str,
                        rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """(arguments, native answer, macro answer) wherever the two differ (NaN equals NaN)."""
    answers = _native_answers(spark, name, rows)
    expected = [_macro(f"eql_{name}", *row) for row in rows]
    return [(row, got, want) for row, got, want in zip(rows, answers, expected, strict=True)
            if got != want and not (isinstance(got, float) and math.isnan(got)
                                    and isinstance(want, float) and math.isnan(want))]


def _native_agrees(spark: SparkSession, name: str, rows: list[tuple[object, ...]]) -> None:
    differing = _native_differences(spark, name, rows)
    assert not differing, differing[:10]


def test_native_between_agrees_with_the_macro(spark: SparkSession) -> None:
    rows = [(text, text.lower() if text is not None else None, left, right, greedy)
            for text, left, right, greedy in itertools.product(TEXTS, NEEDLES, NEEDLES,
                                                               [None, True, False])]
    _native_agrees(spark, "between", rows)


def test_native_index_of_and_substring_agree_with_the_macros(spark: SparkSession) -> None:
    _native_agrees(spark, "index_of", list(itertools.product(TEXTS, NEEDLES, POSITIONS)))
    _native_agrees(spark, "substring", list(itertools.product(TEXTS, POSITIONS, POSITIONS)))


def test_native_number_agrees_with_the_macro(spark: SparkSession) -> None:
    texts = [None, "", "1", " 42 ", "-7", "+3", "1.5", ".5", "5.", "1e3", "-2.5E-2", "0x1F",
             "0xZZ", "ff", "FF", "-ff", "z", "10", "1_000", "\t1", "0x", "-", "12abc", "1e400",
             "1\n", "0x-1", "zz", "1.5e", "Ωmega", "K", "  0x10  ", "999999999999999999999"]
    _native_agrees(spark, "number",
                   list(itertools.product(texts, [None, 2, 8, 10, 16, 36, 1, 37, -1])))


def test_native_double_text_agrees_with_the_macro(spark: SparkSession) -> None:
    """Java's Double.toString, the shortest digits (Spark's own cast, on Java 17, prints 1e23
    as 9.999999999999999E22): values of up to 15 significant digits exactly."""
    chosen = random.Random(7)
    values: list[float | None] = [
        None, 0.0, -0.0, 1.0, -2.5, 0.001, 0.0009999, 1e7, 9999999.0, 1e-4, 123456789012.5,
        1.5e300, float("inf"), float("-inf"), float("nan"), 1e23, 2e23, 5e-324, 1e-320,
        1.7976931348623157e308, 2.2250738585072014e-308, 0.1, 100.0, 1234567.0, 1e21, 1e-7]
    values += [float(f"{chosen.choice('-+')}{chosen.randrange(10 ** chosen.randint(1, 15))}"
                     f"e{chosen.randint(-30, 30)}") for _ in range(1500)]
    _native_agrees(spark, "double_str", [(value,) for value in values])


def test_native_double_text_of_16_and_17_digits_reads_back_the_same(spark: SparkSession) -> None:
    """Doubles needing 16 or 17 digits: the shortest text is found by reading back the JVM's
    `%.<p>e`, which rounds the JVM's own digits; before Java 19 those are not always the
    nearest, so about one value in a thousand prints its last digit one off (as the same
    double: ES would read either text back to the same value)."""
    chosen = random.Random(7)
    values = [chosen.uniform(-1, 1) * 10.0 ** chosen.randint(-30, 30) for _ in range(1500)]
    values += [struct.unpack("<d", chosen.randbytes(8))[0] for _ in range(500)]
    values = [value for value in values if math.isfinite(value)]
    differing = _native_differences(spark, "double_str", [(value,) for value in values])
    assert len(differing) <= len(values) // 200, differing[:10]
    for (value,), got, want in differing:
        assert float(got) == float(want) == value
        assert len(want.split("E")[0].replace("-", "").replace(".", "").strip("0")) >= 16


def test_native_ip_and_version_keys_agree_with_the_macros(spark: SparkSession) -> None:
    addresses = [None, "10.0.0.1", "::1", "::ffff:1.2.3.4", "fe80::1%eth0", "1.2.3.256", "x",
                 "", "0.0.0.0", "255.255.255.255", "01.2.3.4", "1.2.3", "1.2.3.4.5", "::",
                 ":::", "1::2::3", "2001:DB8::8A2E:370:7334", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7",
                 "1:2:3:4:5:6:7:8:9", "1::2:3:4:5:6:7:8", "::1.2.3.4", "a::b:1.2.3.4",
                 "12345::1", "1.2.3.4\n", "::1\n", "::1\r:1.2.3.4", "g::1", "1.2.3.4%x"]
    versions = [None, "1.0.0", "1.0.0-alpha.1", "1.0.0+build", "1.2", "", "not.a.version",
                "1.0.0-rc.10", "01.0.0", "1.0.0-", "1.0.0+", "1.0.0-a..b", "1.0.0+b.0.x",
                "10.20.30", "1.0.0-0.3.7", "1.0.0-x-y-z.--", "1.0.0-alpha+001",
                "1" * 130 + ".0", "-1.0.0", "+1.0.0", "1.0.0\n", "v1.2.3", "1.0.0-ü"]
    _native_agrees(spark, "ip_key", [(address,) for address in addresses])
    _native_agrees(spark, "version_key", [(version,) for version in versions])


def test_helper_calls_are_rewritten_outside_quotes_only() -> None:
    sql = ("(eql_ip_key(_v1) = 'eql_ip_key(x)') AND `eql_number(`.a = "
           "eql_number(eql_substring(_v1, CAST(1 AS BIGINT), NULL), NULL)")
    rewritten = native_helpers(sql, "_v1")
    assert "'eql_ip_key(x)'" in rewritten and "`eql_number(`.a" in rewritten
    assert rewritten.count("eql_") == 2  # only the quoted ones are left
    assert "CAST(_v1 AS STRING)" in rewritten
    with pytest.raises(ValueError, match="takes 2 arguments"):
        native_call("number", ["_v1"])
