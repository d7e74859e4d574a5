"""Wildcards and Lucene regexes, checked by running the translations in DuckDB itself."""

from __future__ import annotations

import duckdb
import pytest

from lanner import eql
from lanner.engine.patterns import (
    PatternError,
    is_plain,
    lucene_to_re2,
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
