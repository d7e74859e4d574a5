"""KQL to Query DSL, as Kibana's `toElasticsearchQuery` builds it for the detection engine.

The DSL is what Elasticsearch would be sent, so the engine runs it through its one Query DSL
compiler (`lanner.engine.querydsl`) with Elasticsearch's per-type semantics: no second engine.
The shape follows `@kbn/es-query` (KQL-SEMANTICS.md §3): `and` -> `bool.filter`, `or` ->
`bool.should` with `minimum_should_match: 1`, `not` -> `bool.must_not`, and each `field:value`
leaf a `bool.should` over the fields its name matches, one query per field chosen by the
field's mapping types (§3.2, `kuery/functions/is.ts`):

    wildcard value, keyword-only field   -> wildcard {value: escaped pattern}
    wildcard value, any other field      -> query_string {fields: [f], query: escaped pattern}
    date field                           -> range {gte: v, lte: v, time_zone: Zulu}
    keyword-only field                   -> term {value: v}
    anything else                        -> match (unquoted) / match_phrase (quoted)

`field_types` stands for the data view Kibana loads through field_caps: field name -> mapping
type. A field mapped differently across the searched indices may be given as its types
joined by commas (`"keyword,wildcard"`), as field_caps lists `esTypes`; it is then not
"keyword only". A `nested` type on an object marks the fields below it as nested; a nested
group over a path typed `object` (or not typed) is accepted, because Lanner's store types
nested and plain objects alike as `object`. Without `field_types` (None) every field is
unknown, as in Kibana without a data view.

The detection engine's fixed options (KQL-SEMANTICS.md §1.3) are applied: no
`case_insensitive`, `dateFormatTZ: 'Zulu'`, no `ignore_unmapped` on nested queries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lanner.kql import ast
from lanner.kql.errors import KqlCompileError
from lanner.kql.parser import Parser

__all__ = ["lucene_to_query_dsl", "to_query_dsl"]

# Kibana's `escapeQueryString` (node_types/wildcard.ts): the query_string reserved characters.
_RESERVED = re.compile(r'[+\-=&|><!(){}\[\]^"~*?:\\/]')
_TIME_ZONE = "Zulu"  # the detection engine's dateFormatTZ
_DATE_TYPES = frozenset({"date", "date_nanos"})
_EPOCH = re.compile(r"\d+")


def to_query_dsl(query: str | ast.Query,
                 field_types: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The Query DSL Kibana's detection engine sends for a KQL query (text or parsed tree).

    Raises KqlSyntaxError for text that does not parse and KqlCompileError (with line and
    column) for a query Kibana refuses to translate, such as a nested field outside its group.
    """
    text = query if isinstance(query, str) else None
    tree = Parser(query).parse_query() if isinstance(query, str) else query
    return _Translator(field_types, text).query(tree, None)


def lucene_to_query_dsl(query: str) -> dict[str, Any]:
    """The DSL of a `language = "lucene"` query (KQL-SEMANTICS.md §7, `from_lucene.ts`,
    `decorate_query.ts`): a `query_string` with the detection engine's options, or
    `match_all` for a blank query. Lanner's Query DSL compiler runs only the subset of
    query_string syntax KQL emits, so it refuses most Lucene queries with a typed error."""
    if not query.strip():
        return {"match_all": {}}
    return {"query_string": {"query": query, "analyze_wildcard": True, "time_zone": _TIME_ZONE}}


def escape_query_string(text: str) -> str:
    """Kibana's `escapeQueryString`: a backslash before each query_string reserved character
    (whitespace is not escaped)."""
    return _RESERVED.sub(lambda found: "\\" + found.group(), text)


def query_string_pattern(value: ast.Wildcard) -> str:
    """Kibana's `toQueryStringQuery`: the literal parts escaped, joined by `*`."""
    return "*".join(escape_query_string(segment) for segment in value.segments)


class _Field:
    """A field as Kibana's data view knows it: its name and the ES types of its indices."""

    __slots__ = ("es_types", "name", "nested_path")

    def __init__(self, name: str, es_types: tuple[str, ...], nested_path: str | None) -> None:
        self.name = name
        self.es_types = es_types
        self.nested_path = nested_path

    @property
    def keyword_only(self) -> bool:
        """Kibana's `isKeywordField`: esTypes is exactly ['keyword']."""
        return self.es_types == ("keyword",)

    @property
    def is_date(self) -> bool:
        """Kibana's `field.type === 'date'`: every index maps it as date or date_nanos."""
        return bool(self.es_types) and all(t in _DATE_TYPES for t in self.es_types)


