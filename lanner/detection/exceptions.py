"""Rule exceptions as Kibana applies them: exception lists loaded from Kibana's export (or
written in TOML), turned into the Query DSL that Kibana adds to a rule's EQL search `filter`.

What Kibana does, and this module with it (security_solution `create_security_rule_type_wrapper`
and `utils.getExceptions`, lists plugin `build_exception_filter.ts`, `kbn-es-query`):

* The items of the rule's `exceptions_list` are loaded, except those of the Elastic Endpoint
  list (`list_id` "endpoint_list"), which Elastic Defend applies on the host.
* Items whose `expire_time` is before the run's start are dropped.
* Items with a value-list entry (`type: list`) need the list's values: a `keyword`, `ip` or
  `ip_range` list of at most 65,536 values is applied; any other is "unprocessed".
* Each item becomes clauses, all OR-ed under one filter with `negate: true`, so the EQL request
  gets `bool.must_not: [{bool: {should: [<items>]}}]`: an event any item matches is left out,
  for every event of a sequence (an excluded event cannot complete one).
* An item matches when all its entries do (`bool.filter`); `match` is a `match_phrase`,
  `match_any` one `match_phrase` per value, `wildcard` a `wildcard` query, `exists` an
  `exists` query, `nested` a `nested` query over its own entries; operator `excluded` wraps
  the entry in `bool.must_not`. `os_types` add `host.os.type` (or `host.os.name.caseless`)
  equal to each OS, one clause group per OS and field.
* Unprocessed items are named in the warning "The following exceptions won't be applied to
  rule execution: <names>".

On keyword fields (most ECS fields) `match` and `wildcard` compare case-sensitively, as in
Elasticsearch: "CMD.EXE" does not except "cmd.exe". Windows paths in a `wildcard` value need
doubled backslashes (`C:\\\\Windows\\\\*`), since a backslash escapes the next character.

TOML, for rules that live outside Kibana, mirrors Kibana's item JSON (`operator` may be left
out: it defaults to "included"); in a rule file the items apply to that rule, in a file of
their own each names its list (and `[[lists]]` may describe the lists):

    [[exceptions]]
    name = "Backup agent"                       # named in warnings
    list_id = "trusted-tools"                   # only in a file of exceptions
    item_id = "backup-agent"                    # optional
    os_types = ["windows"]                      # optional
    expire_time = 2030-01-01T00:00:00Z          # optional
    entries = [
      { field = "process.name", type = "match", value = "backup.exe" },
      { field = "user.name", type = "match_any", value = ["svc", "SYSTEM"], operator = "excluded" },
      { field = "process.Ext.code_signature", type = "nested", entries = [
          { field = "subject_name", type = "match", value = "Acme Corp" } ] },
    ]
"""

from __future__ import annotations

import datetime
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from lanner.errors import LannerError, Location
from lanner.rules import known
from lanner.rules.model import ExceptionListRef

ENDPOINT_LIST_ID = "endpoint_list"
ENTRY_TYPES = ("match", "match_any", "wildcard", "exists", "list", "nested")
NESTED_ENTRY_TYPES = ("match", "match_any", "exists")
OPERATORS = ("included", "excluded")
OS_TYPES = ("windows", "linux", "macos")
NAMESPACE_TYPES = ("single", "agnostic")
# Kibana's limits for value lists put into the search (kbn-securitysolution-list-constants).
MAXIMUM_SMALL_VALUE_LIST_SIZE = 65_536
MAXIMUM_SMALL_IP_RANGE_VALUE_LIST_DASH_SIZE = 200
PROCESSABLE_LIST_TYPES = ("keyword", "ip", "ip_range")
UNPROCESSED_WARNING = "The following exceptions won't be applied to rule execution: "
RULE_LIST_ID = "rule_default"

_SUMMARY_KEYS = ("exported_count", "exported_exception_list_count", "exported_rules_count")


class ExceptionError(LannerError):
    """An exception item Lanner cannot turn into a filter."""


