"""The `filter` of an EQL search: a Query DSL object, as SQL through the EQL compiler.

Each leaf query becomes the EQL predicate with the same meaning (term -> `==`, terms -> `in`,
range -> comparisons, exists -> `!= null`), so field types behave as in EQL. Query DSL has
two-valued logic: a leaf that cannot be evaluated is false, and `must_not` of it true. Fields
are looked up as `?field`: the DSL ignores unmapped fields.

Where the DSL differs from EQL, it follows Elasticsearch:

* `wildcard` patterns take Lucene's escapes (`\\*` is a star, `\\\\` a backslash), and a
  wildcard on a field that is not text-like is refused as ES refuses it.
* `text` and `match_only_text` fields are searched through their words, as the standard
  analyzer indexes them (lower-cased runs of letters and digits, one word per CJK ideograph):
  `match_phrase` finds the phrase's words in a row, `match` any of its words, and `wildcard`
  (its pattern lower-cased) one word. Keyword fields compare whole values, case-sensitively.
* `exists` on an object is true when any field below it has a value.
* KQL arrives as Kibana's DSL for it (`lanner.kql.to_query_dsl`, typed by `field_types`;
  `kql_condition` does both, and the `kql` query type too): `match`/`match_phrase`/`term` by
  type, `query_string` with the subset KQL emits (terms and wildcard patterns, each
  whitespace-separated part its own clause, over `fields` or every field leniently),
  `multi_match` for free text, and date ranges with date math, rounding and `time_zone`
  (lanner.engine.datemath). `*.caseless` keyword fields (Elastic Defend's lowercase
  normalizer) compare case-insensitively; `powershell.file.script_block_text` is tokenized as
  the Windows integration's pattern analyzer does. Other Lucene syntax is refused by name.
* `nested` tests its inner query against each object of the array at its path, read from
  `_source`, so all the inner conditions must hold in one object. The path may be spelled
  with nested objects or dotted keys (`{"a": {"b": [...]}}`, `{"a.b": [...]}`), but objects
  that exist only as dotted keys above it (`{"a.b.c": 1}` for path `a.b`) are not seen. The
  store keeps no nested mappings, so the path is not checked to be `nested` (ES refuses other
  paths), and a path without objects matches nothing (as with `ignore_unmapped`).

The SQL is written in the compiler's dialect, with the same meaning on DuckDB and Spark. Two
things differ in how: the standard analyzer's regexes (RE2 and Java name Unicode scripts
differently), and `nested`. DuckDB reads the objects with its JSON functions inside lambdas;
Spark runs no Python UDF inside a lambda, so one UDF per event (spark_sql.eql_nested) hands
over, per object, the values of the fields the inner leaves test, and the leaves are lambdas
over those.
"""

from __future__ import annotations

import datetime
import itertools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from lanner.engine.backends.spark_sql import (
    MAX_NESTED_DEPTH,
    SparkDialect,
    nested_function,
    spark_identifier,
)
from lanner.engine.backends.sql import SqlCompiler, SqlDialect, sql_literal
from lanner.engine.datemath import DateMathError, resolve, time_zone
from lanner.engine.values import ip_sort_key, parse_number
from lanner.eql import ast
from lanner.eql.errors import QueryError
from lanner.errors import LannerError
from lanner.kql import KqlError
from lanner.kql import ast as kql_ast
from lanner.kql import parse as parse_kql
from lanner.kql import to_query_dsl as kql_to_query_dsl
from lanner.kql.errors import KqlCompileError

_RANGE_OPS = {"gt": ast.ComparisonOp.GT, "gte": ast.ComparisonOp.GTE,
              "lt": ast.ComparisonOp.LT, "lte": ast.ComparisonOp.LTE}
_TEXT_TYPES = frozenset({"text", "match_only_text"})
_WILDCARD_TYPES = frozenset({"keyword", "constant_keyword", "wildcard", "version",
                             "flattened"}) | _TEXT_TYPES
_NUMERIC_TYPES = frozenset({"long", "integer", "short", "byte", "unsigned_long", "double",
                            "float", "half_float", "scaled_float"})
# The standard tokenizer, approximated: CJK ideographs and hiragana are one word each; other
# words are letters, digits and `_`, joined across a `.` or an apostrophe (cmd.exe, can't).
_WORD = r"[\p{L}\p{N}\p{M}_]+(?:[.'’][\p{L}\p{N}\p{M}_]+)*"
# Nested paths are looked up under every split of their dotted name into object keys; past
# this many segments the dotted spellings are too many to try.
_MAX_PATH_SEGMENTS = 12
_SOURCE = "_source"
_ID = "_id"
# Text fields whose index analyzer is not the standard one, as the token each keeps (after
# lower-casing): the Windows integration's `powershell_script_analyzer` is a pattern analyzer
# splitting on `[\W&&[^-]]+` (Java's ASCII \W), so `Invoke-Mimikatz` is one token
# (KQL-SEMANTICS.md §5.4; integrations packages/windows powershell_operational).
_PATTERN_TOKENS = {"powershell.file.script_block_text": r"[a-z0-9_-]+"}
_DATE_TYPES = frozenset({"date", "date_nanos"})
_ROUND_UP = frozenset({"gt", "lte"})  # ES rounds these bounds up, gte and lt down
# Elastic Defend maps `*.caseless` multi-fields as keyword with the lowercase normalizer
# (endpoint-package custom_schemas/custom_process.yml; KQL-SEMANTICS.md §5.2).
_NORMALIZED_SUFFIX = ".caseless"
# Classic query syntax Lanner's query_string does not run (only the terms and wildcards
# Kibana's KQL emits): an unescaped one of these, or `+`/`-` starting a term.
_QUERY_STRING_SYNTAX = frozenset('()[]{}":^~/!=&|<>')
_QUERY_STRING_OPTIONS = frozenset({"query", "fields", "default_field", "default_operator",
                                   "analyze_wildcard", "allow_leading_wildcard", "lenient",
                                   "time_zone", "boost"})
