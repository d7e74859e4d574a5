"""The store's field catalogue: which column holds each field, typed how, index by index.

A field is typed the first time an index has a value for it: by the index's explicit mapping
if one was put, else the packaged ECS schema (standing in for the index templates of Elastic's
data streams), else Elasticsearch's dynamic mapping. The catalogue decides the columns and
records the schema changes that follow (new columns, scalar columns becoming lists, their
metadata rows); lanner.store.tables applies them to the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lanner.eql.schema import FieldSchema
from lanner.store.columns import Column, FieldSource, Physical, ScopedFields, quote, same_storage
from lanner.store.mappings import (
    DUCKDB_TYPES,
    OBJECT_TYPES,
    VERBATIM_STRING_TYPES,
    Coercer,
    FieldMapping,
    StoreError,
    ancestors,
    coercer,
    duckdb_type,
    parse_mapping,
)
from lanner.store.multifields import (
    DEFEND_CASELESS,
    NORMALIZERS,
    Normalized,
    defend_multi_field,
    stored_field,
)

_DATE_TYPES = frozenset({"date", "date_nanos"})


class Target:
    """How one index stores one field path: the column (None: never) and the coercion.

    `verbatim`: strings go in unchanged (keyword-like types), the ingest loop's fast path.
    """

    __slots__ = ("coerce", "column", "es_type", "physical", "verbatim")

    def __init__(self, column: Physical | None, coerce: Coercer, es_type: str) -> None:
        self.column = column
        self.coerce = coerce
        self.es_type = es_type
        self.physical = column.physical if column is not None else ""
        self.verbatim = column is not None and column.es_type in VERBATIM_STRING_TYPES


@dataclass(slots=True)
class IndexPlan:
    """Per index: the explicit mapping, its null_values, and resolved targets by path."""

    index: str
    mapping: dict[str, FieldMapping] | None
    null_values: dict[str, Any]
    targets: dict[str, Target] = field(default_factory=dict)


@dataclass(slots=True)
class SchemaChanges:
    """Schema changes not applied yet, in order, with the metadata rows describing them."""

    ddl: list[str] = field(default_factory=list)
    columns: list[tuple[Any, ...]] = field(default_factory=list)  # _lanner_columns
    typing: list[tuple[Any, ...]] = field(default_factory=list)  # _lanner_typing


class _Refusal:
    """A coercer for paths that hold no values in this index (aliases, objects)."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, value: Any) -> Any:
        raise ValueError(self.message)