class ExceptionLoadError(ExceptionError):
    """An exception list, item or file that could not be read, with where it is."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(f"{location}: {message}" if location else message)
        self.message = message
        self.location = location


@dataclass(frozen=True, slots=True)
class ExceptionEntry:
    """One condition of an item, as Kibana stores it. `value` is a string (match, wildcard)
    or a tuple of strings (match_any); a `list` entry names its value list and its type; a
    `nested` entry holds entries on fields below its own."""

    field: str
    type: str
    operator: str = "included"
    value: str | tuple[str, ...] | None = None
    list_id: str | None = None
    list_type: str | None = None
    entries: tuple[ExceptionEntry, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Kibana's JSON for the entry."""
        if self.type == "nested":
            return {"field": self.field, "type": "nested",
                    "entries": [entry.to_dict() for entry in self.entries]}
        out: dict[str, Any] = {"field": self.field, "operator": self.operator, "type": self.type}
        if self.type == "list":
            out["list"] = {"id": self.list_id, "type": self.list_type}
        elif self.type != "exists":
            out["value"] = list(self.value) if isinstance(self.value, tuple) else self.value
        return out


@dataclass(frozen=True, slots=True)
class ExceptionItem:
    """An exception: when every entry matches an event, the rule ignores the event."""

    name: str
    list_id: str
    entries: tuple[ExceptionEntry, ...]
    item_id: str = ""
    namespace_type: str = "single"
    os_types: tuple[str, ...] = ()
    expire_time: datetime.datetime | None = None
    id: str | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    location: Location | None = field(default=None, compare=False)

    @property
    def uses_value_list(self) -> bool:
        return any(entry.type == "list" for entry in self.entries)

    def expired(self, now: datetime.datetime) -> bool:
        """Kibana drops an item whose expire_time is strictly before the run's start."""
        return self.expire_time is not None and self.expire_time < _aware(now)


@dataclass(frozen=True, slots=True)
class ExceptionList:
    """A list container (the items refer to it by `list_id` and `namespace_type`)."""

    list_id: str
    namespace_type: str = "single"
    type: str = "detection"
    name: str = ""
    id: str | None = None
    description: str = ""
    location: Location | None = field(default=None, compare=False)


RuleListRef = ExceptionListRef | Mapping[str, Any]


@dataclass(slots=True)
class ExceptionLists:
    """Lists and items from exports and TOML files; `problems` holds every line or item that
    could not be read (nothing is dropped silently), `skipped` counts the other objects of an
    export (rules, connectors, summary lines) that were passed over."""

    lists: dict[tuple[str, str], ExceptionList] = field(default_factory=dict)
    items: list[ExceptionItem] = field(default_factory=list)
    problems: list[ExceptionLoadError] = field(default_factory=list)
    skipped: int = 0
    _read_at: dict[tuple[str, str, str], Location | None] = field(
        default_factory=dict, repr=False)

    def items_for(self, refs: Iterable[RuleListRef]) -> list[ExceptionItem]:
        """The items a rule's `exceptions_list` brings in, as Kibana's getExceptions finds
        them: by list_id and namespace, the Endpoint list left out."""
        items = []
        for list_id, namespace in _rule_lists(refs):
            items.extend(item for item in self.items
                         if item.list_id == list_id and item.namespace_type == namespace)
        return items

    def unknown_lists(self, refs: Iterable[RuleListRef]) -> list[str]:
        """list_ids a rule refers to of which nothing was loaded (Kibana finds no items)."""
        known = set(self.lists) | {(item.list_id, item.namespace_type) for item in self.items}
        return [list_id for list_id, namespace in _rule_lists(refs)
                if (list_id, namespace) not in known]

    def add_item(self, item: ExceptionItem) -> None:
        """Keep an item unless its list already has one with the same item_id."""
        key = (item.list_id, item.namespace_type, item.item_id)
        if key in self._read_at:
            self.problems.append(ExceptionLoadError(
                f"item_id {item.item_id!r} of list {item.list_id!r} was already read at "
                f"{self._read_at[key]}; this one is left out", item.location))
            return
        self._read_at[key] = item.location
        self.items.append(item)