_MULTI_MATCH_OPTIONS = frozenset({"query", "fields", "type", "lenient", "operator", "boost"})


class QueryDslError(LannerError):
    """A filter Lanner cannot run: names the query type or the part it does not support."""


def filter_condition(query: Mapping[str, Any], compiler: SqlCompiler, *,
                     now: datetime.datetime | None = None) -> str:
    """SQL that is TRUE exactly for the events the Query DSL `query` matches, in the
    compiler's dialect. `now` is the instant date math (`now-30d/d`) counts from: the
    time of the search, unless a rule execution fixes it."""
    spelling = (_SparkSpelling(compiler.dialect) if isinstance(compiler.dialect, SparkDialect)
                else _Spelling(compiler.dialect))
    moment = now or datetime.datetime.now(datetime.UTC)
    return _Translator(_Columns(compiler, spelling, itertools.count(1), moment)).query(query)


def kql_condition(query: str | kql_ast.Query, compiler: SqlCompiler, *,
                  now: datetime.datetime | None = None) -> str:
    """SQL for a KQL query over the compiler's scope: KQL -> Kibana's Query DSL (typed by
    the scope's fields, `field_types`) -> `filter_condition`, the same path as every DSL
    filter. Raises KqlError (syntax, or a part Elasticsearch would refuse, with the place
    of the clause at fault)."""
    text = query if isinstance(query, str) else None
    tree = parse_kql(query) if isinstance(query, str) else query
    types = field_types(compiler)
    try:
        return filter_condition(kql_to_query_dsl(tree, types), compiler, now=now)
    except KqlError:
        raise
    except LannerError as error:
        clause = _failing_clause(tree, types, compiler, now)
        message = error.message if isinstance(error, QueryError) else str(error)
        raise KqlCompileError(message, clause.span if clause is not None else None,
                              text=text) from error


def field_types(compiler: SqlCompiler) -> Mapping[str, str]:
    """Field name -> Elasticsearch type over a search's scope, for `kql.to_query_dsl`: what
    Kibana's data view loads through field_caps. The fields are those the compiler resolves
    (the scope's columns and objects, and the ECS schema where it stands in for index
    templates); a field-name pattern expands over the scope's columns."""
    return _FieldTypes(compiler)


class _FieldTypes(Mapping[str, str]):
    """The compiler's typing as a read-only mapping, looked up lazily: a query names a few
    of the thousands of fields the schema knows."""

    def __init__(self, compiler: SqlCompiler) -> None:
        self._compiler = compiler

    def __getitem__(self, name: str) -> str:
        if not isinstance(name, str) or not name:
            raise KeyError(name)
        es_type = self._compiler.resolve(ast.Field(name, optional=True)).es_type
        if es_type is None:
            raise KeyError(name)
        return es_type

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._compiler.fields.columns() if not name.startswith("_"))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _failing_clause(tree: kql_ast.Query, types: Mapping[str, str], compiler: SqlCompiler,
                    now: datetime.datetime | None) -> kql_ast.Node | None:
    """The first clause (field:value, range or nested group) that fails alone."""
    pending: list[kql_ast.Query] = [tree]
    while pending:
        node = pending.pop(0)
        if isinstance(node, kql_ast.And | kql_ast.Or):
            pending[:0] = node.items
        elif isinstance(node, kql_ast.Not):
            pending.insert(0, node.item)
        elif (isinstance(node, kql_ast.FieldValue)
              and not isinstance(node.value, kql_ast.Literal | kql_ast.Wildcard)):
            pending.insert(0, node.expand())
        else:
            try:
                filter_condition(kql_to_query_dsl(node, types), compiler, now=now)
            except LannerError:
                return node
    return None


class _Spelling:
    """DuckDB's spelling of the SQL the DSL writes besides the compiler's (lists, words)."""

    # one ideograph or hiragana (RE2 names scripts bare), and the replacement spacing it out
    cjk_split = r"([\p{Han}\p{Hiragana}])"

    def __init__(self, dialect: SqlDialect) -> None:
        self.dialect = dialect

    def literal(self, value: object) -> str:
        return self.dialect.literal(value)

    def any(self, values: str, variable: str, predicate: str) -> str:
        """TRUE when `predicate` holds for some element of `values` bound to `variable`
        (FALSE or NULL otherwise: callers coalesce)."""
        return f"list_bool_or(list_transform({values}, lambda {variable}: {predicate}))"

    def words(self, text_sql: str, token: str | None = None) -> str:
        """SQL list of the words of a text, as the standard analyzer indexes them (or a
        pattern analyzer keeping the runs of `token` in the lower-cased text)."""
        if token is not None:
            return f"regexp_extract_all(lower({text_sql}), {self.literal(token)})"
        spaced = f"regexp_replace({text_sql}, {self.literal(self.cjk_split)}, ' \\1 ', 'g')"
        return f"regexp_extract_all(lower({spaced}), {self.literal(_WORD)})"

    def shares_any(self, left: str, right: str) -> str:
        return f"list_has_any({left}, {right})"

    def bind(self, value: str, variable: str, body: str) -> str:
        """`body` with `variable` standing for `value`, computed once."""
        return f"list_transform([{value}], lambda {variable}: {body})[1]"

    def joined(self, words: str) -> str:
        return f"array_to_string({words}, ' ')"

    def size(self, values: str) -> str:
        return f"len({values})"


