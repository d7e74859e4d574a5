"""Elastic detection rules: the model, loaders for detection-rules TOML and Kibana exports,
validation, and selection."""

from lanner.rules.build import RuleLoadError
from lanner.rules.loader import find_rule_files, load_rule_export, load_rule_file, load_rules
from lanner.rules.model import AlertSuppression, AttackRef, Rule, Technique, Threat
from lanner.rules.select import RuleFilter, RuleFilterError
from lanner.rules.validate import (
    Problem,
    RuleReport,
    place_issue,
    validate_rule,
    validate_rules,
)

__all__ = [
    "AlertSuppression", "AttackRef", "Problem", "Rule", "RuleFilter", "RuleFilterError",
    "RuleLoadError", "RuleReport", "Technique", "Threat", "find_rule_files", "load_rule_export",
    "load_rule_file", "load_rules", "place_issue", "validate_rule", "validate_rules",
]
