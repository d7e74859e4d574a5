"""Rule selection: tags, severity threshold, ATT&CK ids and rule_ids, each exclusion explained."""

from __future__ import annotations

import pytest

from lanner.rules import Rule, RuleFilter, RuleFilterError, load_rules
from tests.conftest import CORPUS, EXAMPLES, require_shared

USO_HIJACK = "265db8f5-fc73-4d0d-b434-6483b56372e2"  # high; TA0003/TA0004, T1543.003, T1574
PS_DOWNLOAD = "33f306e8-417c-411b-965c-c2812d6d3f4d"  # medium; TA0011/TA0002, T1059.001
SMB_LOLBIN = "c82c7d8f-fb9e-4874-a4bd-fd9e3f9becf1"  # medium; TA0008, T1021.002
BITS = "f95972d3-c23b-463b-89a8-796b3f369b49"  # low; TA0011/TA0005, T1105, T1197
WEB_SERVICES = "66883649-f908-4a5b-a1e0-54090a1d3a32"  # low; TA0011/TA0010


def _examples() -> list[Rule]:
    rules, errors = load_rules([EXAMPLES])
    assert errors == []
    return rules


def kept(criteria: RuleFilter) -> set[str]:
    return {rule.rule_id for rule in _examples() if criteria.keeps(rule)}


def test_an_empty_filter_keeps_every_rule() -> None:
    assert RuleFilter().is_empty
    assert kept(RuleFilter()) == {USO_HIJACK, PS_DOWNLOAD, SMB_LOLBIN, BITS, WEB_SERVICES}


def test_severity_is_a_threshold() -> None:
    assert kept(RuleFilter(min_severity="high")) == {USO_HIJACK}
    assert kept(RuleFilter(min_severity="MEDIUM")) == {USO_HIJACK, PS_DOWNLOAD, SMB_LOLBIN}
    assert kept(RuleFilter(min_severity="critical")) == set()


def test_tags_match_any_case_insensitively() -> None:
    assert kept(RuleFilter(tags=("tactic: lateral movement",))) == {SMB_LOLBIN}
    assert kept(RuleFilter(tags=("Tactic: Lateral Movement", "Tactic: Persistence"))) == {
        SMB_LOLBIN, USO_HIJACK}
    assert kept(RuleFilter(tags=("Lateral Movement",))) == set()  # a whole tag, not a word


def test_a_technique_finds_its_sub_techniques_and_a_tactic_its_rules() -> None:
    assert kept(RuleFilter(attack=("T1059",))) == {PS_DOWNLOAD}  # maps T1059.001
    assert kept(RuleFilter(attack=("t1059.001",))) == {PS_DOWNLOAD}
    assert kept(RuleFilter(attack=("T1059.003",))) == set()
    assert kept(RuleFilter(attack=("TA0011",))) == {PS_DOWNLOAD, BITS, WEB_SERVICES}
    assert kept(RuleFilter(attack=("T1021", "T1197"))) == {SMB_LOLBIN, BITS}


def test_rule_ids_and_criteria_together() -> None:
    assert kept(RuleFilter(rule_ids=(BITS, SMB_LOLBIN))) == {BITS, SMB_LOLBIN}
    assert kept(RuleFilter(attack=("TA0011",), min_severity="medium")) == {PS_DOWNLOAD}


def test_every_exclusion_says_why() -> None:
    bits = next(rule for rule in _examples() if rule.rule_id == BITS)
    assert RuleFilter(min_severity="high").reason_excluded(bits) == "severity low is below high"
    assert RuleFilter(tags=("OS: Linux",)).reason_excluded(bits) == "no tag among OS: Linux"
    assert RuleFilter(attack=("T1059",)).reason_excluded(bits) == "no ATT&CK id among T1059"
    assert RuleFilter(rule_ids=("x",)).reason_excluded(bits) == "rule_id not among x"
    assert RuleFilter(attack=("T1197",), min_severity="low").reason_excluded(bits) is None


@pytest.mark.parametrize(("criteria", "criterion", "message"), [
    ({"min_severity": "urgent"}, "min_severity",
     "unknown severity 'urgent': expected one of low, medium, high, critical"),
    ({"attack": ("T59",)}, "attack", "'T59' is not an ATT&CK id: expected a tactic (TA0002), "
     "a technique (T1059) or a sub-technique (T1059.001)"),
    ({"attack": ("Execution",)}, "attack", "'Execution' is not an ATT&CK id: expected a "
     "tactic (TA0002), a technique (T1059) or a sub-technique (T1059.001)"),
])
def test_a_filter_that_cannot_mean_anything_is_refused(
        criteria: dict[str, object], criterion: str, message: str) -> None:
    with pytest.raises(RuleFilterError) as raised:
        RuleFilter(**criteria)  # type: ignore[arg-type]
    assert (raised.value.criterion, str(raised.value)) == (criterion, message)


def test_the_corpus_by_technique_matches_a_count_from_the_threat_tables() -> None:
    """T1059 (Command and Scripting Interpreter) across the 1,081 corpus rules: every rule
    kept maps T1059 or one of its sub-techniques, and every rule left out maps neither."""
    require_shared()
    rules, _ = load_rules([CORPUS])
    criteria = RuleFilter(attack=("T1059",))
    for rule in rules:
        maps = any(t == "T1059" or t.startswith("T1059.") for t in rule.technique_ids)
        assert criteria.keeps(rule) == maps, rule.path
    assert sum(criteria.keeps(rule) for rule in rules) > 100