class _SparkSpelling(_Spelling):
    """Spark SQL's: higher-order functions, and Java's regexes (`IsHan`, `$1`)."""

    cjk_split = r"([\p{IsHan}\p{IsHiragana}])"

    def any(self, values: str, variable: str, predicate: str) -> str:
        return f"exists({values}, {variable} -> {predicate})"

    def words(self, text_sql: str, token: str | None = None) -> str:
        if token is not None:
            return f"regexp_extract_all(lower({text_sql}), {self.literal(token)}, 0)"
        spaced = f"regexp_replace({text_sql}, {self.literal(self.cjk_split)}, ' $1 ')"
        return f"regexp_extract_all(lower({spaced}), {self.literal(_WORD)}, 0)"

    def shares_any(self, left: str, right: str) -> str:
        return f"arrays_overlap({left}, {right})"

    def bind(self, value: str, variable: str, body: str) -> str:
        return f"element_at(transform(array({value}), {variable} -> {body}), 1)"

    def joined(self, words: str) -> str:
        return f"array_join({words}, ' ')"

    def size(self, values: str) -> str:
        return f"size({values})"


class _Translator:
    """Compound queries; leaves are the context's (event columns, or one nested object)."""

    def __init__(self, leaves: _Columns) -> None:
        self.leaves = leaves

    def query(self, query: Mapping[str, Any]) -> str:
        if not isinstance(query, Mapping) or len(query) != 1:
            raise QueryDslError(f"a query must be an object with one query type, found {query!r}")
        ((kind, body),) = query.items()
        if kind == "match_all":
            return "TRUE"
        if kind == "match_none":
            return "FALSE"
        if kind == "bool":
            return self._bool(body)
        if kind == "constant_score":
            return self.query(body["filter"])
        if kind == "nested":
            if not isinstance(body, Mapping) or "path" not in body or "query" not in body:
                raise QueryDslError("[nested] takes a path and a query")
            return self.leaves.nested(_name(body["path"]), body["query"])
        if kind == "exists":
            return self.leaves.exists(_name(body.get("field") if isinstance(body, Mapping)
                                            else None))
        if kind == "ids":
            return self.leaves.ids(_ids_values(body))
        if kind == "query_string":
            return self._query_string(_options(kind, body, _QUERY_STRING_OPTIONS))
        if kind == "multi_match":
            return self._multi_match(_options(kind, body, _MULTI_MATCH_OPTIONS))
        if kind == "kql":
            return self._kql(_options(kind, body, frozenset({"query", "boost"})))
        name, options = _field_body(kind, body)
        leaves = self.leaves
        if kind in ("term", "match", "match_phrase"):
            value = options.get("value", options.get("query"))
            if value is None:  # ES refuses a null term or query text (KQL's `field:null`)
                raise QueryDslError(f"[{kind}] query on [{name}] needs a value, found null")
            if kind == "term" or not leaves.is_text(name):
                return leaves.term(name, value, bool(options.get("case_insensitive")))
            return leaves.words(name, value, phrase=kind == "match_phrase")
        if kind == "terms":
            values = options["value"]
            if not isinstance(values, list):
                raise QueryDslError("terms takes a list of values")
            return leaves.terms(name, values) if values else "FALSE"
        if kind == "range":
            return leaves.range(name, options)
        if kind == "wildcard":
            pattern = options.get("value", options.get("wildcard"))
            if not isinstance(pattern, str):
                raise QueryDslError(f"[wildcard] takes a string pattern, found {pattern!r}")
            return leaves.wildcard(name, pattern, bool(options.get("case_insensitive")))
        if kind == "prefix":
            return leaves.prefix(name, str(options.get("value")),
                                 bool(options.get("case_insensitive")))
        raise QueryDslError(f"the [{kind}] query is not supported in a filter")

    def _query_string(self, options: Mapping[str, Any]) -> str:
        """The subset of `query_string` KQL emits: terms and wildcard patterns separated by
        whitespace (each a clause of its own, KQL-SEMANTICS.md §5.12), Lucene escapes, over
        `fields` (patterns allowed; by default every field, leniently)."""
        query = options.get("query")
        if not isinstance(query, str):
            raise QueryDslError("[query_string] takes a string query")
        fields = options.get("fields") or [options.get("default_field", "*")]
        lenient = bool(options.get("lenient")) or fields == ["*"]
        terms = _query_string_terms(query)
        operator = str(options.get("default_operator", "or")).lower()
        if operator not in ("or", "and"):
            raise QueryDslError(f"[query_string] default_operator [{operator}] is not supported")
        if not terms:
            return "FALSE"
        clauses = []
        for term in terms:
            per_field = self.leaves.each_field(
                fields, lambda name, term=term: self.leaves.query_string_term(name, term),
                lenient=lenient)
            clauses.append("(" + " OR ".join(per_field) + ")" if per_field else "FALSE")
        return "(" + f" {operator.upper()} ".join(clauses) + ")"

    def _multi_match(self, options: Mapping[str, Any]) -> str:
        """`multi_match` as KQL's free text sends it: `best_fields` (match) or `phrase`
        (match_phrase) on each of `fields` (by default every field), any field matching."""
        kind = options.get("type", "best_fields")
        if kind not in ("best_fields", "most_fields", "phrase"):
            raise QueryDslError(f"[multi_match] type [{kind}] is not supported")
        if str(options.get("operator", "or")).lower() != "or":
            raise QueryDslError("[multi_match] supports only operator [or]")
        value = options.get("query")
        fields = options.get("fields") or ["*"]
        lenient = bool(options.get("lenient")) or fields == ["*"]
        leaves = self.leaves
        per_field = leaves.each_field(
            fields, lambda name: leaves.words(name, value, phrase=kind == "phrase")
            if leaves.is_text(name) else leaves.term(name, value, False), lenient=lenient)
        return "(" + " OR ".join(per_field) + ")" if per_field else "FALSE"

    def _kql(self, options: Mapping[str, Any]) -> str:
        """Elasticsearch's `kql` query: the KQL compiled as Kibana compiles it, typed by
        this search's fields."""
        query = options.get("query")
        if not isinstance(query, str):
            raise QueryDslError("[kql] takes a string query")
        compiler = self.leaves.compiler
        return self.query(kql_to_query_dsl(query, field_types(compiler)))

    def _bool(self, body: Mapping[str, Any]) -> str:
        def clauses(name: str) -> list[str]:
            value = body.get(name, [])
            return [self.query(q) for q in (value if isinstance(value, list) else [value])]

        required = clauses("must") + clauses("filter")
        raw_should = body.get("should", [])
        raw_should = raw_should if isinstance(raw_should, list) else [raw_should]
        excluded = clauses("must_not")
        if not (required or raw_should or excluded):  # ES: a bool without clauses matches all
            return "TRUE"
        parts = list(required)
        needed = _minimum_should_match(body.get("minimum_should_match"), len(raw_should),
                                       default=0 if required else 1)
        if raw_should and not required:  # Lucene: without required clauses one must match
            needed = max(needed, 1)
        if needed > len(raw_should):  # Lucene: more required than there are matches nothing
            return "FALSE"
        if needed == 1:
            parts.append("(" + " OR ".join(self._any_of(raw_should)) + ")")
        elif needed > 1:
            should = [self.query(q) for q in raw_should]
            count = " + ".join(f"CAST({clause} AS INTEGER)" for clause in should)
            parts.append(f"({count} >= {needed})")
        parts.extend(f"(NOT {clause})" for clause in excluded)
        return "(" + " AND ".join(parts) + ")" if parts else "TRUE"

    def _any_of(self, queries: list[Any]) -> list[str]:
        """SQL of clauses of which one must match. KQL's value lists are ORs of one-clause
        bools; flattened, their match/match_phrase clauses on a pattern-analyzed field (the
        PowerShell script block: hundreds of phrases in some rules) are tested together on
        the value's words, tokenized once rather than once per phrase; and the values of
        one ip field are one test of the address, keyed once."""
        flat: list[Any] = []
        pending = list(reversed(queries))
        while pending:
            query = pending.pop()
            inner = _single_should(query)
            if inner is None:
                flat.append(query)
            else:
                pending.extend(reversed(inner))
        grouped: dict[str, list[tuple[bool, object]]] = {}
        addresses: dict[str, list[str]] = {}
        rest: list[Any] = []
        columns = type(self.leaves) is _Columns
        for query in flat:
            leaf = _value_leaf(query) if columns else None
            if leaf is not None and leaf[0] in _PATTERN_TOKENS and self.leaves.is_text(leaf[0]) \
                    and not _is_term(query):
                grouped.setdefault(leaf[0], []).append(leaf[1:])
            elif (leaf is not None and isinstance(leaf[2], str)
                  and self.leaves.es_type(leaf[0]) == "ip"):
                addresses.setdefault(leaf[0], []).append(leaf[2])
            else:
                rest.append(query)
        return ([self.leaves.phrases(name, items) for name, items in grouped.items()]
                + [self.leaves.addresses(name, values) for name, values in addresses.items()]
                + [self.query(query) for query in rest])


