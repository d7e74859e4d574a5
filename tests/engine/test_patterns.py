"""Wildcards and Lucene regexes, checked by running the translations in DuckDB itself."""

from __future__ import annotations

import re

import duckdb
import pytest

from lanner import eql
from lanner.engine.patterns import (
    MAX_LIKE_RUN,
    PatternError,
    PatternForm,
    WildcardForm,
    is_plain,
    like_scan_run,
    lucene_to_re2,
    wildcard_form,
    wildcard_to_like,
    wildcard_to_regex,
)
from lanner.eql import ast
from lanner.rules import load_rules
from tests.conftest import CORPUS, require_shared

con = duckdb.connect()


def like(value: str, pattern: str) -> bool:
    return con.execute("SELECT ? LIKE ? ESCAPE '\\'", [value, wildcard_to_like(pattern)]
                       ).fetchone()[0]


def rx(value: str, pattern: str, translate=lucene_to_re2) -> bool:
    return con.execute("SELECT regexp_full_match(?, ?)", [value, translate(pattern)]
                       ).fetchone()[0]


@pytest.mark.parametrize(("value", "pattern", "expected"), [
    ("cmd.exe", "cmd.exe", True),
    ("cmd.exe", "*.exe", True),
    ("cmd.exe", "cmd", False),  # anchored: the whole value
    ("cmd.exe", "c?d.exe", True),
    ("cmd.exe", "c?.exe", False),
    ("100%_done", "100%_done", True),
    ("100xydone", "100%_done", False),  # % and _ are literal in EQL
    # backslash is literal: the pattern *\MACHINE\SAM\* matches a registry path
    ("\\REGISTRY\\MACHINE\\SAM\\SAM\\DOMAINS", "*\\MACHINE\\SAM\\*", True),
    ("a\nb", "a*b", True),
])
def test_wildcards_in_like_and_regex(value: str, pattern: str, expected: bool) -> None:
    assert like(value, pattern) is expected
    assert rx(value, pattern, wildcard_to_regex) is expected


def test_is_plain() -> None:
    assert is_plain("cmd.exe") and not is_plain("cmd*") and not is_plain("c?d")


@pytest.mark.parametrize(("value", "pattern", "expected"), [
    ("net1 localgroup x", ".*net1[ ]+localgroup.*", True),
    ("net1 localgroup x", "net1", False),  # anchored
    ("2019", "[24][0-9]{3}", True),
    ("a$b", "a$b", True),  # $ and ^ are plain characters in Lucene
    ("^x", "^x", True),
    ("x.exe", '"x.exe"', True),  # quoted literal run
    ("xyexe", '"x.exe"', False),
    ("anything at all", "any@", True),  # @: any string
    ("abc", "#", False),  # the empty language
    ("run/a_1.pid", "run/\\w+\\.(pid|lock)", True),  # shorthand classes (Lucene 8.6+)
    ("run/a-1.pid", "run/\\w+\\.(pid|lock)", False),
    ("a b", "a\\sb", True),
    ("12", "\\d\\d", True),
    ("1a", "\\D\\D", False),
    ("C:\\Program Files (x86)\\Steam\\x", "C:\\\\Program Files( \\(x86\\))?\\\\Steam\\\\.*",
     True),
    ("a-z", "[a\\-z]{3}", True),
    ("dd", "\\d", False),
])
def test_lucene_regexes(value: str, pattern: str, expected: bool) -> None:
    assert rx(value, pattern) is expected


@pytest.mark.parametrize(("pattern", "message"), [
    ("a&b", "the Lucene operator '&'"),
    ("~a", "the Lucene operator '~'"),
    ("<1-10>", "numeric intervals"),
    ("[abc", "unterminated character class"),
    ('"abc', "unterminated quoted string"),
    ("abc\\", "cannot end with a backslash"),
    ("a{x}", "expected a repetition"),
])
def test_untranslatable_regexes_are_named(pattern: str, message: str) -> None:
    with pytest.raises(PatternError, match="position"):
        lucene_to_re2(pattern)
    with pytest.raises(PatternError) as info:
        lucene_to_re2(pattern)
    assert message in str(info.value)


def test_every_regex_of_the_rule_corpus_translates_and_compiles() -> None:
    require_shared()
    rules, _ = load_rules([CORPUS])
    patterns = {pattern.value for rule in rules
                for match in eql.parse(rule.query).find_all(ast.Match) if match.kind.is_regex
                for pattern in match.patterns}
    assert len(patterns) > 30
    for pattern in patterns:
        con.execute("SELECT regexp_full_match('x', ?)", [lucene_to_re2(pattern)]).fetchone()