class _Translator:
    def __init__(self, field_types: Mapping[str, str] | None, text: str | None) -> None:
        self.text = text
        self.fields = field_types

    def types(self, name: str) -> tuple[str, ...] | None:
        """The ES types of a known field (several when indices disagree), None if unknown;
        looked up one by one, so a mapping may compute them lazily."""
        if self.fields is None:
            return None
        found = self.fields.get(name)
        if found is None:
            return None
        return tuple(part.strip() for part in found.split(",") if part.strip())

    # -- boolean structure (functions/and.ts, or.ts, not.ts, nested.ts) ---------------------------

    def query(self, node: ast.Query, nested: str | None) -> dict[str, Any]:
        if isinstance(node, ast.And):
            return {"bool": {"filter": [self.query(item, nested) for item in node.items]}}
        if isinstance(node, ast.Or):
            return {"bool": {"should": [self.query(item, nested) for item in node.items],
                             "minimum_should_match": 1}}
        if isinstance(node, ast.Not):
            return {"bool": {"must_not": self.query(node.item, nested)}}
        if isinstance(node, ast.Nested):
            path = self._full_name(node.path, nested)
            inner = self.query(node.query, _name_text(path))
            return {"nested": {"path": _name_text(path), "query": inner, "score_mode": "none"}}
        if isinstance(node, ast.Range):
            return self._range(node, nested)
        if isinstance(node, ast.FieldValue):
            if not isinstance(node.value, ast.Literal | ast.Wildcard):
                return self.query(node.expand(), nested)
            return self._is(node, nested)
        raise TypeError(f"not a KQL query node: {type(node).__name__}")

    # -- leaves --------------------------------------------------------------------------------

    def _is(self, node: ast.FieldValue, nested: str | None) -> dict[str, Any]:
        """functions/is.ts."""
        value = node.value
        is_exists = isinstance(value, ast.Wildcard) and value.is_lone
        if is_exists and isinstance(node.field, ast.Wildcard) and node.field.is_lone:
            return {"match_all": {}}
        if node.field is None or (isinstance(node.field, ast.Literal)
                                  and node.field.value is None and not node.field.quoted):
            return _free_text(value)  # type: ignore[arg-type]
        name_node = self._full_name(node.field, nested, node)
        queries = []
        for field in self._fields(name_node):
            queries.append(self._wrap(field, name_node, nested,
                                      self._is_one(field, value)))  # type: ignore[arg-type]
        return {"bool": {"should": queries, "minimum_should_match": 1}}

    @staticmethod
    def _is_one(field: _Field, value: ast.Literal | ast.Wildcard) -> dict[str, Any]:
        if isinstance(value, ast.Wildcard):
            if value.is_lone:
                return {"exists": {"field": field.name}}
            pattern = query_string_pattern(value)
            if field.keyword_only:
                return {"wildcard": {field.name: {"value": pattern}}}
            return {"query_string": {"fields": [field.name], "query": pattern}}
        if field.is_date:
            return {"range": {field.name: _date_bounds({"gte": value.value, "lte": value.value},
                                                       value.value)}}
        if field.keyword_only:
            return {"term": {field.name: {"value": value.value}}}
        return {"match_phrase" if value.quoted else "match": {field.name: value.value}}

    def _range(self, node: ast.Range, nested: str | None) -> dict[str, Any]:
        """functions/range.ts: the value as written (a star stays a star)."""
        name_node = self._full_name(node.field, nested, node)
        value = _value_text(node.value)
        op = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}[node.op.value]
        queries = []
        for field in self._fields(name_node):
            bounds: dict[str, Any] = {op: value}
            if field.is_date:
                bounds = _date_bounds(bounds, value)
            queries.append(self._wrap(field, name_node, nested, {"range": {field.name: bounds}}))
        return {"bool": {"should": queries, "minimum_should_match": 1}}

    # -- fields (functions/utils/get_fields.ts, get_full_field_name_node.ts) ----------------

    def _full_name(self, name: ast.Literal | ast.Wildcard, nested: str | None,
                   where: ast.Node | None = None) -> ast.Literal | ast.Wildcard:
        """The field name prefixed by the enclosing nested path, checked as Kibana checks it
        when a data view is known."""
        if nested is not None:
            if isinstance(name, ast.Wildcard):
                segments = (f"{nested}.{name.segments[0]}", *name.segments[1:])
                name = ast.Wildcard(segments, span=name.span)
            else:
                name = ast.Literal(f"{nested}.{_name_text(name)}", name.quoted, span=name.span)
        if self.fields is None or (isinstance(name, ast.Wildcard) and nested is None):
            return name
        errors = []
        group_type = self.types(nested) if nested else None
        for field in self._matching(name):
            if nested and not field.nested_path:
                if group_type in (None, ("object",)):
                    continue
                errors.append(f"{field.name} is not a nested field but is in nested group "
                              f'"{nested}" in the KQL expression.')
            elif field.nested_path and not nested:
                errors.append(f"{field.name} is a nested field, but is not in a nested group in "
                              f"the KQL expression.")
            elif field.nested_path != nested:
                errors.append(f"Nested field {field.name} is being queried with the incorrect "
                              f"nested path. The correct path is {field.nested_path}.")
        if errors:
            raise KqlCompileError("\n".join(errors), (where or name).span, text=self.text)
        return name

    def _matching(self, name: ast.Literal | ast.Wildcard) -> list[_Field]:
        """getFields: the known fields the name (or name pattern) matches."""
        if self.fields is None:
            return []
        if isinstance(name, ast.Wildcard):
            regex = re.compile("[\\s\\S]*".join(map(re.escape, name.segments)))
            names = [known for known in self.fields if regex.fullmatch(known)]
        else:
            names = [_name_text(name)]
        found = []
        for known in names:
            types = self.types(known)
            if types is not None and types != ("nested",):
                found.append(_Field(known, types, self._nested_path(known)))
        return found

    def _fields(self, name: ast.Literal | ast.Wildcard) -> list[_Field]:
        """The fields of one leaf; a name that matches none is sent as written, untyped."""
        return self._matching(name) or [_Field(_name_text(name), (), None)]

    def _nested_path(self, name: str) -> str | None:
        """The nearest enclosing object mapped `nested` (the data view's subType.nested)."""
        parts = name.split(".")
        for end in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:end])
            if self.types(prefix) == ("nested",):
                return prefix
        return None

    @staticmethod
    def _wrap(field: _Field, name: ast.Literal | ast.Wildcard, nested: str | None,
              query: dict[str, Any]) -> dict[str, Any]:
        """A wildcard field name that reaches a nested field outside a nested group gets
        that field's query wrapped in a `nested` query."""
        if not isinstance(name, ast.Wildcard) or not field.nested_path or nested:
            return query
        return {"nested": {"path": field.nested_path, "query": query, "score_mode": "none"}}


