"""What loading the rule files learnt that later steps would otherwise read or parse again:
the fields each EQL query refers to (a hunt asks the store for them before it plans any
query), whether a TOML rule file has exceptions of its own, and the parsed queries of the
rules cache, handed to eql.parse unread.

`load_rules` records these for every TOML rule it loads through the rules cache (hit or
miss); what it has not seen is unknown (None), and the caller reads or parses as before.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from lanner import eql
from lanner.cache import gc_paused
from lanner.eql import ast
from lanner.rules import cache

_QUERY_FIELDS: dict[str, frozenset[str]] = {}
_OWN_EXCEPTIONS: dict[str, bool] = {}
_UNREAD: dict[str, bytes] = {}  # query text -> its parse, pickled (cache.dump_query)


def remember_query(text: str, data: bytes) -> None:
    """Hand a cached parsed query (cache.dump_query) to eql.parse, read when first asked:
    a hunt over a few indices plans a fraction of its rules."""
    _UNREAD[text] = data
    eql.remember(text, functools.partial(_read, text))


def _read(text: str) -> ast.Query:
    return cache.load_query(_UNREAD.pop(text))


def read_queries(texts: Iterable[str]) -> None:
    """Read now the cached parsed queries of these texts that are still unread, in one go:
    the garbage collector paused once rather than once per query."""
    with gc_paused():
        for text in texts:
            if text in _UNREAD:
                eql.parse(text)


def fields_of(query: ast.Query) -> frozenset[str]:
    """The names of every field reference of a parsed query: what the engine's plan of it
    reads (lanner.engine.plan.Plan.fields)."""
    return frozenset(node.name for node in query.find_all(ast.Field))


def learn(query: str, fields: frozenset[str] | None, path: str, own_exceptions: bool) -> None:
    """Record a loaded TOML rule: its EQL query's fields (None: not EQL, or it does not
    parse), and whether its file has an `exceptions` key."""
    if fields is not None:
        _QUERY_FIELDS[query] = fields
    _OWN_EXCEPTIONS[path] = own_exceptions


def query_fields(query: str) -> frozenset[str] | None:
    """The fields of an EQL query known to parse and pass its checks; None if not known."""
    return _QUERY_FIELDS.get(query)


def has_own_exceptions(path: str) -> bool | None:
    """Whether the rule file, as loaded, has an `exceptions` key; None if not known."""
    return _OWN_EXCEPTIONS.get(path)