class _Columns:
    """Leaf queries over the event's columns, typed by the EQL compiler."""

    def __init__(self, compiler: SqlCompiler, spelling: _Spelling, names: Iterator[int],
                 now: datetime.datetime) -> None:
        self.compiler = compiler
        self.spelling = spelling
        self.names = names
        self.now = now

    def new_name(self) -> str:
        """A lambda variable no other part of the filter uses."""
        return f"_q{next(self.names)}"

    def es_type(self, name: str) -> str | None:
        return self.compiler.resolve(ast.Field(name, optional=True)).es_type

    def is_text(self, name: str) -> bool:
        return self.es_type(name) in _TEXT_TYPES

    def phrases(self, name: str, items: list[tuple[bool, object]]) -> str:
        """TRUE when any of the (phrase?, value) match/match_phrase queries matches the
        pattern-analyzed field `name`: the query words are the analyzer's, found here."""
        token = _PATTERN_TOKENS[name]
        needles: dict[str, None] = {}
        for phrase, value in items:
            words = re.findall(token, _text_of(value).lower())
            needles.update(dict.fromkeys([" ".join(words)] if phrase and words else words))
        if not needles:
            return "FALSE"
        spelling = self.spelling

        def predicate(text_sql: str) -> str:
            variable = self.new_name()
            joined = f"(' ' || {spelling.joined(spelling.words(text_sql, token))} || ' ')"
            tests = " OR ".join(spelling.dialect.call("contains", variable,
                                                      spelling.literal(f" {needle} "))
                                for needle in needles)
            return spelling.bind(joined, variable, f"({tests})")

        return self._each_value(name, predicate)

    def addresses(self, name: str, values: list[str]) -> str:
        """TRUE when the ip field holds one of the addresses or lies in one of the CIDR
        blocks: term, match and match_phrase on an ip field are the same test."""
        field = ast.Field(name, optional=True)
        return self._eql(ast.FunctionCall("cidrMatch", (field, *map(ast.String, values))))

    def normalized(self, name: str) -> bool:
        """A keyword field whose normalizer lower-cases values and query terms alike: a
        `.caseless` one, or a multi-field the store reads through the lowercase normalizer
        (an explicit mapping's `normalizer`, lanner.store.multifields)."""
        if self.es_type(name) != "keyword":
            return False
        column = self.compiler.fields.column(name)
        return name.endswith(_NORMALIZED_SUFFIX) or (
            column is not None and column.normalized is not None)

    def each_field(self, patterns: list[object], leaf: Callable[[str], str], *,
                   lenient: bool) -> list[str]:
        """`leaf` over the fields `patterns` name (`*` expands over the scope's columns);
        with `lenient`, a field the value does not suit (a word on a number) is skipped."""
        names: list[str] = []
        for pattern in patterns:
            text = _name(pattern).split("^")[0]  # a boost suffix changes no match
            if "*" in text:
                regex = re.compile(".*".join(map(re.escape, text.split("*"))))
                names.extend(name for name in self.compiler.fields.columns()
                             if not name.startswith("_") and regex.fullmatch(name)
                             and self.es_type(name) != "object")
            else:
                names.append(text)
        found = []
        for name in dict.fromkeys(names):
            try:
                found.append(leaf(name))
            except LannerError:
                if not lenient:
                    raise
        return found

    def query_string_term(self, name: str, term: str) -> str:
        """One whitespace-separated clause of a query_string on one field: a Lucene
        wildcard pattern, or a term analyzed as the field analyzes (words on text)."""
        if _has_wildcard(term):
            return self.wildcard(name, term, False)
        text = _lucene_unescape(term)
        if self.is_text(name):
            return self.words(name, text, phrase=False)
        return self.term(name, text, False)

    def term(self, name: str, value: object, insensitive: bool) -> str:
        field = ast.Field(name, optional=True)
        if insensitive or self.normalized(name):
            return self._eql(ast.In(field, (_literal(value),), insensitive=True))
        return self._eql(ast.Comparison(ast.ComparisonOp.EQ, field, _literal(value)))

    def terms(self, name: str, values: list[object]) -> str:
        field = ast.Field(name, optional=True)
        return self._eql(ast.In(field, tuple(_literal(value) for value in values),
                                insensitive=self.normalized(name)))

    def range(self, name: str, options: Mapping[str, Any]) -> str:
        field = ast.Field(name, optional=True)
        terms: list[ast.Expr] = []
        is_date = self.es_type(name) in _DATE_TYPES
        for key, value in options.items():
            if key in _RANGE_OPS:
                if value is not None:
                    if is_date and isinstance(value, str):
                        value = self._date_bound(value, key, options.get("time_zone"))
                    terms.append(ast.Comparison(_RANGE_OPS[key], field, _literal(value)))
            elif key not in ("format", "time_zone", "boost"):
                raise QueryDslError(f"range option [{key}] is not supported")
        if not terms:
            return self._eql(ast.Comparison(ast.ComparisonOp.NEQ, field, ast.Null()))
        return self._eql(terms[0] if len(terms) == 1 else ast.And(tuple(terms)))

    def _date_bound(self, value: str, op: str, zone: object) -> str:
        """A date bound with its date math and rounding resolved (lanner.engine.datemath),
        as an ISO instant in UTC to the nanosecond."""
        try:
            nanos = resolve(value, round_up=op in _ROUND_UP,
                            zone=time_zone(None if zone is None else str(zone)), now=self.now)
        except DateMathError as error:
            raise QueryDslError(str(error)) from None
        seconds, fraction = divmod(nanos, 1_000_000_000)
        moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
        return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction:09d}Z"

    def exists(self, name: str) -> str:
        if self.es_type(name) == "object":
            below = [column for column in self.compiler.fields.columns()
                     if column.startswith(name + ".")]
            return "(" + " OR ".join(map(self.exists, below)) + ")" if below else "FALSE"
        field = ast.Field(name, optional=True)
        return self._eql(ast.Comparison(ast.ComparisonOp.NEQ, field, ast.Null()))

    def words(self, name: str, value: object, *, phrase: bool) -> str:
        return self._each_value(name, lambda text: _words_match(
            self.spelling, text, value, phrase=phrase, token=_PATTERN_TOKENS.get(name)))

    def wildcard(self, name: str, pattern: str, insensitive: bool) -> str:
        es_type = self.es_type(name)
        if es_type is None:
            return "FALSE"
        _check_wildcard_type(name, es_type)
        insensitive = insensitive or self.normalized(name)
        return self._each_value(name, lambda text: self._wildcard_match(
            text, pattern, insensitive=insensitive, text_field=es_type in _TEXT_TYPES,
            token=_PATTERN_TOKENS.get(name)))

    def prefix(self, name: str, value: str, insensitive: bool) -> str:
        call = ast.FunctionCall("startsWith", (ast.Field(name, optional=True), ast.String(value)),
                                insensitive=insensitive or self.normalized(name))
        return self._eql(call)

    def ids(self, values: list[str]) -> str:
        """The `ids` query: the document's `_id` (given at ingest, or derived as the store
        derives it) is one of `values`. Documents the DuckDB store read the columnar way
        keep no `_id` column value (it is derived when fetched): they match no `ids`."""
        if not values:
            return "FALSE"
        column = (spark_identifier(_ID) if isinstance(self.spelling, _SparkSpelling)
                  else f'"{_ID}"')
        listed = ", ".join(self.spelling.literal(value) for value in values)
        return f"coalesce({column} IN ({listed}), FALSE)"

    def nested(self, path: str, query: Mapping[str, Any]) -> str:
        """The `nested` query over the objects at `path` in the event's `_source`."""
        variable = self.new_name()
        if isinstance(self.spelling, _SparkSpelling):
            spark_leaves = _SparkObjects(self, path, _key_paths(path), variable)
            condition = _Translator(spark_leaves).query(query)
            objects = spark_leaves.extraction(spark_identifier(_SOURCE))
        else:
            json_leaves = _JsonObjects(self, path, variable)
            condition = _Translator(json_leaves).query(query)
            objects = _json_objects_at(f'"{_SOURCE}"', path, self.new_name)
        return f"coalesce({self.spelling.any(objects, variable, condition)}, FALSE)"

    def _eql(self, expr: ast.Expr) -> str:
        return f"coalesce({self.compiler.condition(expr)}, FALSE)"

    def _each_value(self, name: str, predicate: Callable[[str], str]) -> str:
        """TRUE when any value of the field meets `predicate` (given the value's SQL)."""
        resolved = self.compiler.resolve(ast.Field(name, optional=True))
        if resolved.es_type is None or resolved.sql == "NULL":
            return "FALSE"
        if not resolved.is_list:
            return f"coalesce({predicate(resolved.sql)}, FALSE)"
        variable = self.new_name()
        return f"coalesce({self.spelling.any(resolved.sql, variable, predicate(variable))}, FALSE)"

    def _wildcard_match(self, text_sql: str, pattern: str, *, insensitive: bool,
                        text_field: bool, token: str | None = None) -> str:
        """ES `wildcard` on one value: the whole value, or on a text field any of its words."""
        spelling = self.spelling
        if text_field:
            like = spelling.literal(lucene_wildcard_to_like(pattern.lower()))
            variable = self.new_name()
            return spelling.any(spelling.words(text_sql, token), variable,
                                spelling.dialect.like(variable, like))
        like = spelling.literal(lucene_wildcard_to_like(pattern))
        if insensitive:
            return spelling.dialect.like(f"lower({text_sql})", f"lower({like})")
        return spelling.dialect.like(text_sql, like)


