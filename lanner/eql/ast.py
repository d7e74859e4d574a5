"""The EQL syntax tree: frozen dataclasses that compare by structure, never by position.

Children are ordinary typed fields; `walk`, `find_all` and `transform` are written once here
over `dataclasses.fields`, so a new node needs no traversal code of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import ClassVar, TypeVar

from lanner.eql.errors import Span

N = TypeVar("N", bound="Node")


@dataclass(frozen=True, slots=True)
class Node:
    """Base of every node. `span` is metadata: excluded from equality and hashing."""

    span: Span | None = field(default=None, compare=False, repr=False, kw_only=True)

    def children(self) -> list[Node]:
        """Direct child nodes, in field order."""
        found: list[Node] = []
        for name in _child_fields(type(self)):
            value = getattr(self, name)
            if isinstance(value, Node):
                found.append(value)
            elif isinstance(value, tuple):
                found.extend(item for item in value if isinstance(item, Node))
        return found

    def walk(self) -> Iterator[Node]:
        """This node and every descendant, depth first, parents before children."""
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            children = node.children()
            if children:
                children.reverse()
                stack.extend(children)

    def find_all(self, cls: type[N]) -> Iterator[N]:
        return (node for node in self.walk() if isinstance(node, cls))

    def transform(self, fn: Callable[[Node], Node]) -> Node:
        """Rebuild the tree bottom-up, replacing each node by fn(node)."""
        changes = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Node):
                new = value.transform(fn)
                if new is not value:
                    changes[f.name] = new
            elif isinstance(value, tuple) and any(isinstance(v, Node) for v in value):
                new_items = tuple(v.transform(fn) if isinstance(v, Node) else v for v in value)
                if any(a is not b for a, b in zip(new_items, value, strict=True)):
                    changes[f.name] = new_items
        node = replace(self, **changes) if changes else self
        return fn(node)


_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
_WORD = re.compile(r"\w+")


def _child_fields(cls: type) -> tuple[str, ...]:
    """Fields whose annotation names a node class, found once per class (walks are hot)."""
    names = _CHILD_FIELDS.get(cls)
    if names is None:
        node_classes = {name for name, obj in globals().items()
                        if isinstance(obj, type) and issubclass(obj, Node)}
        names = tuple(f.name for f in fields(cls)
                      if f.name != "span" and node_classes & set(_WORD.findall(str(f.type))))
        _CHILD_FIELDS[cls] = names
    return names


# ----------------------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Expr(Node):
    """Anything that has a value for an event."""


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    """A constant; `value` is a Python str, int, float, bool or None."""

    value: str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class String(Literal):
    value: str


@dataclass(frozen=True, slots=True)
class Number(Literal):
    value: int | float

    def __eq__(self, other: object) -> bool:
        # 1 and 1.0 print differently and are typed differently (long vs double).
        return (type(other) is Number and type(other.value) is type(self.value)
                and other.value == self.value)

    def __hash__(self) -> int:
        return hash((Number, type(self.value), self.value))


@dataclass(frozen=True, slots=True)
class Boolean(Literal):
    value: bool


@dataclass(frozen=True, slots=True)
class Null(Literal):
    value: None = None


@dataclass(frozen=True, slots=True)
class Field(Expr):
    """A field reference; `optional` is the `?field` form (null when the field is unmapped)."""

    name: str
    optional: bool = False


@dataclass(frozen=True, slots=True)
class FunctionCall(Expr):
    """A call of a registered function; `name` is its canonical spelling (`startsWith`)."""

    name: str
    args: tuple[Expr, ...]
    insensitive: bool = False


class ComparisonOp(StrEnum):
    EQ = "=="
    NEQ = "!="
    LT = "<"
    LTE = "<="
    GT = ">"
    GTE = ">="


@dataclass(frozen=True, slots=True)
class Comparison(Expr):
    op: ComparisonOp
    left: Expr
    right: Expr


class MatchKind(StrEnum):
    """The wildcard and regex predicates; `:` is like~ written the short way."""

    COLON = ":"
    LIKE = "like"
    LIKE_I = "like~"
    REGEX = "regex"
    REGEX_I = "regex~"

    @property
    def insensitive(self) -> bool:
        return self in (MatchKind.COLON, MatchKind.LIKE_I, MatchKind.REGEX_I)

    @property
    def is_regex(self) -> bool:
        return self in (MatchKind.REGEX, MatchKind.REGEX_I)


@dataclass(frozen=True, slots=True)
class Match(Expr):
    """`expr : "a*"`, `expr like~ ("a*", "b?")`, `expr regex "…"`: true if any pattern matches."""

    kind: MatchKind
    expr: Expr
    patterns: tuple[Literal, ...]


@dataclass(frozen=True, slots=True)
class In(Expr):
    """`expr [not] in[~] (v1, v2, …)`: exact membership, never wildcards."""

    expr: Expr
    values: tuple[Literal, ...]
    insensitive: bool = False
    negated: bool = False


class ArithmeticOp(StrEnum):
    ADD = "+"
    SUB = "-"
    MUL = "*"
    DIV = "/"
    MOD = "%"


@dataclass(frozen=True, slots=True)
class Arithmetic(Expr):
    op: ArithmeticOp
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Negate(Expr):
    """Unary minus of a non-literal; `-5` is folded into Number(-5) by the parser."""

    expr: Expr


@dataclass(frozen=True, slots=True)
class Not(Expr):
    expr: Expr


@dataclass(frozen=True, slots=True)
class And(Expr):
    """Conjunction of two or more terms; nested `and`s are flattened by the parser."""

    terms: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or(Expr):
    terms: tuple[Expr, ...]


# ----------------------------------------------------------------------------- queries


@dataclass(frozen=True, slots=True)
class EventFilter(Node):
    """`category where condition`; category None is `any`."""

    category: str | None
    condition: Expr


@dataclass(frozen=True, slots=True)
class TimeSpan(Node):
    """A `maxspan` value; only the units Elasticsearch accepts."""

    value: int
    unit: str

    UNITS_MS: ClassVar[dict[str, int]] = {
        "ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000,
    }

    @property
    def millis(self) -> int:
        return self.value * self.UNITS_MS[self.unit]


@dataclass(frozen=True, slots=True)
class Stage(Node):
    """One bracketed stage of a sequence or sample, with its own join keys.

    `runs` is kept as written (the planner expands it); `missing` is the `![…]` form.
    """

    filter: EventFilter
    keys: tuple[Field, ...] = ()
    runs: int = 1
    missing: bool = False


class PipeKind(StrEnum):
    HEAD = "head"
    TAIL = "tail"


@dataclass(frozen=True, slots=True)
class Pipe(Node):
    kind: PipeKind
    count: int


@dataclass(frozen=True, slots=True)
class Query(Node):
    """Base of the three query shapes; every query may carry head/tail pipes except samples."""

    pipes: tuple[Pipe, ...]


@dataclass(frozen=True, slots=True)
class EventQuery(Query):
    filter: EventFilter


@dataclass(frozen=True, slots=True)
class Sequence(Query):
    """`sequence [by k…] [with maxspan=T] stage stage+ [until stage]`."""

    keys: tuple[Field, ...]
    maxspan: TimeSpan | None
    stages: tuple[Stage, ...]
    until: Stage | None = None

    def key_fields(self, stage: Stage) -> tuple[Field, ...]:
        """The full positional join key of a stage: sequence keys, then the stage's own."""
        return self.keys + stage.keys


@dataclass(frozen=True, slots=True)
class Sample(Query):
    """`sample [by k…] stage stage+`: groups of events sharing keys, in any order."""

    keys: tuple[Field, ...]
    stages: tuple[Stage, ...]

    def key_fields(self, stage: Stage) -> tuple[Field, ...]:
        return self.keys + stage.keys
