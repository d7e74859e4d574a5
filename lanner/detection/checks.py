"""What the engine refuses in a query the language accepts, found when rules are validated: a
rule that cannot run fails `rules validate`, not the hunt.

The engine compiles each of the query's filters against no events, with the ECS schema
standing in for the index templates, as a hunt of any data would; what it refuses (a regex that
RE2 cannot run, a literal its field's type cannot read) is the rule's error.
"""

from __future__ import annotations

import functools

from lanner import eql, kql
from lanner.detection.aggregating import parameter_issues
from lanner.detection.query_rules import filters_clause
from lanner.engine.backends.sql import SqlCompiler, UnknownFieldError
from lanner.engine.planner import plan
from lanner.engine.querydsl import filter_condition, kql_condition
from lanner.eql import Issue, Severity
from lanner.eql.schema import FieldSchema
from lanner.errors import LannerError
from lanner.rules import Rule
from lanner.store import EventStore


def engine_issues(rule: Rule) -> list[Issue]:
    """The engine's refusals of `rule`'s query, each at its place in the query."""
    if rule.is_kql:
        return _kql_issues(rule) + parameter_issues(rule)
    if not rule.is_eql:
        return []
    compiler = SqlCompiler(_no_events(), category_field=rule.category_field,
                           schema=FieldSchema.default())
    issues = []
    for stage in plan(eql.parse(rule.query)).distinct_filters():
        try:
            compiler.filter(stage.category, stage.condition)
        except UnknownFieldError:
            continue  # the language's checks report fields the schema does not know
        except LannerError as error:
            issues.append(Issue(Severity.ERROR, "engine", getattr(error, "message", str(error)),
                                getattr(error, "span", None)))
    return issues


def _kql_issues(rule: Rule) -> list[Issue]:
    """What the engine refuses in a KQL rule: its query and Kibana filters compiled, as its
    search compiles them, against the ECS schema."""
    compiler = SqlCompiler(_no_events(), schema=FieldSchema.default())
    try:
        kql_condition(rule.query, compiler)
        clause = filters_clause(rule.filters)
        if clause is not None:
            filter_condition(clause, compiler)
    except kql.KqlError as error:
        return [error.as_issue()]
    except LannerError as error:
        return [Issue(Severity.ERROR, "engine", getattr(error, "message", str(error)))]
    return []


@functools.cache
def _no_events() -> EventStore:
    """An empty store: the compiler asks it about fields, and it knows none."""
    return EventStore()