class _Objects(_Columns):
    """Leaf queries inside a `nested` query: over one object of the array at `path` (bound
    to the SQL variable `variable`), the fields named in full (`path.sub`) as in
    Elasticsearch. Values compare as the event column of the same name is typed. How an
    object's values are read is the engine's (_JsonObjects, _SparkObjects)."""

    def __init__(self, outer: _Columns, path: str, variable: str) -> None:
        super().__init__(outer.compiler, outer.spelling, outer.names, outer.now)
        self.path = path
        self.variable = variable

    def term(self, name: str, value: object, insensitive: bool) -> str:
        es_type = self.es_type(name)
        return self._any(name, lambda text: self._equals(text, es_type, value, insensitive),
                         keyed=es_type == "ip")

    def terms(self, name: str, values: list[object]) -> str:
        es_type = self.es_type(name)
        return self._any(name, lambda text: "(" + " OR ".join(
            self._equals(text, es_type, value, insensitive=False) for value in values) + ")",
            keyed=es_type == "ip")

    def range(self, name: str, options: Mapping[str, Any]) -> str:
        raise QueryDslError(f"a range query inside [nested] ([{name}]) is not supported")

    def ids(self, values: list[str]) -> str:
        raise QueryDslError("an ids query inside [nested] is not supported (a nested object "
                            "has no _id of its own)")

    def words(self, name: str, value: object, *, phrase: bool) -> str:
        return self._any(name, lambda text: _words_match(
            self.spelling, text, value, phrase=phrase, token=_PATTERN_TOKENS.get(name)))

    def wildcard(self, name: str, pattern: str, insensitive: bool) -> str:
        es_type = self.es_type(name) or "keyword"
        _check_wildcard_type(name, es_type)
        return self._any(name, lambda text: self._wildcard_match(
            text, pattern, insensitive=insensitive, text_field=es_type in _TEXT_TYPES,
            token=_PATTERN_TOKENS.get(name)))

    def prefix(self, name: str, value: str, insensitive: bool) -> str:
        literal = self.spelling.literal(value)
        call = self.spelling.dialect.call
        if insensitive:
            return self._any(name, lambda text: call("starts_with", f"lower({text})",
                                                     f"lower({literal})"))
        return self._any(name, lambda text: call("starts_with", text, literal))

    def _relative(self, name: str) -> str | None:
        """The field's path inside the object; None for a field outside the nested path."""
        prefix = self.path + "."
        return name[len(prefix):] if name.startswith(prefix) and len(name) > len(prefix) else None

    def _any(self, name: str, predicate: Callable[[str], str], *, keyed: bool = False) -> str:
        """TRUE when some value of the field in the object meets `predicate` (given the
        value's text; with `keyed`, an ip field's values as ip sort keys)."""
        raise NotImplementedError

    def _ip_key(self, text_sql: str) -> str:
        """The ip sort key of a value `_any(..., keyed=True)` handed to its predicate."""
        raise NotImplementedError

    def _equals(self, text_sql: str, es_type: str | None, value: object,
                insensitive: bool) -> str:
        """A value's text equal to a term, compared as the field's type indexes it."""
        spelling = self.spelling
        if es_type in _TEXT_TYPES:
            return _words_match(spelling, text_sql, value, phrase=True)
        if es_type == "boolean":
            if value not in (True, False, "true", "false"):
                raise QueryDslError(f"Can't parse boolean value [{value}], expected [true] or "
                                    f"[false]")
            return f"({text_sql} = {spelling.literal(_text_of(value))})"
        if es_type in _NUMERIC_TYPES:
            number = value if isinstance(value, int | float) and not isinstance(value, bool) \
                else parse_number(_text_of(value), 10)
            if number is None:
                raise QueryDslError(f"[{value}] is not a number")
            return f"(TRY_CAST({text_sql} AS DOUBLE) = {spelling.literal(float(number))})"
        if es_type == "ip":
            key = ip_sort_key(_text_of(value))
            if key is None:
                raise QueryDslError(f"'{value}' is not an IP string literal.")
            return f"({self._ip_key(text_sql)} = {spelling.literal(key)})"
        literal = spelling.literal(_text_of(value))
        if insensitive:
            return f"(lower({text_sql}) = lower({literal}))"
        return f"({text_sql} = {literal})"


