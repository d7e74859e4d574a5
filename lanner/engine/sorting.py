"""The `sort` and `search_after` of a `_search`, as SQL over the events (DuckDB's dialect).

Elasticsearch's rules, kept here (the search reference's "Sort search results" and
"Paginate search results"; `FieldSortBuilder`, `SearchAfterBuilder` in its source):

* a field sorts ascending by default, `_score` descending; `"field:desc"` is the URL form;
* a multi-valued field sorts by its smallest value ascending and its largest descending
  (`mode` min/max picks either);
* missing values sort last unless `missing` says `_first` or gives a value to use instead;
* a field no searched index maps is an error unless `unmapped_type` is given (then every
  document misses it); a `text` field cannot be sorted on (no field data);
* each hit's `sort` array holds the sort values as ES writes them: dates as epoch
  milliseconds (`date_nanos` as nanoseconds), booleans 0/1, and a number field's missing
  value as Long.MAX_VALUE/MIN_VALUE (the side it sorts on); a missing keyword is null;
* `search_after` takes exactly the sort values of the last hit and resumes after it.

Lanner computes no relevance score: every hit of a query scores alike, so `_score` orders
nothing and reads 1.0. Every search ends its order with the document number, which makes
the order total; with a point in time that number is the `_shard_doc` tiebreaker ES adds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lanner.engine.backends.sql import SqlCompiler, sql_literal
from lanner.eql import ast
from lanner.errors import LannerError

LONG_MAX = 2**63 - 1
LONG_MIN = -(2**63)
DOC = "_doc"
_NUMBER_TYPES = frozenset({"long", "integer", "short", "byte", "unsigned_long", "double",
                           "float", "half_float", "scaled_float", "date", "date_nanos",
                           "boolean"})
_TEXT_TYPES = frozenset({"text", "match_only_text"})
_DOC_FIELDS = frozenset({"_doc", "_shard_doc"})


class SearchRequestError(LannerError):
    """A search Elasticsearch refuses: `kind` is its exception type (`parsing_exception`,
    `illegal_argument_exception`...); `shard_failure` when ES reports it as a failure of the
    query phase (search_phase_execution_exception)."""

    def __init__(self, message: str, kind: str = "illegal_argument_exception", *,
                 shard_failure: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.shard_failure = shard_failure


@dataclass(frozen=True, slots=True)
class SortKey:
    """One key of the order: `sql` the per-document value (NULL only when a keyword is
    missing), `descending`, and where NULLs go."""

    field: str
    sql: str
    descending: bool
    nulls_first: bool
    numeric: bool

    def order_sql(self) -> str:
        return (f"{self.sql} {'DESC' if self.descending else 'ASC'} "
                f"NULLS {'FIRST' if self.nulls_first else 'LAST'}")


def fielddata_refused(name: str) -> SearchRequestError:
    """ES's refusal to sort or aggregate on a text field (TextFieldMapper)."""
    return SearchRequestError(
        f"Fielddata is disabled on [{name}]. Text fields are not optimised for operations "
        "that require per-document field data like aggregations and sorting, so these "
        "operations are disabled by default. Please use a keyword field instead.",
        shard_failure=True)


def value_sql(sql: str, es_type: str) -> str:
    """One stored value as ES's sort values and bucket keys give it: dates as epoch millis
    (date_nanos as nanos), booleans as 0/1, the rest as stored."""
    if es_type == "date":
        return f"CAST(epoch_ns(date_trunc('millisecond', {sql})) // 1000000 AS BIGINT)"
    if es_type == "date_nanos":
        return f"epoch_ns({sql})"
    if es_type == "boolean":
        return f"CAST({sql} AS INTEGER)"
    return sql


def sort_keys(sort: Any, compiler: SqlCompiler) -> list[SortKey]:
    """The keys of a request's `sort` (None: none), checked as ES checks them."""
    if sort is None:
        return []
    items = sort if isinstance(sort, list) else [sort]
    return [_key(item, compiler) for item in items]


def _key(item: Any, compiler: SqlCompiler) -> SortKey:
    options: Mapping[str, Any] = {}
    if isinstance(item, str):
        name, _, order = item.partition(":")
    elif isinstance(item, Mapping) and len(item) == 1:
        ((name, how),) = item.items()
        if isinstance(how, Mapping):
            options = how
            order = how.get("order", "")
        elif isinstance(how, str):
            order = how
        else:
            raise SearchRequestError(f"malformed sort for [{name}]: {how!r}", "parsing_exception")
    else:
        raise SearchRequestError(f"malformed sort: {item!r}", "parsing_exception")
    order = str(order or ("desc" if name == "_score" else "asc")).lower()
    if order not in ("asc", "desc"):
        raise SearchRequestError(f"Unknown SortOrder [{order}]", "illegal_argument_exception")
    descending = order == "desc"
    if name == "_score":
        return SortKey(name, "1.0", descending, False, True)
    if name in _DOC_FIELDS:
        return SortKey(name, DOC, descending, False, True)
    if name == "_index":
        return SortKey(name, "_index", descending, False, False)
    return _field_key(name, descending, options, compiler)