@dataclass(frozen=True, slots=True)
class ExceptionFilter:
    """What a rule's exceptions add to its EQL search.

    `query` goes into the request `filter` (None: no exception applies); `kibana_filter` is
    the Filter object Kibana's buildExceptionFilter returns, from which `query` is built.
    `unprocessed` items are not applied, and `warnings` says so in Kibana's words; `expired`
    items were dropped because their expire_time had passed.
    """

    query: dict[str, Any] | None
    kibana_filter: dict[str, Any] | None
    unprocessed: list[ExceptionItem]
    warnings: list[str]
    expired: list[ExceptionItem] = field(default_factory=list)


# -- building the filter ------------------------------------------------------------------


def exception_filter(items: Iterable[ExceptionItem], now: datetime.datetime, *,
                     value_lists: Mapping[str, Sequence[str]] | None = None) -> ExceptionFilter:
    """The exception filter of one rule run started at `now`, as Kibana builds it.

    `value_lists` maps a value list's id to its values (Kibana keeps them in its `.lists`
    index; `load_value_list` reads an exported one); an item using a list not given there is
    unprocessed, as in Kibana when the list is missing.
    """
    lists = value_lists or {}
    active: list[ExceptionItem] = []
    expired: list[ExceptionItem] = []
    for item in items:
        (expired if item.expired(now) else active).append(item)
    plain = [item for item in active if not item.uses_value_list]
    with_lists = [item for item in active if item.uses_value_list]
    usable = [item for item in with_lists if _value_lists_usable(item, lists)]
    unprocessed = [item for item in with_lists if not _value_lists_usable(item, lists)]
    if not plain and not usable:
        return ExceptionFilter(None, None, unprocessed, _warnings(unprocessed), expired)
    clauses: list[dict[str, Any]] = []
    for item in [*plain, *usable]:
        built = item_clauses(item, lists)
        if built is None:
            unprocessed.append(item)
        else:
            clauses.extend(built)
    kibana_filter = {"meta": {"alias": None, "disabled": False, "negate": True},
                     "query": {"bool": {"should": clauses}}}
    # kbn-es-query's buildEsQuery puts a negated filter's query under must_not
    query = {"bool": {"must": [], "filter": [], "should": [],
                      "must_not": [kibana_filter["query"]]}}
    return ExceptionFilter(query, kibana_filter, unprocessed, _warnings(unprocessed), expired)


def item_clauses(item: ExceptionItem,
                 value_lists: Mapping[str, Sequence[str]] | None = None,
                 ) -> list[dict[str, Any]] | None:
    """The OR-ed clauses of one item (one per OS and OS field when it has os_types); None
    when an entry cannot be built (a value list with too many `a-b` ip ranges)."""
    lists = value_lists or {}
    if item.os_types:
        groups = [[_os_entry(os_field, os_type), *item.entries]
                  for os_field in ("host.os.type", "host.os.name.caseless")
                  for os_type in item.os_types]
        built_groups = []
        for group in groups:
            built = _entry_clauses(group, lists)
            if built is None:
                return None
            built_groups.append({"bool": {"filter": built}})
        return built_groups
    built = _entry_clauses(item.entries, lists)
    if built is None:
        return None
    return built if len(built) == 1 else [{"bool": {"filter": built}}]


def _entry_clauses(entries: Iterable[ExceptionEntry], lists: Mapping[str, Sequence[str]],
                   parent: str | None = None) -> list[dict[str, Any]] | None:
    """Every entry's clause, or None when one cannot be built."""
    built = []
    for entry in entries:
        clause = entry_clause(entry, lists, parent)
        if clause is None:
            return None
        built.append(clause)
    return built


