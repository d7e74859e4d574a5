"""The KQL syntax tree: frozen dataclasses that compare by structure, never by position.

The tree keeps what the text says, as Kibana's grammar reads it, with two liberties: grouping
parentheses leave no node (precedence is in the shape of the tree), and a value list
`field:(a or b)` stays one `FieldValue` whose value is a small boolean tree of values
(Kibana expands it to `or(is(field, a), is(field, b))`; `FieldValue.expand` does the same).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from lanner.kql.errors import Span


@dataclass(frozen=True, slots=True)
class Node:
    """Base of every node. `span` is metadata: excluded from equality and hashing."""

    span: Span | None = field(default=None, compare=False, repr=False, kw_only=True)

    def children(self) -> tuple[Node, ...]:
        return ()

    def walk(self) -> Iterator[Node]:
        """This node and every descendant, depth first, parents before children."""
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children()))


# -- literals: values and field names ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """A value or field name without wildcard. Unquoted `true`/`false`/`null` are the booleans
    and None; every other value is a string, numbers included (Elasticsearch converts them per
    field type). `quoted` values are phrases (`match_phrase`), never wildcards."""

    value: str | bool | None
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class Wildcard(Node):
    """An unquoted value or field name with unescaped `*`: the text between the stars, so
    `*foo*` is ("", "foo", "") and an escaped `\\*` is a star inside a segment."""

    segments: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.segments) < 2:
            raise ValueError("a wildcard has at least one `*`, so at least two segments")

    @property
    def is_lone(self) -> bool:
        """`*` alone: on a value it means the field exists; as a field, every field."""
        return self.segments == ("", "")


ValueLeaf = Literal | Wildcard


@dataclass(frozen=True, slots=True)
class ValueOr(Node):
    items: tuple[ValueExpr, ...]

    def children(self) -> tuple[Node, ...]:
        return self.items


@dataclass(frozen=True, slots=True)
class ValueAnd(Node):
    items: tuple[ValueExpr, ...]

    def children(self) -> tuple[Node, ...]:
        return self.items


@dataclass(frozen=True, slots=True)
class ValueNot(Node):
    item: ValueExpr

    def children(self) -> tuple[Node, ...]:
        return (self.item,)


ValueExpr = Literal | Wildcard | ValueOr | ValueAnd | ValueNot


# -- query nodes -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldValue(Node):
    """`field:value` or `field:(value list)`; `field` is None for free text (a value alone)."""

    field: Literal | Wildcard | None
    value: ValueExpr

    def children(self) -> tuple[Node, ...]:
        return (self.value,) if self.field is None else (self.field, self.value)

    @property
    def is_exists(self) -> bool:
        """`field:*`: Kibana's exists query."""
        return isinstance(self.value, Wildcard) and self.value.is_lone

    def expand(self) -> Query:
        """Kibana's form: the value list as boolean query nodes over single-value leaves."""
        def build(value: ValueExpr) -> Query:
            if isinstance(value, ValueOr):
                return Or(tuple(build(item) for item in value.items), span=value.span)
            if isinstance(value, ValueAnd):
                return And(tuple(build(item) for item in value.items), span=value.span)
            if isinstance(value, ValueNot):
                return Not(build(value.item), span=value.span)
            return FieldValue(self.field, value, span=value.span)
        return build(self.value)


class RangeOp(StrEnum):
    LT = "<"
    LTE = "<="
    GT = ">"
    GTE = ">="


@dataclass(frozen=True, slots=True)
class Range(Node):
    """`field < value` and the like (no colon; there is no `[a TO b]` in KQL)."""

    field: Literal | Wildcard
    op: RangeOp
    value: Literal | Wildcard

    def children(self) -> tuple[Node, ...]:
        return (self.field, self.value)


@dataclass(frozen=True, slots=True)
class Nested(Node):
    """`path:{ query }`: field names inside are relative to `path`."""

    path: Literal | Wildcard
    query: Query

    def children(self) -> tuple[Node, ...]:
        return (self.path, self.query)


@dataclass(frozen=True, slots=True)
class Or(Node):
    items: tuple[Query, ...]

    def children(self) -> tuple[Node, ...]:
        return self.items


@dataclass(frozen=True, slots=True)
class And(Node):
    items: tuple[Query, ...]

    def children(self) -> tuple[Node, ...]:
        return self.items


@dataclass(frozen=True, slots=True)
class Not(Node):
    item: Query

    def children(self) -> tuple[Node, ...]:
        return (self.item,)


Query = FieldValue | Range | Nested | Or | And | Not

# The empty query: Kibana reads it as `is('*', '*')`, which is also what `*:*` reads as.
MATCH_ALL = FieldValue(Wildcard(("", "")), Wildcard(("", "")))