# ------------------------------------------------------------------------------------------
# The form of a wildcard (issue 17): LIKE costs value length x run length in DuckDB, RE2 is
# linear; long runs go to RE2, and every form matches exactly what LIKE matched.


def form_matches(value: str, pattern: str) -> bool:
    form = wildcard_form(pattern)
    if form.kind is PatternForm.EQUAL:
        return value == form.text
    if form.kind is PatternForm.LIKE:
        sql = "SELECT ? LIKE ? ESCAPE '\\'"
    else:
        sql = "SELECT regexp_matches(?, ?)"  # what the dialect's regex_search runs
    return con.execute(sql, [value, form.text]).fetchone()[0]


def test_long_runs_compile_to_the_linear_regex_form() -> None:
    slow = "*" + "a" * 1000 + "b*"  # 9.8 s as LIKE over 100 KB values
    assert wildcard_form(slow) == WildcardForm(PatternForm.REGEX, wildcard_to_regex(slow))
    letters = "abcdefghijklmnopqrstuvwxyz"
    many = [f"*{letters[i % 26:]}{letters[:i % 26]}{i:024d}*" for i in range(100)]
    assert {len(pattern) for pattern in many} == {52}
    assert {wildcard_form(pattern).kind for pattern in many} == {PatternForm.REGEX}
    for suffix in ("*" + "x" * 17, "ab*" + "?" * 17, "a*" + "b" * 20 + "*c"):
        assert wildcard_form(suffix).kind is PatternForm.REGEX, suffix


def test_short_runs_keep_like_within_a_bounded_cost() -> None:
    for pattern in ("*cmd.exe", "C:\\Windows\\*\\*.dll", "*\\MACHINE\\SAM\\*", "c?d.exe",
                    "a" * 200 + "*", "*" + "x" * 16, "?" * 16 + "*"):
        form = wildcard_form(pattern)
        assert form == WildcardForm(PatternForm.LIKE, wildcard_to_like(pattern)), pattern
    assert wildcard_form("cmd.exe") == WildcardForm(PatternForm.EQUAL, "cmd.exe")
    # by construction: a LIKE form compares at most MAX_LIKE_RUN characters per position
    assert like_scan_run("a" * 200 + "*b*" + "c" * 16) == 16 == MAX_LIKE_RUN
    assert like_scan_run("*" + "a" * 1000 + "b*") == 1001


FORM_VALUES = ["", "a", "cmd.exe", "CMD.EXE", "a\nb", "100%_done", "100xydone",
               "\\REGISTRY\\MACHINE\\SAM\\SAM", "é" * 20, "x😀y" * 7, "(.*)[a]{2}^$|+?",
               "a" * 40 + "b", "ab" * 20, "a.b" * 8, "\\\\server\\share\\" + "z" * 20]
FORM_PATTERNS = ["*", "?", "cmd.exe", "*.exe", "c?d.exe", "100%_done", "*\\MACHINE\\SAM*",
                 "a*b", "*" + "a" * 20 + "b", "*" + "a" * 39 + "*", "*" + "ab" * 10 + "*",
                 "?" * 20, "?" * 21, "*" + "?" * 17 + "*", "*" + "é" * 17, "x😀y" * 3 + "*",
                 "*(.*)[a]{2}^$|+?", "*" + "a.b" * 6 + "*", "\\\\server\\share\\" + "*",
                 "*" + "\\" * 2 + "server\\share\\" + "z" * 17, "a" * 40 + "b", "*a*"]


@pytest.mark.parametrize("pattern", FORM_PATTERNS)
def test_every_form_matches_what_like_matched(pattern: str) -> None:
    for value in FORM_VALUES:
        expected = like(value, pattern)
        assert form_matches(value, pattern) is expected, (value, pattern)
        assert con.execute("SELECT regexp_matches(?, ?)",
                           [value, wildcard_to_regex(pattern)]).fetchone()[0] is expected


def test_the_regex_form_reads_a_100_kb_value() -> None:
    value = "a" * 100_000
    assert form_matches(value, "*" + "a" * 1000 + "b*") is False
    assert form_matches(value + "b", "*" + "a" * 1000 + "b*") is True


def test_the_regexes_patterns_runs_itself_are_linear() -> None:
    from lanner.engine import patterns
    from tests.linear_regex import backtracking_repeats

    compiled = [value for value in vars(patterns).values() if isinstance(value, re.Pattern)]
    assert compiled and not [p.pattern for p in compiled if backtracking_repeats(p)]