def entry_clause(entry: ExceptionEntry, value_lists: Mapping[str, Sequence[str]] | None = None,
                 parent: str | None = None) -> dict[str, Any] | None:
    """The Query DSL of one entry (a nested entry's own entries name fields below it)."""
    name = f"{parent}.{entry.field}" if parent is not None else entry.field
    if entry.type == "nested":
        inner = _entry_clauses(entry.entries, value_lists or {}, entry.field)
        if inner is None:
            return None
        query = inner[0] if len(inner) == 1 else {"bool": {"filter": inner}}
        return {"nested": {"path": name, "query": query, "score_mode": "none"}}
    if entry.type == "list":
        return _list_clause(entry, name, (value_lists or {}).get(entry.list_id or "", ()))
    clause: dict[str, Any]
    if entry.type == "exists":
        clause = _one_should({"exists": {"field": name}})
    elif entry.type == "match":
        clause = _one_should({"match_phrase": {name: entry.value}})
    elif entry.type == "match_any":
        values = list(entry.value or ())
        if len(values) == 1:
            clause = _one_should({"match_phrase": {name: values[0]}})
        else:
            clause = {"bool": {"minimum_should_match": 1, "should": [
                _one_should({"match_phrase": {name: value}}) for value in values]}}
    elif entry.type == "wildcard":
        clause = {"bool": {"filter": {"wildcard": {name: entry.value}}}}
    else:
        raise ExceptionError(f"unknown exception entry type {entry.type!r}")
    return {"bool": {"must_not": clause}} if entry.operator == "excluded" else clause


def _one_should(query: dict[str, Any]) -> dict[str, Any]:
    return {"bool": {"minimum_should_match": 1, "should": [query]}}


def _list_clause(entry: ExceptionEntry, name: str,
                 values: Sequence[str]) -> dict[str, Any] | None:
    excluded = entry.operator == "excluded"
    if entry.list_type == "ip_range":
        dashed = [value for value in values if "-" in value]
        if len(dashed) > MAXIMUM_SMALL_IP_RANGE_VALUE_LIST_DASH_SIZE:
            return None
        clauses: list[dict[str, Any]] = []
        for value in dashed:
            low, high = value.split("-")[:2]  # "a-b" (JS destructuring takes two)
            clauses.append({"range": {name: {"gte": low, "lte": high}}})
        blocks = [value for value in values if "-" not in value]
        if blocks:
            clauses.append({"terms": {name: blocks}})
        return {"bool": {"must_not" if excluded else "should": clauses,
                         "minimum_should_match": 1}}
    return {"bool": {"must_not" if excluded else "filter": {"terms": {name: list(values)}}}}


def _value_lists_usable(item: ExceptionItem, lists: Mapping[str, Sequence[str]]) -> bool:
    """Kibana's filterOutUnprocessableValueLists: every list entry of a processable type,
    its list found and small enough."""
    for entry in item.entries:
        if entry.type != "list":
            continue
        if entry.list_type not in PROCESSABLE_LIST_TYPES:
            return False
        values = lists.get(entry.list_id or "")
        if values is None or len(values) > MAXIMUM_SMALL_VALUE_LIST_SIZE:
            return False
    return True


def _os_entry(name: str, os_type: str) -> ExceptionEntry:
    return ExceptionEntry(name, "match", "included", os_type)


def _warnings(unprocessed: list[ExceptionItem]) -> list[str]:
    if not unprocessed:
        return []
    return [UNPROCESSED_WARNING + ", ".join(item.name for item in unprocessed)]


def _rule_lists(refs: Iterable[RuleListRef]) -> Iterator[tuple[str, str]]:
    for ref in refs:
        if isinstance(ref, Mapping):
            list_id, namespace = ref.get("list_id"), ref.get("namespace_type", "single")
        else:
            list_id, namespace = ref.list_id, ref.namespace_type
        if list_id != ENDPOINT_LIST_ID:
            yield str(list_id), str(namespace)


# -- loading ------------------------------------------------------------------------------

# A line that may declare the top-level `exceptions` key, in any TOML spelling: `[[exceptions]]`,
# `[exceptions]`, `exceptions = …`, `exceptions.x = …`, quoted or not. A file without one has
# no rule exceptions (a match inside a string only costs the parse it would have cost anyway).
_DECLARES_EXCEPTIONS = re.compile(
    r"""^[ \t]*(?:\[\[?[ \t]*)?(?:exceptions|"exceptions"|'exceptions')[ \t]*[\].=]""",
    re.MULTILINE)


