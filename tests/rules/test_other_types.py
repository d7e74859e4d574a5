"""Every rule of ../shared/corpus/detection-rules-other loads, typed, and validates: each active
rule that is not ML is valid (its KQL, its threat query, its type's parameters), ML rules are
reported as not runnable, never as errors."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from lanner.detection.checks import engine_issues
from lanner.rules import load_rules, validate_rules
from lanner.rules.build import RuleLoadError
from lanner.rules.loader import load_rule_text
from lanner.rules.model import NEEDS_ML, Rule
from tests.conftest import SHARED, require_shared

OTHER = SHARED / "corpus" / "detection-rules-other"


@pytest.fixture(scope="module")
def other_rules() -> list[Rule]:
    require_shared()
    rules, errors = load_rules([OTHER])
    assert errors == []
    return rules


def index_counts() -> collections.Counter[tuple[str, bool]]:
    lines = (OTHER / "INDEX.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return collections.Counter((line.split("\t")[2], "/_deprecated/" in "/" + line)
                               for line in lines)


def test_every_file_loads_with_its_type(other_rules: list[Rule]) -> None:
    loaded = collections.Counter((r.type, r.maturity == "deprecated") for r in other_rules)
    assert loaded == index_counts()
    assert len(other_rules) == 1111


def test_type_parameters_are_typed(other_rules: list[Rule]) -> None:
    by_type = collections.defaultdict(list)
    for rule in other_rules:
        by_type[rule.type].append(rule)
    assert all(r.threshold is not None and r.threshold.value >= 1 for r in by_type["threshold"])
    assert all(1 <= len(r.new_terms_fields) <= 3 and r.history_window_start
               for r in by_type["new_terms"])
    assert all(r.threat_index and r.threat_mapping and r.threat_query
               for r in by_type["threat_match"])
    ml = by_type["machine_learning"]
    assert len(ml) == 106 and all(r.query == "" and r.machine_learning_job_id
                                  and r.anomaly_threshold is not None for r in ml)
    (hashes,) = [r for r in by_type["threat_match"]
                 if r.path and r.path.endswith("threat_intel_indicator_match_hash.toml")]
    assert len(hashes.threat_mapping) == 9
    assert [(e.field, e.value) for e in hashes.threat_mapping[0]] == [
        ("file.hash.md5", "threat.indicator.file.hash.md5")]
    assert len(hashes.threat_filters) == 3


def test_every_active_non_ml_rule_is_valid_and_ml_rules_are_not_runnable(
        other_rules: list[Rule]) -> None:
    reports = validate_rules(other_rules, engine_check=engine_issues)
    active = [r for r in reports if r.rule is not None and r.rule.maturity != "deprecated"]
    errors = {r.path: [str(p) for p in r.problems] for r in active if r.has_errors}
    assert errors == {}
    skipped = collections.Counter((r.rule.type, r.skipped) for r in active
                                  if r.skipped and r.rule)
    assert skipped[("machine_learning", NEEDS_ML)] == 106
    checked = collections.Counter(r.rule.type for r in active if r.skipped is None and r.rule)
    assert checked["query"] == 454 and checked["threat_match"] == 6
    assert checked["threshold"] == 28 and checked["new_terms"] == 241


def test_a_bad_kql_query_is_placed_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('''[rule]
name = "Bad"
rule_id = "bad-kql"
type = "query"
language = "kuery"
query = \'\'\'
process.name:(cmd.exe or
\'\'\'
''', encoding="utf-8")
    (report,) = validate_rules(load_rules([path])[0])
    (problem,) = report.problems
    assert (problem.line, problem.severity.value) == (8, "error")
    assert "Expected" in problem.message


def test_type_parameters_are_checked(tmp_path: Path) -> None:
    base = '[rule]\nname = "T"\nrule_id = "t"\ntype = "{type}"\nquery = "a:b"\n'
    threat = load_rule_text(base.format(type="threat_match"), "t.toml")
    messages = {p.message for p in validate_rules([threat])[0].problems}
    assert messages == {"a threat_match rule needs threat_index",
                        "a threat_match rule needs threat_mapping",
                        "a threat_match rule needs threat_query"}
    new_terms = load_rule_text(base.format(type="new_terms"), "n.toml")
    assert {p.message for p in validate_rules([new_terms])[0].problems} == {
        "a new_terms rule needs new_terms_fields (1 to 3 fields)",
        "a new_terms rule needs history_window_start"}
    with pytest.raises(RuleLoadError, match=r"rule.threshold.value: expected an integer"):
        load_rule_text(base.format(type="threshold") + "[rule.threshold]\nfield = []\n"
                       "value = 0\n", "h.toml")
    with pytest.raises(RuleLoadError, match=r"missing required key rule\.query"):
        load_rule_text('[rule]\nname = "Q"\nrule_id = "q"\ntype = "query"\n', "q.toml")
    ml = load_rule_text('[rule]\nname = "M"\nrule_id = "m"\ntype = "machine_learning"\n'
                        'machine_learning_job_id = "job"\nanomaly_threshold = 75\n', "m.toml")
    assert ml.machine_learning_job_id == ("job",) and ml.anomaly_threshold == 75
    assert validate_rules([ml])[0].skipped == NEEDS_ML


def test_the_engine_check_refuses_what_the_search_would_refuse() -> None:
    rule = load_rule_text('[rule]\nname = "T"\nrule_id = "t"\ntype = "query"\n'
                          'language = "kuery"\n'
                          'query = "process.name:cmd.exe and process.pid:abc"\n', "t.toml")
    (problem,) = validate_rules([rule], engine_check=engine_issues)[0].problems
    assert str(problem) == "t.toml:6:35: error: cannot compare a number with [abc]"