def _free_text(value: ast.Literal | ast.Wildcard) -> dict[str, Any]:
    """A value without a field: every field of the index's `index.query.default_field`."""
    if isinstance(value, ast.Wildcard):
        return {"query_string": {"query": query_string_pattern(value)}}
    return {"multi_match": {"type": "phrase" if value.quoted else "best_fields",
                            "query": value.value, "lenient": True}}


def _date_bounds(bounds: dict[str, Any], value: object) -> dict[str, Any]:
    """Kibana adds the time zone to date ranges, except for epoch values (digits only)."""
    if isinstance(value, int) or (isinstance(value, str) and _EPOCH.fullmatch(value)):
        return bounds
    return {**bounds, "time_zone": _TIME_ZONE}


def _name_text(name: ast.Literal | ast.Wildcard) -> str:
    """A field name as Kibana sends it: a wildcard name's stars joined back unescaped."""
    if isinstance(name, ast.Wildcard):
        return "*".join(name.segments)
    if isinstance(name.value, bool):
        return "true" if name.value else "false"
    return str(name.value)


def _value_text(value: ast.Literal | ast.Wildcard) -> Any:
    """`ast.toElasticsearchQuery` of a literal (its JS value) or wildcard (stars unescaped)."""
    if isinstance(value, ast.Wildcard):
        return "*".join(value.segments)
    if value.value is None:
        return None
    return value.value
