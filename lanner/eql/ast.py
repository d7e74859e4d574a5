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
        """Rebuild the tree bottom-up, replacing each node by fn(node).

        Children first, with a stack of its own: deep trees do not exhaust Python's.
        """
        done: dict[int, Node] = {}
        stack: list[tuple[Node, bool]] = [(self, False)]
        while stack:
            node, ready = stack.pop()
            if not ready:
                stack.append((node, True))
                for f in fields(node):
                    value = getattr(node, f.name)
                    if isinstance(value, Node):
                        stack.append((value, False))
                    elif isinstance(value, tuple):
                        stack.extend((v, False) for v in value if isinstance(v, Node))
                continue
            changes = {}
            for f in fields(node):
                value = getattr(node, f.name)
                if isinstance(value, Node):
                    new = done[id(value)]
                    if new is not value:
                        changes[f.name] = new
                elif isinstance(value, tuple) and any(isinstance(v, Node) for v in value):
                    items = tuple(done[id(v)] if isinstance(v, Node) else v for v in value)
                    if any(a is not b for a, b in zip(items, value, strict=True)):
                        changes[f.name] = items
            done[id(node)] = fn(replace(node, **changes) if changes else node)
        return done[id(self)]


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
    """`left op right`; a chain `a + b + c` nests to the left, as deep as it is long."""

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


# ----------------------------------------------------------------------------- equality


_COMPARED: dict[type, tuple[str, ...]] = {}


def _compared(cls: type) -> tuple[str, ...]:
    names = _COMPARED.get(cls)
    if names is None:
        names = _COMPARED[cls] = tuple(f.name for f in fields(cls) if f.compare)
    return names


def _node_eq(self: Node, other: object) -> bool:
    """Structural equality with a stack of its own, so that deep trees (a chain `1 + 1 + …`
    is as deep as it is long) compare without exhausting Python's; spans are ignored."""
    if type(other) is not type(self):
        return NotImplemented
    stack: list[tuple[object, object]] = [(self, other)]
    while stack:
        mine, theirs = stack.pop()
        if mine is theirs:
            continue
        if type(mine) is not type(theirs):
            return False
        if type(mine) is Number:
            if mine != theirs:
                return False
            continue
        for name in _compared(type(mine)):
            a, b = getattr(mine, name), getattr(theirs, name)
            if isinstance(a, Node):
                stack.append((a, b))
            elif isinstance(a, tuple) and isinstance(b, tuple):
                if len(a) != len(b):
                    return False
                for x, y in zip(a, b, strict=True):
                    if isinstance(x, Node):
                        stack.append((x, y))
                    elif x != y:
                        return False
            elif a != b:
                return False
    return True


def _node_hash(self: Node) -> int:
    """A hash that agrees with `_node_eq`: the node kinds and plain values in walk order."""
    parts: list[object] = []
    for node in self.walk():
        parts.append(type(node))
        for name in _compared(type(node)):
            value = getattr(node, name)
            if isinstance(value, tuple):
                parts.append(len(value))
                parts.extend(v for v in value if not isinstance(v, Node))
            elif not isinstance(value, Node):
                parts.append(value)
    return hash(tuple(parts))


def _node_classes(cls: type) -> list[type]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_node_classes(sub))
    return found


for _cls in _node_classes(Node):  # replaces the recursive methods dataclass generated
    if _cls is not Number:  # a leaf with an equality of its own (1 is not 1.0)
        _cls.__eq__ = _node_eq  # type: ignore[method-assign,assignment]
        _cls.__hash__ = _node_hash  # type: ignore[method-assign,assignment]