def load_exception_lists(paths: Iterable[str | Path]) -> ExceptionLists:
    """Lists and items from Kibana exports (`.ndjson`: exception list exports, and rule
    exports with their lists) and TOML files of `[[exceptions]]`; folders are searched for
    both (TOML files holding a `[rule]` are rules, and passed over)."""
    loaded = ExceptionLists()
    for path in _files(paths, loaded):
        if path.suffix == ".toml":
            _read_toml_file(path, loaded)
        else:
            _read_export(path, loaded)
    return loaded


def load_rule_exceptions(path: str | Path) -> list[ExceptionItem]:
    """The `[[exceptions]]` written in a rule's TOML file (they apply to that rule only);
    raises ExceptionLoadError naming the file and line of the first bad item. A file the
    rules loader read and found without an `exceptions` key is not read again."""
    if known.has_own_exceptions(str(path)) is False:
        return []
    path = Path(path)
    text = _read_text(path)
    if not _DECLARES_EXCEPTIONS.search(text):  # most rules have none: skip parsing the file
        return []
    document, text = _toml_document(path, text)
    found = ExceptionLists()
    _read_toml_items(document, text, str(path), found, default_list_id=RULE_LIST_ID)
    if found.problems:
        raise found.problems[0]
    return found.items


def load_value_list(path: str | Path) -> list[str]:
    """The values of a value list exported from Kibana: one value per line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ExceptionLoadError(f"cannot read the value list: {error}",
                                 Location(str(path))) from error
    return [line.strip() for line in text.splitlines() if line.strip()]


def item_from_mapping(data: Mapping[str, Any], location: Location | None = None, *,
                      default_list_id: str | None = None) -> ExceptionItem:
    """An item from Kibana's item JSON (or the same keys in TOML); raises ExceptionLoadError
    naming the key at fault."""
    reader = _ItemReader(location)
    if not isinstance(data, Mapping):
        raise reader.fail("an exception item must be an object")
    list_id = data.get("list_id", default_list_id)
    if not isinstance(list_id, str) or not list_id:
        raise reader.fail("`list_id` must name the item's exception list")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise reader.fail("`name` must be a non-empty string")
    if data.get("type", "simple") != "simple":
        raise reader.fail(f"item `type` must be \"simple\", found {data.get('type')!r}")
    raw_entries = data.get("entries")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise reader.fail("`entries` must be a non-empty list")
    entries = tuple(reader.entry(entry, f"entries[{n}]") for n, entry in enumerate(raw_entries))
    os_types = reader.strings(data.get("os_types", []), "os_types")
    for os_type in os_types:
        if os_type not in OS_TYPES:
            raise reader.fail(f"os_types: {os_type!r} is not one of {', '.join(OS_TYPES)}")
    namespace = data.get("namespace_type", "single")
    if namespace not in NAMESPACE_TYPES:
        raise reader.fail(f"namespace_type must be single or agnostic, found {namespace!r}")
    item_id = data.get("item_id") or data.get("id") or ""
    return ExceptionItem(
        name=name, list_id=list_id, entries=entries, item_id=str(item_id),
        namespace_type=namespace, os_types=os_types,
        expire_time=reader.time(data.get("expire_time")), id=_optional_text(data.get("id")),
        description=str(data.get("description") or ""),
        tags=reader.strings(data.get("tags", []), "tags"), location=location)


def list_from_mapping(data: Mapping[str, Any], location: Location | None = None,
                      ) -> ExceptionList:
    """A list container from Kibana's list JSON (or a TOML `[[lists]]` table)."""
    reader = _ItemReader(location)
    if not isinstance(data, Mapping):
        raise reader.fail("an exception list must be an object")
    list_id = data.get("list_id")
    if not isinstance(list_id, str) or not list_id:
        raise reader.fail("`list_id` must be a non-empty string")
    namespace = data.get("namespace_type", "single")
    if namespace not in NAMESPACE_TYPES:
        raise reader.fail(f"namespace_type must be single or agnostic, found {namespace!r}")
    return ExceptionList(list_id=list_id, namespace_type=namespace,
                         type=str(data.get("type", "detection")), name=str(data.get("name", "")),
                         id=_optional_text(data.get("id")),
                         description=str(data.get("description") or ""), location=location)