class _JsonObjects(_Objects):
    """DuckDB: the object is JSON, its values read with the JSON functions."""

    def exists(self, name: str) -> str:
        scalars = self._scalars(name)
        return "FALSE" if scalars is None else f"({self.spelling.size(scalars)} > 0)"

    def nested(self, path: str, query: Mapping[str, Any]) -> str:
        variable = self.new_name()
        condition = _Translator(_JsonObjects(self, path, variable)).query(query)
        relative = self._relative(path)
        if relative is None:
            return "FALSE"
        objects = _json_objects_at(self.variable, relative, self.new_name)
        return f"coalesce({self.spelling.any(objects, variable, condition)}, FALSE)"

    def _scalars(self, name: str) -> str | None:
        """SQL list of the field's non-null JSON values in the object (an array's elements)."""
        relative = self._relative(name)
        if relative is None:
            return None
        value = _json_first_at(self.variable, relative, self.new_name)
        bound, element = self.new_name(), self.new_name()
        spread = (f"list_transform([{value}], lambda {bound}: CASE json_type({bound}) "
                  f"WHEN 'ARRAY' THEN json_extract({bound}, '$[*]') ELSE [{bound}] END)[1]")
        return f"list_filter({spread}, lambda {element}: json_type({element}) <> 'NULL')"

    def _any(self, name: str, predicate: Callable[[str], str], *, keyed: bool = False) -> str:
        scalars = self._scalars(name)
        if scalars is None:
            return "FALSE"
        variable = self.new_name()
        text = f"json_extract_string({variable}, '$')"
        return f"coalesce({self.spelling.any(scalars, variable, predicate(text))}, FALSE)"

    def _ip_key(self, text_sql: str) -> str:
        return f"eql_ip_key({text_sql})"