class FieldCatalog:
    """Every field's columns and types, the explicit mappings, and the pending schema changes.

    `first`: each field's first column; `alternates`: a field's columns beside its first, one
    per other type some index gives it; `by_index`: per index, the column holding its values
    of each field it typed. `loaded`: the fields a columnar ingest read (None: all of them).
    """

    def __init__(self, schema: FieldSchema, reserved: Iterable[str]) -> None:
        self.schema = schema
        self.first: dict[str, Physical] = {}
        self.alternates: dict[tuple[str, str], Physical] = {}
        self.by_index: dict[str, dict[str, Physical]] = {}
        self.mappings: dict[str, dict[str, FieldMapping]] = {}
        self.loaded: frozenset[str] | None = None
        self._taken: set[str] = {name.lower() for name in reserved}
        self._fields: set[str] = set()
        self._plans: dict[str, IndexPlan] = {}
        self._unsaved: set[str] = set()  # columns whose metadata is not written yet
        self._unsaved_typing: set[tuple[str, str]] = set()  # (index, field) not written yet
        self._ddl: list[str] = []  # schema changes not run yet

    # -- what the compiler asks ---------------------------------------------------------------

    def columns(self) -> dict[str, Column]:
        """Every field with values or a mapping: physical columns, then aliases/multi-fields
        (Defend's derived multi-fields are a search's: ScopedFields lists them)."""
        found = {name: physical.column() for name, physical in self.first.items()}
        for mapping in self.mappings.values():
            for name, mapped in mapping.items():
                if mapped.alias_path is not None and name not in found:
                    found[name] = self._virtual(name, mapped)
        return found

    def column(self, name: str) -> Column | None:
        """One field's column (an alias resolves to its target's physical column), or None;
        a field that indices type differently is its first type's column here (see scoped)."""
        self._check_loaded(name)
        physical = self.first.get(name)
        if physical is not None:
            return physical.column()
        for mapping in self.mappings.values():
            mapped = mapping.get(name)
            if mapped is not None and mapped.alias_path is not None:
                return self._virtual(name, mapped)
        if defend_multi_field(name) is not None:
            return self.scoped(self, self.by_index).column(name)
        return None

    def has_field(self, name: str) -> bool:
        """Whether ES would find `name` in the mapping: seen or mapped, object parents too."""
        self._check_loaded(name)
        if name in self._fields:
            return True
        return defend_multi_field(name) is not None and self.column(name) is not None

    def uniform(self) -> bool:
        """Whether every index types every field alike (no alternates, no mappings, and
        no field that Elastic Defend's templates give a multi-field)."""
        if self.alternates or self.mappings:
            return False
        # which indices hold a Defend parent is the search's to tell (a columnar ingest
        # types no index here): the multi-field exists only in the Defend ones it searches
        return not any(derived.parent in self.first for derived in DEFEND_CASELESS.values())

    def scoped(self, store: FieldSource, indices: Iterable[str]) -> FieldSource:
        """The fields as a search over `indices` sees them (lanner.store.columns)."""
        return ScopedFields(store, self.first, self.by_index, self.mappings, indices)

    def know(self, path: str) -> None:
        """A field the store can answer for, with the objects above it."""
        self._fields.add(path)
        self._fields.update(ancestors(path))

    def _check_loaded(self, name: str) -> None:
        """A store that read only some fields refuses to answer for the others, rather than
        answering "absent" for a field the files may hold."""
        name = stored_field(name)  # a Defend multi-field reads its parent's values
        if self.loaded is None or name in self._fields or name in self.loaded:
            return
        prefix = name + "."
        if not any(loaded.startswith(prefix) for loaded in self.loaded):
            raise StoreError(f"the field [{name}] was not read: this store holds only the "
                             "fields of the rules it was loaded for")

    def _virtual(self, name: str, mapped: FieldMapping) -> Column:
        """An alias (typed like its target) or a multi-field (its own type), both reading the
        target's column."""
        target = mapped.alias_path or ""
        for _ in range(3):  # an alias may name a multi-field, which names its parent
            hop = next((m[target] for m in self.mappings.values() if target in m), None)
            if hop is None or hop.alias_path is None:
                break
            target = hop.alias_path
        es_type = mapped.type
        if es_type == "alias":
            target_mapping = next((m[target] for m in self.mappings.values() if target in m), None)
            es_type = target_mapping.type if target_mapping is not None else "keyword"
        physical = self.first.get(target)
        if physical is None:
            base_type = DUCKDB_TYPES.get(es_type, "VARCHAR")
            return Column(name, es_type, base_type, False, mapped.alias_path, None)
        normalized = None
        if mapped.normalizer in NORMALIZERS and mapped.alias_path == target:
            normalized = Normalized(target, mapped.normalizer, mapped.ignore_above)
        return Column(name, es_type, physical.sql_type, physical.is_list, mapped.alias_path,
                      physical.physical, normalized=normalized)

    # -- what a store opened again had --------------------------------------------------------

    def load_column(self, column: Physical) -> None:
        """A field's first column, as the store's metadata recorded it."""
        self.first[column.name] = column
        self._taken.add(column.physical.lower())
        self.know(column.name)

    def load_typing(self, index: str, column: Physical,
                    by_physical: dict[str, Physical]) -> None:
        """Which column holds `index`'s values of a field, as the metadata recorded it."""
        known = by_physical.get(column.physical)
        if known is None:
            known = by_physical[column.physical] = column
            self.alternates[(column.name, column.es_type)] = known
            self._taken.add(column.physical.lower())
        known.is_list = known.is_list or column.is_list
        self.by_index.setdefault(index, {})[column.name] = known

    def load_mapping(self, index: str, mapping: dict[str, FieldMapping]) -> None:
        self.mappings[index] = mapping
        for path in mapping:
            self.know(path)

    def reserve(self, physical: str) -> None:
        """A column name in the table, even one a crash left without metadata."""
        self._taken.add(physical.lower())

    # -- typing -------------------------------------------------------------------------------

    def put_mapping(self, index: str, mapping: Mapping[str, Any]) -> dict[str, FieldMapping]:
        """Merge an explicit mapping into `index`'s, typing its leaf fields at once (ES knows
        a mapped field before any document has it); returns the merged mapping."""
        parsed = {**self.mappings.get(index, {}), **parse_mapping(mapping)}
        self.mappings[index] = parsed
        self._plans.pop(index, None)
        for path, mapped in parsed.items():
            self.know(path)
            if mapped.alias_path is None and duckdb_type(mapped.type) is not None:
                self.type_in(index, path, mapped.type, is_list=False)
        return parsed

    def plan(self, index: str) -> IndexPlan:
        """The index's plan, made the first time it is asked for."""
        plan = self._plans.get(index)
        if plan is not None:
            return plan
        mapping = self.mappings.get(index)
        null_values = {}
        if mapping:
            null_values = {
                path: mapped.null_value
                for path, mapped in mapping.items()
                if mapped.null_value is not None and mapped.alias_path is None
            }
        plan = self._plans[index] = IndexPlan(index, mapping, null_values)
        return plan

    def resolve(self, plan: IndexPlan, name: str, value: Any) -> Target | None:
        """Type a path the first time an index has a value for it, creating its column.

        An index with an explicit mapping is an ES index with that mapping: unmapped fields get
        dynamic mapping. Without one, the packaged ECS schema stands in for the index templates
        of Elastic's data streams. An existing column keeps its type; values are coerced to it.
        """
        mapped = plan.mapping.get(name) if plan.mapping is not None else None
        date_format = None
        is_list = False
        typed = self.by_index.get(plan.index, {}).get(name)
        if typed is not None and mapped is None:
            return self._target(plan, name, typed, None)
        if mapped is not None:
            if mapped.alias_path is not None:
                kind = "an alias" if mapped.type == "alias" else "a multi-field"
                message = f"[{name}] is {kind} of [{mapped.alias_path}]; it cannot hold values"
                return self._refuse(plan, name, message, mapped.type)
            if mapped.type in OBJECT_TYPES:
                message = f"[{name}] is mapped as [{mapped.type}]; it cannot hold a value"
                return self._refuse(plan, name, message, mapped.type)
            es_type, date_format = mapped.type, mapped.format
        else:
            es_type = self.schema.type_of(name) if plan.mapping is None else None
            if es_type is not None and duckdb_type(es_type) is None:
                es_type = None  # the schema says object but the data has a value: go dynamic
            if es_type is not None:
                is_list = self.schema.is_array(name)
            else:
                es_type = dynamic_type(value)
                if es_type is None:
                    return None
        return self._target(plan, name, self.type_in(plan.index, name, es_type, is_list),
                            date_format)

    def _target(self, plan: IndexPlan, name: str, column: Physical,
                date_format: str | None) -> Target:
        if column.es_type not in _DATE_TYPES:
            date_format = None
        target = Target(column, coercer(column.es_type, date_format), column.es_type)
        plan.targets[name] = target
        return target

    def type_in(self, index: str, name: str, es_type: str, is_list: bool) -> Physical:
        """The column holding `index`'s values of `name`, typed `es_type` there: the index's
        own if it typed the field before, else the field's column of that type, made if new."""
        typed = self.by_index.setdefault(index, {})
        column = typed.get(name)
        if column is not None and same_storage(column.es_type, es_type):
            return column
        first = self.first.get(name)
        if first is None:
            column = self.add_column(name, es_type, is_list)
        elif same_storage(first.es_type, es_type):
            column = first
        else:
            column = self.alternates.get((name, es_type))
            if column is None:
                column = self.add_column(name, es_type, is_list, first=False)
        typed[name] = column
        self._unsaved_typing.add((index, name))
        return column

    def _refuse(self, plan: IndexPlan, name: str, message: str, es_type: str) -> Target:
        target = Target(None, _Refusal(message), es_type)
        plan.targets[name] = target
        return target

    def add_column(self, name: str, es_type: str, is_list: bool, *,
                   first: bool = True) -> Physical:
        """A new column for `name`: its first, or (`first` False) one for another type."""
        base_type = DUCKDB_TYPES.get(es_type, "VARCHAR")
        physical = name
        suffix = 1
        while physical.lower() in self._taken:
            suffix += 1
            physical = f"{name}#{suffix}"
        column = Physical(name, physical, es_type, base_type, is_list)
        self._ddl.append(f"ALTER TABLE events ADD COLUMN {quote(physical)} {column.sql_type}")
        self._taken.add(physical.lower())
        if first:
            self.first[name] = column
            self._unsaved.add(name)
        else:
            self.alternates[(name, es_type)] = column
        self.know(name)
        return column

    def make_list(self, column: Physical) -> None:
        """A scalar column that met a list: its stored values become 1-element lists."""
        sql = quote(column.physical)
        column.is_list = True
        self._ddl.append(
            f"ALTER TABLE events ALTER COLUMN {sql} TYPE {column.sql_type} "
            f"USING CASE WHEN {sql} IS NULL THEN NULL ELSE [{sql}] END"
        )
        if self.first.get(column.name) is column:
            self._unsaved.add(column.name)
        else:  # an index's own column: its typing rows carry the column's shape
            self._unsaved_typing.update((index, name) for index, typed in
                                        self.by_index.items()
                                        for name, held in typed.items() if held is column)

    def drop(self, names: list[str]) -> None:
        """Forget the first columns of these fields (the caller drops them from the table)."""
        for name in names:
            column = self.first.pop(name)
            self._taken.discard(column.physical.lower())
            self._unsaved.discard(name)
        if names:
            self._fields = set()
            for name in [*self.first, *(path for mapping in self.mappings.values()
                                        for path in mapping)]:
                self.know(name)

    def physicals(self) -> Iterator[Physical]:
        """Every field column of the events table."""
        yield from self.first.values()
        yield from self.alternates.values()

    def column_count(self) -> int:
        return len(self.first) + len(self.alternates)

    def take_changes(self) -> SchemaChanges:
        """Pending DDL and metadata rows, taken for one write (in order, then cleared)."""
        changes = SchemaChanges(self._ddl)
        self._ddl = []
        ordinals = {name: ordinal for ordinal, name in enumerate(self.first)}
        for name in self._unsaved:
            column = self.first[name]
            changes.columns.append((ordinals[name], name, column.physical, column.es_type,
                                    column.base_type, column.is_list))  # fmt: skip
        for index, name in self._unsaved_typing:
            column = self.by_index[index][name]
            changes.typing.append((index, name, column.physical, column.es_type,
                                   column.base_type, column.is_list))  # fmt: skip
        self._unsaved.clear()
        self._unsaved_typing.clear()
        return changes


def dynamic_type(value: Any) -> str | None:
    """ES dynamic mapping of a JSON value (first non-null element of a list); None if null."""
    if type(value) is list:
        value = next((element for element in value if element is not None), None)
    kind = type(value)
    if kind is str:
        return "keyword"
    if kind is bool:
        return "boolean"
    if kind is int:
        return "long"
    if kind is float:
        return "double"
    return None
