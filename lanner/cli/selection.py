"""The rule-selection options every command that takes rules shares, the filter they make,
and the resolver of short references (an id prefix, part of a name) to one rule or alert.

Commands declare the options with these types and pass the values to `rule_filter`, so
`lanner hunt` and `lanner rules list` select rules with the same words and the same errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, TypeVar

import typer

from lanner.errors import LannerError
from lanner.rules import RuleFilter, RuleFilterError

T = TypeVar("T")

TagOption = Annotated[list[str] | None, typer.Option(
    "--tag", metavar="TAG", help="Only rules with this tag (case-insensitive), e.g. "
    "'Tactic: Execution'; repeatable: any of them.", show_default=False)]
SeverityOption = Annotated[str | None, typer.Option(
    "--severity", metavar="SEVERITY", help="Only rules of at least this severity: low, medium, "
    "high or critical.", show_default=False)]
AttackOption = Annotated[list[str] | None, typer.Option(
    "--attack", metavar="ID", help="Only rules mapped to this ATT&CK tactic (TA0002), technique "
    "(T1059, which also finds T1059.001) or sub-technique; repeatable: any of them.",
    show_default=False)]
RuleIdOption = Annotated[list[str] | None, typer.Option(
    "--rule-id", metavar="RULE_ID", help="Only the rule with this rule_id; repeatable.",
    show_default=False)]


def rule_filter(tags: list[str] | None, severity: str | None, attack: list[str] | None,
                rule_ids: list[str] | None) -> RuleFilter:
    """The filter the options ask for; a bad severity or id is the user's to fix (exit 2)."""
    try:
        return RuleFilter(tags=tuple(tags or ()), min_severity=severity,
                          attack=tuple(attack or ()), rule_ids=tuple(rule_ids or ()))
    except RuleFilterError as error:
        option = {"min_severity": "--severity", "attack": "--attack"}[error.criterion]
        raise typer.BadParameter(str(error), param_hint=f"'{option}'") from error


class UnresolvedReference(LannerError):
    """A reference that names no candidate, or more than one; `matches` lists those it names."""

    def __init__(self, what: str, reference: str, matches: Sequence[str], where: str = ""
                 ) -> None:
        self.matches = list(matches)
        if not matches:
            message = f"no {what} with id or name {reference!r}{where}"
        else:
            shown = "; ".join(self.matches[:10]) + ("; …" if len(self.matches) > 10 else "")
            message = f"{reference!r} names {len(self.matches)} {what}s{where}: {shown}"
        super().__init__(message)


def resolve(reference: str, candidates: Iterable[T], *, what: str,
            id_of: Callable[[T], str], name_of: Callable[[T], str] | None = None,
            where: str = "") -> T:
    """The one candidate `reference` names, asked in this order: its exact id, its exact
    name (any case), an id starting with it, a name containing it (any case). The first
    question one candidate answers wins; when several answer it, the reference is ambiguous
    (UnresolvedReference, saying `where` the candidates were looked for).

    One resolver for every command that takes a rule or an alert by a short reference, so
    they all accept the same words."""
    listed = list(candidates)
    wanted = reference.casefold()
    tests: list[Callable[[T], bool]] = [lambda c: id_of(c) == reference]
    if name_of is not None:
        tests.append(lambda c: name_of(c).casefold() == wanted)
    tests.append(lambda c: id_of(c).startswith(reference))
    if name_of is not None:
        tests.append(lambda c: wanted in name_of(c).casefold())
    for test in tests:
        found = [candidate for candidate in listed if test(candidate)]
        if len(found) == 1:
            return found[0]
        if found:
            raise UnresolvedReference(what, reference, [
                f"{id_of(c)} {name_of(c)}" if name_of else id_of(c) for c in found], where)
    raise UnresolvedReference(what, reference, [], where)
