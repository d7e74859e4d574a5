"""The ES|QL syntax tree: a query is a source command and a pipeline of processing commands;
expressions are the nodes below. Positions (`span`) sit outside equality."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from lanner.esql.errors import Span


@dataclass(frozen=True, slots=True)
class Node:
    def children(self) -> Iterator[Node]:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, Node):
                yield value
            elif isinstance(value, tuple):
                for part in value:
                    if isinstance(part, Node):
                        yield part
                    elif isinstance(part, tuple):
                        yield from (p for p in part if isinstance(p, Node))

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children():
            yield from child.walk()

    def find_all(self, kind: type[Any]) -> Iterator[Any]:
        return (node for node in self.walk() if isinstance(node, kind))


# -- expressions ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Expr(Node):
    pass


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    """null, a boolean, an integer, a decimal or a string; a list literal is a tuple."""

    value: Any
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class TimeSpan(Expr):
    """`1 minute`, `15 minutes`: a time duration (or date period) literal."""

    amount: int
    unit: str  # singular, lower case: millisecond, second, minute, hour, day, week, month, …
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Column(Expr):
    name: str
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Star(Expr):
    """The `*` of `COUNT(*)`."""

    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class MapLiteral(Expr):
    """`{ "fuzziness": 1 }`: named options of a function or command."""

    entries: tuple[tuple[str, Any], ...]
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Call(Expr):
    name: str  # upper case
    args: tuple[Expr, ...]
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Unary(Expr):
    op: str  # "not" or "-"
    operand: Expr
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Binary(Expr):
    op: str  # and or == != < <= > >= + - * / %
    left: Expr
    right: Expr
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class In(Expr):
    value: Expr
    items: tuple[Expr, ...]
    negated: bool = False
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Like(Expr):
    """`LIKE` (wildcards `*` `?`) or `RLIKE` (Lucene regular expression), whole string."""

    value: Expr
    patterns: tuple[str, ...]
    regex: bool
    negated: bool = False
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class IsNull(Expr):
    value: Expr
    negated: bool = False
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Cast(Expr):
    """`value::type`."""

    value: Expr
    type: str  # lower case, as written
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Match(Expr):
    """`field : "query"`: the full-text match operator."""

    column: Expr
    query: Expr
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Assignment(Node):
    """`name = expr`, or an unnamed expression whose column is named after its own text."""

    name: str
    value: Expr
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Aggregate(Node):
    """One aggregation of STATS: `name = AGG(...)` with an optional `WHERE` filter."""

    name: str
    value: Expr
    where: Expr | None = None
    span: Span | None = field(default=None, compare=False)


# -- commands ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Command(Node):
    pass


@dataclass(frozen=True, slots=True)
class From(Command):
    indices: tuple[str, ...]
    metadata: tuple[str, ...] = ()
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Where(Command):
    condition: Expr
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Eval(Command):
    assignments: tuple[Assignment, ...]
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Stats(Command):
    aggregates: tuple[Aggregate, ...]
    groups: tuple[Assignment, ...] = ()
    inline: bool = False
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Keep(Command):
    patterns: tuple[str, ...]
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Drop(Command):
    patterns: tuple[str, ...]
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Rename(Command):
    pairs: tuple[tuple[str, str], ...]  # (old, new)
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Order(Node):
    value: Expr
    ascending: bool = True
    nulls_first: bool | None = None  # None: ES's default, nulls last ascending, first descending
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Sort(Command):
    orders: tuple[Order, ...]
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Limit(Command):
    count: int
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class MvExpand(Command):
    column: str
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Dissect(Command):
    value: Expr
    pattern: str
    separator: str = ""
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Grok(Command):
    value: Expr
    pattern: str
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Completion(Command):
    """`COMPLETION name = prompt WITH {...}`: asks an LLM inference endpoint."""

    name: str
    prompt: Expr
    options: MapLiteral | None = None
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Query(Node):
    commands: tuple[Command, ...]
    span: Span | None = field(default=None, compare=False)

    @property
    def source(self) -> From:
        first = self.commands[0]
        assert isinstance(first, From)
        return first

    @property
    def is_aggregating(self) -> bool:
        """Kibana's computeIsESQLQueryAggregating: a top-level STATS (not INLINE STATS)."""
        return any(isinstance(c, Stats) and not c.inline for c in self.commands)