class _ItemReader:
    """Checks the values of one item, failing with its location and the key at fault."""

    def __init__(self, location: Location | None) -> None:
        self.location = location

    def fail(self, message: str) -> ExceptionLoadError:
        return ExceptionLoadError(message, self.location)

    def entry(self, data: object, where: str, *, nested: bool = False) -> ExceptionEntry:
        if not isinstance(data, Mapping):
            raise self.fail(f"{where} must be an object, found {data!r}")
        kind = data.get("type")
        allowed = NESTED_ENTRY_TYPES if nested else ENTRY_TYPES
        if kind not in allowed:
            raise self.fail(f"{where}.type must be one of {', '.join(allowed)}, found {kind!r}")
        name = data.get("field")
        if not isinstance(name, str) or not name.strip():
            raise self.fail(f"{where}.field must be a non-empty string")
        if kind == "nested":
            inner = data.get("entries")
            if not isinstance(inner, list) or not inner:
                raise self.fail(f"{where}.entries must be a non-empty list")
            return ExceptionEntry(name, "nested", entries=tuple(
                self.entry(sub, f"{where}.entries[{n}]", nested=True)
                for n, sub in enumerate(inner)))
        operator = data.get("operator", "included")
        if operator not in OPERATORS:
            raise self.fail(f"{where}.operator must be included or excluded, found {operator!r}")
        if kind == "exists":
            return ExceptionEntry(name, kind, operator)
        if kind == "list":
            value_list = data.get("list")
            list_id = value_list.get("id") if isinstance(value_list, Mapping) else None
            list_type = value_list.get("type") if isinstance(value_list, Mapping) else None
            if not isinstance(list_id, str) or not isinstance(list_type, str):
                raise self.fail(f"{where}.list must be {{id, type}}, found {value_list!r}")
            return ExceptionEntry(name, kind, operator, list_id=list_id, list_type=list_type)
        value = data.get("value")
        if kind == "match_any":
            values = value if isinstance(value, list) else None
            if not values:
                raise self.fail(f"{where}.value must be a non-empty list of values")
            return ExceptionEntry(name, kind, operator,
                                  tuple(self.text(v, f"{where}.value") for v in values))
        return ExceptionEntry(name, kind, operator, self.text(value, f"{where}.value"))

    def text(self, value: object, where: str) -> str:
        """A value as Kibana holds it: a non-empty string (TOML numbers and booleans are
        taken as their JSON spelling)."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if not isinstance(value, str) or not value:
            raise self.fail(f"{where} must be a non-empty string, found {value!r}")
        return value

    def strings(self, value: object, where: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{where} must be a list of strings, found {value!r}")
        return tuple(value)

    def time(self, value: object) -> datetime.datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime.datetime):
            return _aware(value)
        if isinstance(value, datetime.date):
            return datetime.datetime.combine(value, datetime.time(), datetime.UTC)
        if isinstance(value, str):
            try:
                return _aware(datetime.datetime.fromisoformat(value))
            except ValueError:
                pass
        raise self.fail(f"expire_time must be an ISO date and time, found {value!r}")


def _files(paths: Iterable[str | Path], loaded: ExceptionLists) -> Iterator[Path]:
    for path in map(Path, paths):
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*")
                              if p.suffix in (".ndjson", ".toml") and p.is_file())
        elif path.is_file():
            yield path
        else:
            loaded.problems.append(ExceptionLoadError("no such file or folder",
                                                      Location(str(path))))


def _read_export(path: Path, loaded: ExceptionLists) -> None:
    """One Kibana export: list and item objects, one per line, and a summary line."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError as error:
        loaded.problems.append(ExceptionLoadError(f"cannot read the file: {error}",
                                                  Location(str(path))))
        return
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        here = Location(str(path), number)
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            loaded.problems.append(ExceptionLoadError(f"not a JSON object: {error}", here))
            continue
        if not isinstance(data, dict):
            loaded.problems.append(ExceptionLoadError("not a JSON object", here))
            continue
        try:
            if "entries" in data or "item_id" in data:
                loaded.add_item(item_from_mapping(data, here))
            elif "list_id" in data and "rule_id" not in data:
                container = list_from_mapping(data, here)
                loaded.lists[(container.list_id, container.namespace_type)] = container
            elif "rule_id" in data or data.get("type") == "action" or any(
                    key in data for key in _SUMMARY_KEYS):
                loaded.skipped += 1
            else:
                loaded.problems.append(ExceptionLoadError(
                    "not an exception list, an exception item, a rule or an export summary",
                    here))
        except ExceptionLoadError as error:
            loaded.problems.append(error)


