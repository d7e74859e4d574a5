"""Multi-fields Elasticsearch indexes from their parent's values: Elastic Defend's `.caseless`.

Elastic Defend's index templates map `process.name`, `process.executable`,
`process.command_line`, `process.working_directory` and `host.os.name` with a multi-field
`caseless`: keyword, `normalizer: lowercase`, `ignore_above: 1024` (elastic/endpoint-package
`custom_schemas/custom_process.yml`, `custom_host.yml`; the four process ones are in
`/work/shared/ecs/endpoint_process.json.gz`; Kibana's endpoint exceptions filter OS types on
`host.os.name.caseless`). ES indexes such a field from the parent's values, lower-cased one by
one, and `_source` never has it (KQL-SEMANTICS.md §5.2, §5.16). The store keeps no copy: the
field is a derived column, `lower(parent)` (per element of a list), that only the indices
Defend writes (`logs-endpoint.*` data streams) have. An explicit mapping's multi-field with
the `lowercase` normalizer reads the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

# ECS's keyword default, which the endpoint package's caseless multi-fields keep.
_DEFEND_IGNORE_ABOVE = 1024
_DEFEND_PARENTS = ("process.name", "process.executable", "process.command_line",
                   "process.working_directory", "host.os.name")
_DEFEND_INDEX_PREFIXES = ("logs-endpoint.", ".ds-logs-endpoint.")
# The normalizers the store can apply: ES's built-in one (a custom normalizer needs the
# index's analysis settings, which the store does not read).
NORMALIZERS = frozenset({"lowercase"})


@dataclass(frozen=True, slots=True)
class Normalized:
    """How a normalized keyword multi-field reads its parent's values."""

    parent: str
    normalizer: str = "lowercase"
    ignore_above: int | None = None


DEFEND_CASELESS = {f"{parent}.caseless": Normalized(parent, "lowercase", _DEFEND_IGNORE_ABOVE)
                   for parent in _DEFEND_PARENTS}


def defend_index(index: str) -> bool:
    """Whether Elastic Defend's index templates map `index` (its `logs-endpoint.*` streams)."""
    return index.startswith(_DEFEND_INDEX_PREFIXES)


def defend_multi_field(name: str) -> Normalized | None:
    """The Defend `.caseless` multi-field `name` is, if it is one."""
    return DEFEND_CASELESS.get(name)


def stored_field(name: str) -> str:
    """The field whose stored values a read of `name` needs: a Defend multi-field's parent."""
    derived = DEFEND_CASELESS.get(name)
    return derived.parent if derived is not None else name


def normalized_sql(values: str, is_list: bool, normalized: Normalized,
                   index_guard: str | None = None) -> str:
    """DuckDB SQL for the multi-field's values from its parent's `values` (a LIST when
    `is_list`): each value lower-cased, one longer than `ignore_above` not indexed (null),
    and none at all on rows `index_guard` (SQL) is not TRUE for."""
    def one(value: str) -> str:
        lowered = f"lower({value})"
        if normalized.ignore_above is None:
            return lowered
        return f"CASE WHEN length({value}) <= {normalized.ignore_above} THEN {lowered} END"

    if not is_list:
        sql = one(values)
    elif normalized.ignore_above is None:
        sql = f"list_transform({values}, lambda _n: {one('_n')})"
    else:  # a value not indexed is no value: not a null among the others
        sql = (f"list_filter(list_transform({values}, lambda _n: {one('_n')}), "
               "lambda _n: _n IS NOT NULL)")
    if index_guard is not None:
        sql = f"CASE WHEN {index_guard} THEN {sql} END"
    return f"({sql})"