def _field_key(name: str, descending: bool, options: Mapping[str, Any],
               compiler: SqlCompiler) -> SortKey:
    for option in options:
        if option not in ("order", "missing", "unmapped_type", "mode", "format", "numeric_type"):
            raise SearchRequestError(f"[field_sort] unknown field [{option}]", "parsing_exception")
    resolved = compiler.resolve(ast.Field(name, optional=True))
    es_type = resolved.es_type
    if es_type is None or es_type == "object":
        unmapped = options.get("unmapped_type")
        if not unmapped:
            raise SearchRequestError(f"No mapping found for [{name}] in order to sort on",
                                     "query_shard_exception", shard_failure=True)
        es_type, sql, is_list = str(unmapped), "NULL", False
    else:
        sql, is_list = resolved.sql, resolved.is_list
    if es_type in _TEXT_TYPES:
        raise fielddata_refused(name)
    mode = options.get("mode", "max" if descending else "min")
    if mode not in ("min", "max"):
        raise SearchRequestError(f"sort mode [{mode}] is not supported by Lanner: min or max",
                                 "illegal_argument_exception")
    value = value_sql(f"list_{mode}({sql})" if is_list else sql, es_type)
    numeric = es_type in _NUMBER_TYPES
    missing = options.get("missing", "_last")
    first = missing == "_first"
    if missing not in ("_first", "_last"):
        if numeric and isinstance(missing, str):
            try:
                missing = float(missing) if "." in missing else int(missing)
            except ValueError:
                raise SearchRequestError(f"failed to parse [missing] value [{missing}] of "
                                         f"[{name}] as a number") from None
        if isinstance(missing, (list, dict)) or (numeric and isinstance(missing, bool)):
            raise SearchRequestError(f"[missing] of [{name}] must be _first, _last or a "
                                     f"value, not {missing!r}", "parsing_exception")
        return SortKey(name, f"coalesce({value}, {sql_literal(missing)})", descending, False,
                       numeric)
    if numeric:  # ES puts a number's missing value at the end it sorts to, and says which
        end = LONG_MAX if descending == first else LONG_MIN
        return SortKey(name, f"coalesce({value}, {end})", descending, False, True)
    return SortKey(name, value, descending, first, False)


def order_by(keys: Sequence[SortKey]) -> str:
    """ORDER BY of the keys, the document number last (the order is total)."""
    parts = [key.order_sql() for key in keys]
    if not any(key.sql == DOC for key in keys):
        parts.append(f"{DOC} ASC")
    return ", ".join(parts)


def after_condition(keys: Sequence[SortKey], values: Any, *, tiebreaker: bool) -> str:
    """SQL that is TRUE for documents after the hit whose sort values are `values`;
    `tiebreaker`: the values end with the document number (a point in time's _shard_doc)."""
    expected = len(keys) + (1 if tiebreaker else 0)
    if not isinstance(values, list) or len(values) != expected:
        count = len(values) if isinstance(values, list) else 1
        raise SearchRequestError(f"search_after has {count} value(s) but sort has "
                                 f"{expected}.", "illegal_argument_exception")
    pairs = list(zip(keys, values[:len(keys)], strict=True))
    if tiebreaker:
        pairs.append((SortKey(DOC, DOC, False, False, True), values[-1]))
    condition = "FALSE"
    for key, value in reversed(pairs):
        after, equal = _after(key, value)
        condition = f"({after} OR ({equal} AND {condition}))"
    return condition


def _after(key: SortKey, value: Any) -> tuple[str, str]:
    """(after `value`, equal to it) for one key."""
    if isinstance(value, (list, dict)):
        raise SearchRequestError(f"search_after value of [{key.field}] must be a single value",
                                 "illegal_argument_exception")
    if value is None:
        if key.numeric:  # a double's missing value is infinity, which JSON writes as null
            value = LONG_MAX if key.descending else LONG_MIN
        else:
            after = f"{key.sql} IS NOT NULL" if key.nulls_first else "FALSE"
            return after, f"{key.sql} IS NULL"
    if key.numeric and (isinstance(value, bool) or not isinstance(value, (int, float))):
        try:
            value = float(value) if "." in str(value) else int(value)
        except ValueError:
            raise SearchRequestError(f"Failed to parse search_after value for field "
                                     f"[{key.field}].", "illegal_argument_exception") from None
    literal = sql_literal(value)
    beyond = f"{key.sql} {'<' if key.descending else '>'} {literal}"
    if not key.numeric and not key.nulls_first:
        beyond = f"({beyond} OR {key.sql} IS NULL)"
    return f"coalesce({beyond}, FALSE)", f"coalesce({key.sql} = {literal}, FALSE)"