def _read_toml_file(path: Path, loaded: ExceptionLists) -> None:
    try:
        document, text = _toml_document(path)
    except ExceptionLoadError as error:
        loaded.problems.append(error)
        return
    if "rule" in document:
        loaded.skipped += 1
        return
    containers = document.get("lists", [])
    lines = _header_lines(text, "lists")
    for position, data in enumerate(containers if isinstance(containers, list) else [containers]):
        line = lines[position] if position < len(lines) else _key_line(text, "lists")
        try:
            container = list_from_mapping(data, Location(str(path), line))
        except ExceptionLoadError as error:
            loaded.problems.append(error)
            continue
        loaded.lists[(container.list_id, container.namespace_type)] = container
    _read_toml_items(document, text, str(path), loaded, default_list_id=None)


def _read_toml_items(document: Mapping[str, Any], text: str, path: str, loaded: ExceptionLists,
                     *, default_list_id: str | None) -> None:
    items = document.get("exceptions", [])
    if not isinstance(items, list):
        loaded.problems.append(ExceptionLoadError("`exceptions` must be an array of tables",
                                                  Location(path, _key_line(text, "exceptions"))))
        return
    lines = _header_lines(text, "exceptions")
    for position, data in enumerate(items):
        line = lines[position] if position < len(lines) else _key_line(text, "exceptions")
        here = Location(path, line)
        try:
            item = item_from_mapping(data, here, default_list_id=default_list_id)
        except ExceptionLoadError as error:
            loaded.problems.append(error)
            continue
        if not item.item_id:
            item = replace(item, item_id=f"{item.list_id}-{position + 1}")
        loaded.add_item(item)


def _toml_document(path: Path, text: str | None = None) -> tuple[dict[str, Any], str]:
    """The parsed file and its text (for the lines of its tables)."""
    if text is None:
        text = _read_text(path)
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"line (\d+)", str(error))
        line = int(match.group(1)) if match else text.count("\n") + 1  # at end of document
        raise ExceptionLoadError(f"invalid TOML: {error}", Location(str(path), line)) from error


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ExceptionLoadError(f"cannot read the file: {error}", Location(str(path))) from error


def _header_lines(text: str, table: str) -> list[int]:
    """Line numbers of each `[[table]]` header, in order (where each item starts)."""
    header = re.compile(rf"^[ \t]*\[\[[ \t]*{re.escape(table)}[ \t]*\]\]", re.MULTILINE)
    return [text.count("\n", 0, match.start()) + 1 for match in header.finditer(text)]


def _key_line(text: str, key: str) -> int:
    match = re.search(rf"^[ \t]*{re.escape(key)}[ \t]*=", text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def _aware(moment: datetime.datetime) -> datetime.datetime:
    """A time with a zone; a naive one is taken as UTC, as Kibana's ISO strings are."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)


def _optional_text(value: object) -> str | None:
    return None if value is None else str(value)
