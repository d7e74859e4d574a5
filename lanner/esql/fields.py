"""The source fields an ES|QL query can read: what a hunt asks the store to load for it.

Every name the query uses as a column (a name it makes itself with EVAL, STATS, DISSECT, GROK or
RENAME is included too: harmless, as a store simply has no such field), the names KEEP, DROP,
RENAME and MV_EXPAND list, and the field names of its `KQL()` queries. Name patterns (`KEEP
host.*`) cannot be listed: a non-aggregating rule's alert takes its event's whole `_source`
anyway.
"""

from __future__ import annotations

from lanner import kql
from lanner.esql import ast
from lanner.esql.errors import EsqlError
from lanner.esql.parser import Parser


def fields_read(text: str) -> set[str]:
    """The field names of the query; none for a query that does not parse (its run fails)."""
    try:
        query = Parser(text).parse_query()
    except EsqlError:
        return set()
    names: set[str] = set()
    for node in query.walk():
        if isinstance(node, ast.Column):
            names.add(node.name)
        elif isinstance(node, ast.MvExpand):
            names.add(node.column)
        elif isinstance(node, ast.Rename):
            names.update(old for old, _ in node.pairs)
        elif isinstance(node, ast.Keep | ast.Drop):
            names.update(p for p in node.patterns if "*" not in p)
        elif isinstance(node, ast.Call) and node.name == "KQL" and node.args \
                and isinstance(node.args[0], ast.Literal) and isinstance(node.args[0].value, str):
            names.update(_kql_fields(node.args[0].value))
    return {name for name in names if not name.startswith("_")}


def _kql_fields(text: str) -> set[str]:
    try:
        tree = kql.parse(text)
    except kql.KqlError:
        return set()
    found = set()
    for node in tree.walk():
        name = getattr(node, "field", None)
        if isinstance(node, kql.ast.FieldValue | kql.ast.Range) \
                and isinstance(name, kql.ast.Literal) and isinstance(name.value, str):
            found.add(name.value)
    return found
