"""Which fields each index has and how it types them: what `_field_caps` and `_mapping`
answer from the store's typing.

An index has the fields its explicit mapping names (ES knows a mapped field before any
document holds it) and the fields its documents hold a value of (ES's dynamic mapping adds
a field when the first document with it arrives). Types come from the store's per-index
typing (lanner.store.columns), so an index that types a field otherwise than another says
so. Object parents of every field are objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lanner.store import EventStore
from lanner.store.columns import quote
from lanner.store.mappings import OBJECT_TYPES

# ES's aggregatable/searchable by type (field data and doc values: text is neither
# aggregatable nor sortable; objects are neither searchable nor aggregatable).
_NOT_AGGREGATABLE = frozenset({"text", "match_only_text", "object", "nested", "binary"})
_NOT_SEARCHABLE = frozenset({"object", "nested", "binary"})


@dataclass(frozen=True, slots=True)
class IndexField:
    """One field of one index: its ES type, the target of an alias, the parent of a
    multi-field."""

    type: str
    alias_of: str | None = None
    multi_field_of: str | None = None

    @property
    def searchable(self) -> bool:
        return self.type not in _NOT_SEARCHABLE

    @property
    def aggregatable(self) -> bool:
        return self.type not in _NOT_AGGREGATABLE


def index_fields(store: EventStore, indices: Sequence[str]) -> dict[str, dict[str, IndexField]]:
    """Each index's fields by name, object parents included (type `object`)."""
    present = _fields_with_values(store, indices)
    out: dict[str, dict[str, IndexField]] = {}
    for index in indices:
        columns = store.fields_in((index,)).columns()
        mapping = store.mapping(index) or {}
        fields: dict[str, IndexField] = {}
        for name, mapped in mapping.items():
            if mapped.type == "alias":
                fields[name] = IndexField(mapped.type, alias_of=mapped.alias_path)
            elif mapped.alias_path is not None:
                fields[name] = IndexField(mapped.type, multi_field_of=mapped.alias_path)
            else:
                fields[name] = IndexField(mapped.type)
        for name in present.get(index, ()):
            column = columns.get(name)
            if name not in fields and column is not None:
                fields[name] = IndexField(column.es_type)
        for name, column in columns.items():  # multi-fields ES indexes from a parent (Defend)
            if column.normalized is not None and name not in fields \
                    and column.normalized.parent in fields:
                fields[name] = IndexField(column.es_type, multi_field_of=column.normalized.parent)
        for name in list(fields):
            if fields[name].multi_field_of is not None:
                continue
            parts = name.split(".")
            for end in range(1, len(parts)):
                fields.setdefault(".".join(parts[:end]), IndexField("object"))
        out[index] = fields
    return out


def _fields_with_values(store: EventStore, indices: Sequence[str]) -> dict[str, set[str]]:
    """Per index, the fields (by name) some of its documents hold a value of, told from each
    field's column as that index types it: one query over the indices."""
    if not indices:
        return {}
    checks: dict[str, str] = {}  # "index\0field" -> SQL, TRUE when the index has a value
    names: list[tuple[str, str]] = []
    for index in indices:
        for name, column in store.fields_in((index,)).columns().items():
            if column.physical is None or column.es_type in OBJECT_TYPES or column.alias_path:
                continue
            names.append((index, name))
            checks[f"{index}\0{name}"] = (
                f"bool_or({quote(column.physical)} IS NOT NULL) FILTER (WHERE _index = "
                f"{_literal(index)})")
    if not names:
        return {}
    out: dict[str, set[str]] = {}
    listed = ", ".join(_literal(index) for index in indices)
    for start in range(0, len(names), 500):  # bounded statements for wide stores
        chunk = names[start:start + 500]
        row = store.con.execute(
            "SELECT " + ", ".join(checks[f"{index}\0{name}"] for index, name in chunk)
            + f" FROM events WHERE _index IN ({listed})").fetchone()
        for (index, name), has in zip(chunk, row or (), strict=False):
            if has:
                out.setdefault(index, set()).add(name)
    return out


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
