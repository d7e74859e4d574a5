"""Loading detection-rules TOML files and validating them, with problems placed in the file."""

from __future__ import annotations

import re
from pathlib import Path

from lanner.eql import Severity
from lanner.eql.schema import FieldSchema
from lanner.rules import load_rule_file, load_rules, validate_rule, validate_rules
from tests.conftest import CORPUS, EXAMPLES, SEED_RULES, require_shared

RULE = '''[metadata]
creation_date = "2020/01/01"
maturity = "production"

[transform]
[[transform.osquery]]
label = "Osquery"
query = "SELECT * FROM services"

[rule]
author = ["Lanner"]
name = "Test rule"
rule_id = "00000000-0000-0000-0000-000000000001"
type = "eql"
language = "eql"
risk_score = 21
severity = "low"
index = ["logs-endpoint.events.*"]
query = \'\'\'
process where event.type == "start" and
  process.name : "cmd.exe" and process.pid ==
\'\'\'
'''


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_rule_loads_with_its_fields_and_where_its_query_starts(tmp_path: Path) -> None:
    rule = load_rule_file(write(tmp_path, "r.toml", RULE))
    assert (rule.name, rule.rule_id, rule.type, rule.severity, rule.risk_score) == (
        "Test rule", "00000000-0000-0000-0000-000000000001", "eql", "low", 21)
    assert rule.index == ("logs-endpoint.events.*",)
    assert rule.maturity == "production"
    assert (rule.origin.line, rule.origin.col) == (20, 1)  # not the osquery `query =` above


def test_query_problems_are_placed_in_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "r.toml", RULE)
    report = validate_rule(load_rule_file(path))
    assert [str(p) for p in report.problems] == [
        f"{path}:22:1: error: expected a value: a field, a string, a number, true, false, "
        "null, a function call or '(', found end of query"]


def test_single_line_query_columns_are_offset_by_the_key(tmp_path: Path) -> None:
    text = RULE.replace("query = '''\nprocess where event.type == \"start\" and\n"
                        "  process.name : \"cmd.exe\" and process.pid ==\n'''",
                        "query = 'process where x = 1'")
    report = validate_rule(load_rule_file(write(tmp_path, "r.toml", text)))
    [problem] = report.problems
    assert (problem.line, problem.col, problem.code) == (19, 26, "unsupported")


def test_malformed_files_are_reported_and_the_rest_still_load(tmp_path: Path) -> None:
    write(tmp_path, "a/good.toml", RULE.replace("process.pid ==", "process.pid == 1"))
    write(tmp_path, "a/b/broken.toml", "[rule\nname = 1\n")
    write(tmp_path, "a/missing.toml", RULE.replace('rule_id = "00000000-0000-0000-0000-'
                                                   '000000000001"\n', ""))
    rules, errors = load_rules([tmp_path / "a"])
    assert [rule.name for rule in rules] == ["Test rule"]
    messages = sorted((Path(e.location.path).name, e.key, e.location.line) for e in errors)
    assert messages == [("broken.toml", None, 1), ("missing.toml", "rule_id", 1)]
    reports = validate_rules(rules, errors)
    assert [(Path(r.path).name, r.has_errors) for r in reports] == [
        ("broken.toml", True), ("good.toml", False), ("missing.toml", True)]


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    rules, errors = load_rules([tmp_path / "nope"])
    assert rules == [] and "no such file or folder" in errors[0].message


def test_kql_rules_are_validated_and_others_skipped_with_a_reason(tmp_path: Path) -> None:
    kuery = RULE.replace('type = "eql"', 'type = "query"').replace('language = "eql"',
                                                                   'language = "kuery"')
    broken = re.sub(r"query = \'\'\'.*?\'\'\'", "query = \'\'\'\nprocess.name:(a or\n\'\'\'",
                    kuery, flags=re.S)
    report = validate_rule(load_rule_file(write(tmp_path, "q.toml", broken)))
    assert report.skipped is None
    [problem] = report.problems
    assert (problem.severity, problem.code) == (Severity.ERROR, "syntax")
    assert problem.message.endswith("but end of input found.")
    lucene = RULE.replace('type = "eql"', 'type = "query"').replace('language = "eql"',
                                                                    'language = "lucene"')
    report = validate_rule(load_rule_file(write(tmp_path, "l.toml", lucene)))
    assert report.skipped == "type query, language lucene: no front end for this language yet"
    assert report.problems == []


def test_the_whole_corpus_and_the_seed_rules_validate_without_errors() -> None:
    require_shared()
    rules, errors = load_rules([CORPUS, SEED_RULES])
    assert errors == []
    assert len(rules) == 1081 + 5
    reports = validate_rules(rules, schema=FieldSchema.default())
    with_errors = [p for r in reports for p in r.problems if p.severity is Severity.ERROR]
    assert with_errors == []
    warned = sum(r.has_warnings for r in reports)
    assert 0 < warned < 60  # a few integration fields that no bundled schema covers


def test_the_bundled_example_rules_validate_cleanly() -> None:
    rules, errors = load_rules([EXAMPLES])
    assert errors == [] and len(rules) == 5
    reports = validate_rules(rules, schema=FieldSchema.default())
    assert [p for r in reports for p in r.problems] == []
