"""Which rules a command takes: by tag, severity threshold, ATT&CK id or rule_id.

A filter is data: commands build one from their options, and every rule it leaves out comes
with the reason, so a run can say why a rule the user expected did not take part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lanner.errors import LannerError
from lanner.rules.model import SEVERITIES, Rule

# MITRE ATT&CK tactics (TA0002), techniques (T1059), sub-techniques (T1059.001), and the
# same three shapes in MITRE ATLAS (AML.TA0002, AML.T0051, AML.T0051.000), which rules use too.
_ATTACK_ID = re.compile(r"(?:AML\.)?(?:TA\d{4}|T\d{4}(?:\.\d{3})?)")


class RuleFilterError(LannerError):
    """A filter that cannot mean anything: an unknown severity or a malformed ATT&CK id.
    `criterion` names the field at fault, for a caller to point at its own option."""

    def __init__(self, message: str, criterion: str) -> None:
        super().__init__(message)
        self.criterion = criterion


@dataclass(frozen=True, slots=True)
class RuleFilter:
    """Criteria a rule must meet; each given criterion must hold, an empty one always does.

    `tags`: any of these tags (case-insensitive). `min_severity`: at least this severity
    (low < medium < high < critical). `attack`: any of these tactic, technique or
    sub-technique ids; a technique also matches its sub-techniques. `rule_ids`: any of these.
    """

    tags: tuple[str, ...] = ()
    min_severity: str | None = None
    attack: tuple[str, ...] = ()
    rule_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.min_severity is not None and self.min_severity.lower() not in SEVERITIES:
            raise RuleFilterError(f"unknown severity {self.min_severity!r}: expected one of "
                                  + ", ".join(SEVERITIES), "min_severity")
        for attack_id in self.attack:
            if not _ATTACK_ID.fullmatch(attack_id.strip().upper()):
                raise RuleFilterError(
                    f"{attack_id!r} is not an ATT&CK id: expected a tactic (TA0002), a "
                    "technique (T1059) or a sub-technique (T1059.001)", "attack")

    @property
    def is_empty(self) -> bool:
        return not (self.tags or self.min_severity or self.attack or self.rule_ids)

    def reason_excluded(self, rule: Rule) -> str | None:
        """Why the rule does not meet the filter, in words; None when it does."""
        if self.rule_ids and rule.rule_id not in {r.strip() for r in self.rule_ids}:
            return "rule_id not among " + ", ".join(self.rule_ids)
        if self.tags:
            wanted = {_folded(tag) for tag in self.tags}
            if not wanted & {_folded(tag) for tag in rule.tags}:
                return "no tag among " + ", ".join(self.tags)
        if self.min_severity is not None:
            threshold = SEVERITIES.index(self.min_severity.lower())
            if _severity_rank(rule.severity) < threshold:
                return f"severity {rule.severity} is below {self.min_severity.lower()}"
        if self.attack and not self._matches_attack(rule):
            return "no ATT&CK id among " + ", ".join(self.attack)
        return None

    def keeps(self, rule: Rule) -> bool:
        return self.reason_excluded(rule) is None

    def _matches_attack(self, rule: Rule) -> bool:
        """Sub-techniques sit under their technique in a rule's threat mapping, so a
        technique id finds the rules mapping any of its sub-techniques by plain membership."""
        mapped = {attack_id.upper() for attack_id in (*rule.tactic_ids, *rule.technique_ids)}
        return any(attack_id.strip().upper() in mapped for attack_id in self.attack)


def _folded(tag: str) -> str:
    return " ".join(tag.split()).casefold()


def _severity_rank(severity: str) -> int:
    lowered = severity.lower()
    return SEVERITIES.index(lowered) if lowered in SEVERITIES else -1
