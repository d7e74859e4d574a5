"""Value kinds of EQL expressions, and how Elasticsearch field types map onto them.

One home for the type facts that checks, and later the engine's compilers, rely on.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What an expression yields, as far as the checker can tell."""

    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    NUMBER = "number"  # numeric, integer or not known statically (number(), arithmetic)
    BOOLEAN = "boolean"
    DATE = "date"
    IP = "ip"
    VERSION = "version"
    NULL = "null"
    OBJECT = "object"
    UNKNOWN = "unknown"  # a field the schema does not know: anything goes

    @property
    def is_numeric(self) -> bool:
        return self in NUMERIC


NUMERIC = frozenset({Kind.INTEGER, Kind.FLOAT, Kind.NUMBER})

_ES_TYPE_KINDS: dict[str, Kind] = {
    **dict.fromkeys(
        ("keyword", "constant_keyword", "wildcard", "text", "match_only_text", "flattened"),
        Kind.STRING),
    **dict.fromkeys(("long", "integer", "short", "byte", "unsigned_long"), Kind.INTEGER),
    **dict.fromkeys(("double", "float", "half_float", "scaled_float"), Kind.FLOAT),
    "boolean": Kind.BOOLEAN,
    "date": Kind.DATE,
    "date_nanos": Kind.DATE,
    "ip": Kind.IP,
    "version": Kind.VERSION,
    **dict.fromkeys(("object", "nested", "geo_point", "geo_shape"), Kind.OBJECT),
}


def kind_of_es_type(es_type: str | None) -> Kind:
    """The kind of a field mapped with this Elasticsearch type; UNKNOWN when unmapped."""
    if es_type is None:
        return Kind.UNKNOWN
    return _ES_TYPE_KINDS.get(es_type, Kind.UNKNOWN)


def kind_of_value(value: object) -> Kind:
    """The kind of a literal's Python value."""
    if value is None:
        return Kind.NULL
    if isinstance(value, bool):
        return Kind.BOOLEAN
    if isinstance(value, int):
        return Kind.INTEGER
    if isinstance(value, float):
        return Kind.FLOAT
    return Kind.STRING


def accepts(expected: frozenset[Kind], actual: Kind) -> bool:
    """Whether an argument of kind `actual` fits a parameter that takes `expected`.

    Unknown fields and null always fit (null makes the result null at run time); a
    statically unknown NUMBER fits any numeric parameter.
    """
    if actual in (Kind.UNKNOWN, Kind.NULL) or actual in expected:
        return True
    return actual is Kind.NUMBER and bool(expected & NUMERIC)
