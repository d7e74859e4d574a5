"""Which column of the events table holds a field, index by index.

Elasticsearch types each index by its own mapping: `@timestamp` is `date` in one index and
`date_nanos` in another, a field `keyword` here and `long` there, an object in one index and a
keyword in the next. The store gives each (field, type) a column of its own: the field's first
type has the column named like the field, another type gets a column beside it (`name#2`). Each
index remembers which column holds its values of a field, and a search resolves a field through
the indices it searches, as Elasticsearch merges their field capabilities: one type is that
type's column, several are an ambiguity that a query naming the field cannot use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from lanner.store.mappings import OBJECT_TYPES, FieldMapping
from lanner.store.multifields import (
    DEFEND_CASELESS,
    Normalized,
    defend_index,
    defend_multi_field,
    normalized_sql,
)

# Types Elasticsearch's field capabilities merge into one (the keyword family).
_KEYWORD_FAMILY = frozenset({"keyword", "constant_keyword", "wildcard"})


def quote(identifier: str) -> str:
    """A SQL identifier, quoted for DuckDB."""
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class Column:
    """A field as the compiler sees it.

    `physical` is the table column holding the values: the field's own column, or for an alias
    or a multi-field (`alias_path` set) its target's. It differs from `name` when two field
    names differ in case alone (DuckDB identifiers are case-insensitive) or when the searched
    indices type the field otherwise than its first index, and is None when no value of the
    field is stored anywhere. `conflict` says why the searched indices cannot agree on a type
    (Elasticsearch's words: "mapped as [2] incompatible types: ..."); such a column has no
    physical column and cannot be used.
    """

    name: str
    es_type: str
    duckdb_type: str
    is_list: bool
    alias_path: str | None = None
    physical: str | None = None
    conflict: str | None = None
    normalized: Normalized | None = None
    index_guard: str | None = None

    @property
    def sql(self) -> str:
        """The SQL expression reading the field: the quoted column, or NULL if none; a
        normalized multi-field's values derived from its parent's column (on the rows of
        `index_guard`, SQL, when only some indices map it)."""
        if not self.physical:
            return "NULL"
        if self.normalized is not None:
            return normalized_sql(quote(self.physical), self.is_list, self.normalized,
                                  self.index_guard)
        return quote(self.physical)


@dataclass(slots=True)
class Physical:
    """A column of the events table; mutable because a column can become a list."""

    name: str
    physical: str
    es_type: str
    base_type: str
    is_list: bool

    @property
    def sql_type(self) -> str:
        return self.base_type + "[]" if self.is_list else self.base_type

    def column(self) -> Column:
        return Column(self.name, self.es_type, self.sql_type, self.is_list, None, self.physical)


class FieldSource(Protocol):
    """What the compiler asks about fields: EventStore, a search's ScopedFields and a lake's
    fields answer it."""

    def column(self, name: str) -> Column | None: ...

    def columns(self) -> dict[str, Column]: ...

    def has_field(self, name: str) -> bool: ...


def same_storage(first: str, second: str) -> bool:
    """Whether two ES types of one field can share a column: equal, or both of the keyword
    family, which Elasticsearch's field capabilities merge into one keyword field."""
    return first == second or (first in _KEYWORD_FAMILY and second in _KEYWORD_FAMILY)


class ScopedFields:
    """The fields of a store as a search over `indices` sees them: a field that the searched
    indices type otherwise than its first index reads their column; searched indices that
    disagree make it ambiguous (a Column with `conflict`). Fields none of them types are the
    store's (`store`), as are aliases and objects."""

    def __init__(self, store: FieldSource, first: Mapping[str, Physical],
                 by_index: Mapping[str, Mapping[str, Physical]],
                 mappings: Mapping[str, Mapping[str, FieldMapping]],
                 indices: Iterable[str]) -> None:
        self._store = store
        self._first = first
        self._by_index = by_index
        self._mappings = mappings
        self._indices = tuple(indices)

    def column(self, name: str) -> Column | None:
        derived = defend_multi_field(name)
        if derived is not None:
            defend = [index for index in self._indices if self._defend_maps(index, name)]
            if defend:
                return defend_column(name, derived, self._parent(derived.parent, defend),
                                     defend if len(defend) < len(self._indices) else None)
            if not any(name in self._mappings.get(index, {}) for index in self._indices):
                return None  # no searched index has the field: ES does not know it
        return self._column_in(name, self._indices)

    def _defend_maps(self, index: str, name: str) -> bool:
        """Whether Defend's templates give `index` the multi-field `name`: a Defend index
        whose explicit mapping, if any, does not map the name itself."""
        mapping = self._mappings.get(index)
        return defend_index(index) and (mapping is None or name not in mapping)

    def _parent(self, parent: str, indices: list[str]) -> Column | None:
        return self._column_in(parent, indices)

    def _column_in(self, name: str, indices: tuple[str, ...] | list[str]) -> Column | None:
        typed: dict[str, tuple[Physical, list[str]]] = {}  # es_type -> column, indices
        for index in indices:
            found = self._typed_in(index, name)
            if found is not None:
                typed.setdefault(found.es_type, (found, []))[1].append(index)
        if len({found.physical for found, _ in typed.values()}) > 1:
            described = ", ".join(f"[{es_type}] in [{', '.join(indices)}]"
                                  for es_type, (_, indices) in typed.items())
            return Column(name, "conflict", "NULL", False,
                          conflict=f"mapped as [{len(typed)}] incompatible types: {described}")
        if not typed or next(iter(typed.values()))[0].es_type in OBJECT_TYPES:
            return self._store.column(name)
        return next(iter(typed.values()))[0].column()

    def _typed_in(self, index: str, name: str) -> Physical | None:
        """The column holding `index`'s values of `name`, if that index types the field; an
        object mapping is a column of its own kind, so that it conflicts with a value."""
        recorded = self._by_index.get(index, {}).get(name)
        if recorded is not None:
            return recorded
        mapping = self._mappings.get(index)
        if mapping is None:
            return self._first.get(name)  # typed by ECS and its first values, like the rest
        mapped = mapping.get(name)
        if mapped is not None and mapped.type in OBJECT_TYPES:
            return Physical(name, f"<{mapped.type}>", mapped.type, "", False)
        return None  # a mapped index that never typed the field does not have it

    def columns(self) -> dict[str, Column]:
        found = {}
        stored = list(self._store.columns())
        known = set(stored)  # a multi-field whose parent the store did not read has no values
        derived = [name for name, field in DEFEND_CASELESS.items() if field.parent in known]
        for name in [*stored, *derived]:
            column = self.column(name)
            if column is not None and column.conflict is None:
                found[name] = column
        return found

    def has_field(self, name: str) -> bool:
        if defend_multi_field(name) is not None:
            return self.column(name) is not None  # only the searched Defend indices have it
        return self._store.has_field(name)


def defend_column(name: str, derived: Normalized, parent: Column | None,
                  indices: list[str] | None) -> Column:
    """Elastic Defend's `.caseless` multi-field as a search over Defend indices sees it:
    keyword, read from the parent's column lower-cased (lanner.store.multifields); only on
    rows of `indices` when the search also covers indices Defend does not write."""
    if parent is None or parent.physical is None or parent.conflict is not None \
            or parent.es_type not in _KEYWORD_FAMILY:
        return Column(name, "keyword", "VARCHAR", False, derived.parent, None)
    guard = None
    if indices is not None:
        guard = "\"_index\" IN (" + ", ".join(
            "'" + index.replace("'", "''") + "'" for index in indices) + ")"
    return Column(name, "keyword", parent.duckdb_type, parent.is_list, derived.parent,
                  parent.physical, normalized=derived, index_guard=guard)