class _SparkObjects(_Objects):
    """Spark: the object is a row of spark_sql.eql_nested, `v` holding the values of each
    field the inner leaves test (registered here as they are written), `n` the objects of
    each inner `nested` query. `pointers` spell the path relative to the enclosing object."""

    def __init__(self, outer: _Columns, path: str, pointers: list[str], variable: str) -> None:
        super().__init__(outer, path, variable)
        self.pointers = pointers
        self.fields: dict[tuple[str, bool], int] = {}
        self.children: list[_SparkObjects] = []

    @property
    def depth(self) -> int:
        return 1 + max((child.depth for child in self.children), default=0)

    def spec(self) -> dict[str, Any]:
        """What eql_nested extracts for this level (see its docstring)."""
        return {"path": self.pointers,
                "fields": [[_key_paths(relative), keyed] for relative, keyed in self.fields],
                "nested": [child.spec() for child in self.children]}

    def extraction(self, source_sql: str) -> str:
        """The UDF call giving this level's objects from the JSON text `source_sql`."""
        if self.depth > MAX_NESTED_DEPTH:
            raise QueryDslError(f"[nested] queries nest at most {MAX_NESTED_DEPTH} deep on Spark")
        spec = json.dumps(self.spec(), separators=(",", ":"))
        return f"{nested_function(self.depth)}({source_sql}, {self.spelling.literal(spec)})"

    def exists(self, name: str) -> str:
        values = self._values(name, keyed=False)
        return "FALSE" if values is None else f"({self.spelling.size(values)} > 0)"

    def nested(self, path: str, query: Mapping[str, Any]) -> str:
        variable = self.new_name()
        relative = self._relative(path)
        child = _SparkObjects(self, path, _key_paths(relative) if relative else [], variable)
        condition = _Translator(child).query(query)
        if relative is None:
            return "FALSE"
        self.children.append(child)
        objects = f"{self.variable}.n[{len(self.children) - 1}]"
        return f"coalesce({self.spelling.any(objects, variable, condition)}, FALSE)"

    def _values(self, name: str, *, keyed: bool) -> str | None:
        relative = self._relative(name)
        if relative is None:
            return None
        slot = self.fields.setdefault((relative, keyed), len(self.fields))
        return f"{self.variable}.v[{slot}]"

    def _any(self, name: str, predicate: Callable[[str], str], *, keyed: bool = False) -> str:
        values = self._values(name, keyed=keyed)
        if values is None:
            return "FALSE"
        variable = self.new_name()
        return f"coalesce({self.spelling.any(values, variable, predicate(variable))}, FALSE)"

    def _ip_key(self, text_sql: str) -> str:
        return text_sql  # the values were handed over keyed


# -- SQL pieces ---------------------------------------------------------------------------


def _words_match(spelling: _Spelling, text_sql: str, value: object, *, phrase: bool,
                 token: str | None = None) -> str:
    """`match_phrase` (the query's words in a row) or `match` (any word) on a text value.
    A query without words matches nothing (ES's zero_terms_query default)."""
    query = spelling.words(spelling.literal(_text_of(value)), token)
    words = spelling.words(text_sql, token)
    if not phrase:
        return spelling.shares_any(words, query)

    def spaced(words: str) -> str:  # words can hold no space: the phrase is a substring
        return f"(' ' || {spelling.joined(words)} || ' ')"

    return (f"({spelling.size(query)} > 0 AND "
            f"{spelling.dialect.call('contains', spaced(words), spaced(query))})")


def lucene_wildcard_to_like(pattern: str) -> str:
    """A LIKE pattern (ESCAPE '\\') for a Lucene wildcard: `*` any run, `?` one character,
    a backslash makes the next character literal (a trailing one is itself)."""
    out = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            char = next(chars, "\\")
            out.append("\\" + char if char in "%_\\" else char)
        elif char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char in "%_":
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def _check_wildcard_type(name: str, es_type: str) -> None:
    if es_type not in _WILDCARD_TYPES:
        raise QueryDslError(f"Can only use wildcard queries on keyword and text fields - not on "
                            f"[{name}] which is of type [{es_type}]")


def _key_paths(path: str) -> list[str]:
    """JSON pointers for every way a dotted name can be spelled as object keys in a source
    (`a.b.c`, `{"a.b": {"c"}}`, …), the fully nested one first."""
    segments = path.split(".")
    if len(segments) > _MAX_PATH_SEGMENTS:
        raise QueryDslError(f"the path [{path}] is too deep for a nested query")
    pointers = []
    for cuts in itertools.product((True, False), repeat=len(segments) - 1):
        keys, current = [], segments[0]
        for cut, segment in zip(cuts, segments[1:], strict=True):
            if cut:
                keys.append(current)
                current = segment
            else:
                current += "." + segment
        keys.append(current)
        pointers.append("".join("/" + key.replace("~", "~0").replace("/", "~1")
                                for key in keys))
    return pointers


def _json_first_at(json_sql: str, path: str, new_name: Callable[[], str]) -> str:
    """The first non-null JSON value at `path` in a JSON document, under any spelling."""
    pointers = ", ".join(sql_literal(pointer) for pointer in _key_paths(path))
    variable = new_name()
    return (f"list_filter(json_extract({json_sql}, [{pointers}]), "
            f"lambda {variable}: json_type({variable}) <> 'NULL')[1]")


