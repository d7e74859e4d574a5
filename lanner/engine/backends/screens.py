"""Screens of a round's filters: before the passes, the filters that cannot match any event
are found cheaply and left out (each finds nothing, as its pass would).

A filter's condition is the `and` of its terms, each alone necessary. Over few events
(`screen_rows`) a pass costs what DuckDB takes to parse and bind its SQL, and most of a
thousand rules' filters fail on a short term (`host.os.type == "linux"`, `process.name in
(...)`): the short terms are evaluated over the rows, and only the filters whose every one
holds for some event run whole. Over many events (`screen_values`) the terms that read one
column are evaluated over that column's distinct values per index instead of over the rows: a
term that holds for none of them holds for no event (all corpus rules over the 1M-event
benchmark: 984 filters, 473 left out, the rules phase 21 -> 9 s).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import duckdb

from lanner.engine.backends.pass_sql import (
    computed_columns,
    hoist,
    only_column,
    quoted,
    with_columns,
)
from lanner.engine.backends.sql import QueryFailedError

if TYPE_CHECKING:
    from lanner.engine.backends.duckdb import DuckDBBackend, Member

# Terms per statement; both screens' statements run side by side on two connections (over few
# events a statement costs its parsing and binding, about 1 ms per kilobyte, on one core).
_TERMS_PER_STATEMENT = 128
SCREEN_WORKERS = 2
# Columns with more distinct values than this are not screened over their values: their terms
# (command lines, arguments, paths) cost more over the values than they spare the passes.
_SCREENED_VALUES = 2_000
_VALUE_TERMS_PER_STATEMENT = 256
# Floating-point columns are not screened: DISTINCT makes one value of -0.0 and 0.0.
_INEXACT_DISTINCT = re.compile(r"FLOAT|DOUBLE|REAL")


def screen_rows(backend: DuckDBBackend, members: list[Member]) -> list[Member]:
    """The members whose screened (short) terms each hold for some event of their category in
    their group's indices (a superset of the events their pass reads)."""
    if not any(member.screen for member in members):
        return members
    terms: dict[tuple[object, ...], dict[str, int]] = {}
    indices: dict[tuple[object, ...], dict[str, None]] = {}
    for member in members:
        within = terms.setdefault(member.group[2:], {})
        for term in member.screen:
            within.setdefault(term, len(within))
        indices.setdefault(member.group[2:], {}).update(dict.fromkeys(member.scope.indices))
    batches: list[tuple[tuple[object, ...], list[str]]] = []
    for group, within in terms.items():
        listed = list(within)
        batches += [(group, listed[start:start + _TERMS_PER_STATEMENT])
                    for start in range(0, len(listed), _TERMS_PER_STATEMENT)]

    def screen(con: duckdb.DuckDBPyConnection,
               batch: tuple[tuple[object, ...], list[str]]) -> list[tuple[object, str]]:
        group, listed = batch
        hoisted, written = hoist(listed)
        where = backend.within(tuple(indices[group]), str(group[0] or "TRUE"))
        sql = (f"SELECT DISTINCT {_held(written)} "
               f"FROM {with_columns(computed_columns(hoisted))} WHERE {where}")
        try:
            return [(group, listed[row[0]]) for row in backend.rows(con, sql)]
        except QueryFailedError:  # no screen: the whole conditions decide
            return [(group, term) for term in listed]

    batches.sort(key=lambda batch: -sum(map(len, batch[1])))
    held = {pair for found in backend.side_by_side(screen, batches, SCREEN_WORKERS)
            for pair in found}
    return [member for member in members
            if all((member.group[2:], term) in held for term in member.screen)]


def screen_values(backend: DuckDBBackend, members: list[Member]) -> list[Member]:
    """The members whose terms on one column each hold for some distinct value of that column
    in one of their indices (with that value, some event's row would meet the term)."""
    types = {row[0]: row[1] for row in backend.rows(backend.con, "DESCRIBE events")}
    column_of = {term: column for term in dict.fromkeys(term for member in members
                                                        for term in member.terms)
                 for column in [only_column(term)]
                 if column in types and not _INEXACT_DISTINCT.search(types[column])}
    if not column_of:
        return members
    by_column: dict[str, list[str]] = {}
    for term, column in column_of.items():
        by_column.setdefault(column, []).append(term)
    counts = ", ".join(f"approx_count_distinct({quoted(column)})" for column in by_column)
    try:
        found = backend.rows(backend.con, f"SELECT {counts} FROM events")[0]
    except QueryFailedError:  # no screen: the whole conditions decide
        return members
    few = [column for column, count in zip(by_column, found, strict=True)
           if count <= _SCREENED_VALUES]
    batches = [(column, by_column[column][start:start + _VALUE_TERMS_PER_STATEMENT])
               for column in few
               for start in range(0, len(by_column[column]), _VALUE_TERMS_PER_STATEMENT)]
    batches.sort(key=lambda batch: -sum(map(len, batch[1])))

    def screen(con: duckdb.DuckDBPyConnection,
               batch: tuple[str, list[str]]) -> list[tuple[str, str | None]]:
        column, terms = batch
        sql = (f"SELECT DISTINCT {_held(terms)}, _index "
               f"FROM (SELECT DISTINCT _index, {quoted(column)} FROM events)")
        try:
            return [(terms[number], index) for number, index in backend.rows(con, sql)]
        except QueryFailedError:  # no screen: the whole conditions decide
            return [(term, None) for term in terms]

    held: dict[str, set[str | None]] = {}
    for found_terms in backend.side_by_side(screen, batches, SCREEN_WORKERS):
        for term, index in found_terms:
            held.setdefault(term, set()).add(index)
    screened = set(few)

    def can_match(member: Member) -> bool:
        for term in member.terms:
            if column_of.get(term) in screened:
                within = held.get(term, set())  # indices with a value it holds for
                if None not in within and within.isdisjoint(member.scope.indices):
                    return False
        return True

    return [member for member in members if can_match(member)]


def _held(terms: list[str]) -> str:
    """A select-list item: the number of each term that holds for the row, a row per term."""
    cases = ", ".join(f"CASE WHEN {term} THEN {number} END" for number, term in enumerate(terms))
    return f"unnest(list_filter([{cases}], lambda _t: _t IS NOT NULL))"
