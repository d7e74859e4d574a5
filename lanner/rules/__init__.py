"""Elastic detection rules: the model, loaders for detection-rules TOML, and validation."""

from lanner.rules.loader import RuleLoadError, find_rule_files, load_rule_file, load_rules
from lanner.rules.model import Rule
from lanner.rules.validate import Problem, RuleReport, validate_rule, validate_rules

__all__ = [
    "Problem", "Rule", "RuleLoadError", "RuleReport", "find_rule_files", "load_rule_file",
    "load_rules", "validate_rule", "validate_rules",
]
