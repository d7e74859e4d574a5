"""The rule-selection options every command that takes rules shares, and the filter they make.

Commands declare the options with these types and pass the values to `rule_filter`, so
`lanner hunt` and `lanner rules list` select rules with the same words and the same errors.
"""

from __future__ import annotations

from typing import Annotated

import typer

from lanner.rules import RuleFilter, RuleFilterError

TagOption = Annotated[list[str] | None, typer.Option(
    "--tag", help="Only rules with this tag (case-insensitive), e.g. 'Tactic: Execution'; "
    "repeatable: any of them.", show_default=False)]
SeverityOption = Annotated[str | None, typer.Option(
    "--severity", help="Only rules of at least this severity: low, medium, high or critical.",
    show_default=False)]
AttackOption = Annotated[list[str] | None, typer.Option(
    "--attack", help="Only rules mapped to this ATT&CK tactic (TA0002), technique (T1059, "
    "which also finds T1059.001) or sub-technique; repeatable: any of them.",
    show_default=False)]
RuleIdOption = Annotated[list[str] | None, typer.Option(
    "--rule-id", help="Only the rule with this rule_id; repeatable.", show_default=False)]


def rule_filter(tags: list[str] | None, severity: str | None, attack: list[str] | None,
                rule_ids: list[str] | None) -> RuleFilter:
    """The filter the options ask for; a bad severity or id is the user's to fix (exit 2)."""
    try:
        return RuleFilter(tags=tuple(tags or ()), min_severity=severity,
                          attack=tuple(attack or ()), rule_ids=tuple(rule_ids or ()))
    except RuleFilterError as error:
        option = {"min_severity": "--severity", "attack": "--attack"}[error.criterion]
        raise typer.BadParameter(str(error), param_hint=f"'{option}'") from error