def _json_objects_at(json_sql: str, path: str, new_name: Callable[[], str]) -> str:
    """SQL list of the objects at `path` (an array's objects, or the one object)."""
    value = _json_first_at(json_sql, path, new_name)
    bound, element = new_name(), new_name()
    spread = (f"list_transform([{value}], lambda {bound}: CASE json_type({bound}) "
              f"WHEN 'ARRAY' THEN json_extract({bound}, '$[*]') "
              f"WHEN 'OBJECT' THEN [{bound}] ELSE CAST([] AS JSON[]) END)[1]")
    return f"list_filter({spread}, lambda {element}: json_type({element}) = 'OBJECT')"


# -- reading the DSL ----------------------------------------------------------------------


def _single_should(query: Any) -> list[Any] | None:
    """The clauses of a bool that only ORs them (KQL's shape for each leaf and list), else
    None."""
    if not isinstance(query, Mapping) or set(query) != {"bool"}:
        return None
    body = query["bool"]
    if not isinstance(body, Mapping) or not set(body) <= {"should", "minimum_should_match"}:
        return None
    should = body.get("should")
    if not isinstance(should, list) or not should:
        return None
    if str(body.get("minimum_should_match", 1)).strip() != "1":
        return None
    return should


def _value_leaf(query: Any) -> tuple[str, bool, object] | None:
    """(field, phrase?, value) of a plain term, match or match_phrase query."""
    if not isinstance(query, Mapping) or len(query) != 1:
        return None
    ((kind, body),) = query.items()
    if kind not in ("term", "match", "match_phrase") or not isinstance(body, Mapping) \
            or len(body) != 1:
        return None
    ((name, value),) = body.items()
    if isinstance(value, Mapping):
        if set(value) not in ({"query"}, {"value"}):
            return None
        value = next(iter(value.values()))
    if not isinstance(name, str) or not isinstance(value, str | int | float) \
            or isinstance(value, bool):
        return None
    return name, kind == "match_phrase", value


def _ids_values(body: Any) -> list[str]:
    """The ids of an `ids` query. Elasticsearch's IdsQueryBuilder reads `values` as a string
    array (a single string too; numbers as their text) and matches nothing without it."""
    values = _options("ids", body, frozenset({"values", "boost", "_name"})).get("values", [])
    values = values if isinstance(values, list) else [values]
    if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
        raise QueryDslError(f"[ids] values must be strings, found {values!r}")
    return [str(value) for value in values]


def _is_term(query: Mapping[str, Any]) -> bool:
    return "term" in query


def _options(kind: str, body: Any, known: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise QueryDslError(f"[{kind}] takes an object")
    unknown = sorted(set(body) - known)
    if unknown:
        raise QueryDslError(f"[{kind}] option [{unknown[0]}] is not supported")
    return body


def _query_string_terms(query: str) -> list[str]:
    """The whitespace-separated clauses of a query_string, escapes kept; refuses the
    operators and syntax beyond terms and wildcards (the default OR is implied)."""
    terms: list[str] = []
    current: list[str] = []
    chars = iter(query)
    for char in chars:
        if char == "\\":
            current.append(char + next(chars, "\\"))
        elif char.isspace():
            terms.append("".join(current))
            current = []
        elif char in _QUERY_STRING_SYNTAX or (char in "+-" and not current):
            raise QueryDslError(f"[query_string] syntax [{char}] in [{query}] is not supported: "
                                f"Lanner runs terms and wildcards")
        else:
            current.append(char)
    terms.append("".join(current))
    found = []
    for term in terms:
        if term in ("AND", "NOT"):
            raise QueryDslError(f"[query_string] operator [{term}] is not supported")
        if term and term != "OR":
            found.append(term)
    return found


def _has_wildcard(term: str) -> bool:
    """Whether a query_string term has an unescaped `*` or `?`."""
    escaped = False
    for char in term:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "*?":
            return True
    return False


def _lucene_unescape(term: str) -> str:
    return re.sub(r"\\(.)", r"\1", term, flags=re.DOTALL)


def _minimum_should_match(value: object, should: int, *, default: int) -> int:
    """How many `should` clauses must match: ES's integer, negative and percentage forms."""
    if value is None:
        return default if should else 0
    text = str(value).strip()
    try:
        if text.endswith("%"):
            percent = int(text[:-1])
            count = should * abs(percent) // 100
            return count if percent >= 0 else should - count
        number = int(text)
    except ValueError:
        raise QueryDslError(f"minimum_should_match [{value}] is not supported") from None
    return number if number >= 0 else max(should + number, 0)


def _field_body(kind: str, body: Any) -> tuple[str, dict[str, Any]]:
    """`{"field": value}` or `{"field": {"value": …, options}}` -> field, options."""
    if not isinstance(body, Mapping):
        raise QueryDslError(f"[{kind}] takes an object")
    fields = [(name, value) for name, value in body.items() if name != "boost"]
    if len(fields) != 1:
        raise QueryDslError(f"[{kind}] takes exactly one field")
    ((name, value),) = fields
    if kind == "range" or isinstance(value, Mapping):
        return _name(name), dict(value)
    return _name(name), {"value": value}


def _name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise QueryDslError(f"a field name must be a string, found {name!r}")
    return name


def _text_of(value: object) -> str:
    """A term as the text ES analyses: JSON's spelling of booleans, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, Mapping | list):
        raise QueryDslError(f"unsupported value {value!r}")
    return str(value)


def _literal(value: object) -> ast.Literal:
    if value is None:
        return ast.Null()
    if isinstance(value, bool):
        return ast.Boolean(value)
    if isinstance(value, int | float):
        return ast.Number(value)
    if isinstance(value, str):
        return ast.String(value)
    raise QueryDslError(f"unsupported value {value!r}")
