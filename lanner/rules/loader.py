"""Load rules: detection-rules TOML files (one rule per file) and Kibana rule exports
(NDJSON), folders searched recursively.

A file that cannot be read or has a bad key raises RuleLoadError naming the path, the line and
the key; `load_rules` collects those and carries on with the other rules.
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from lanner import eql
from lanner.eql import ast
from lanner.errors import Location
from lanner.rules import cache, known
from lanner.rules.build import RuleLoadError, rule_from_mapping
from lanner.rules.model import QueryOrigin, Rule

_QUERY_KEY = re.compile(r"""^[ \t]*query[ \t]*=[ \t]*('''|\"\"\"|'|")""", re.MULTILINE)
RULE_SUFFIXES = (".toml", ".ndjson")


def find_rule_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Every rule file (TOML, or a Kibana export in NDJSON) under the given files and
    folders, in a stable order."""
    for path in map(Path, paths):
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*")
                              if p.suffix in RULE_SUFFIXES and p.is_file())
        elif path.exists():
            yield path
        else:
            raise RuleLoadError("no such file or folder", Location(str(path)))


def load_rule_file(path: str | Path) -> Rule:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RuleLoadError(f"cannot read the file: {error}", Location(str(path))) from error
    return load_rule_text(text, str(path))


def load_rule_text(text: str, path: str | None = None) -> Rule:
    """A rule from the text of a detection-rules TOML file."""
    return _rule_and_document(text, path)[0]


def _rule_and_document(text: str, path: str | None) -> tuple[Rule, dict[str, Any]]:
    """The rule of a TOML file's text, and the whole parsed file."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line, col = _toml_error_position(str(error))
        raise RuleLoadError(f"invalid TOML: {error}", Location(path, line, col)) from error
    rule = document.get("rule")
    if not isinstance(rule, dict):
        raise RuleLoadError("no [rule] table", Location(path, 1, 1), key="rule")

    def locate(key: str) -> Location:
        match = re.search(rf"^[ \t]*{re.escape(key)}[ \t]*=", text, re.MULTILINE)
        return Location(path, text.count("\n", 0, match.start()) + 1 if match else 1, 1)

    metadata = document.get("metadata", {})
    transform = document.get("transform")
    built = rule_from_mapping(rule, locate, transform=transform if isinstance(transform, dict)
                              else None, maturity=metadata.get("maturity"))
    return replace(built, path=path, origin=query_origin(text, built.query)), document


def load_rules(paths: Iterable[str | Path]) -> tuple[list[Rule], list[RuleLoadError]]:
    """All rules under the paths, and the files that failed, without stopping at the first.

    TOML rules come from the on-disk cache (lanner.rules.cache) when their file is unchanged,
    their EQL query already parsed and checked; what missed is loaded and cached.
    """
    rules: list[Rule] = []
    errors: list[RuleLoadError] = []
    try:
        files = list(find_rule_files(paths))
    except RuleLoadError as error:
        return rules, [error]
    use_cache = cache.enabled()
    name = cache.bundle_name([str(file) for file in files]) if use_cache else ""
    known_entries = cache.read_bundle(name) if use_cache else {}
    entries: dict[str, _Entry] = {}
    for file in files:
        if file.suffix == ".ndjson":
            exported, failed = load_rule_export(file)
            rules.extend(exported)
            errors.extend(failed)
            continue
        if not use_cache:
            try:
                rules.append(load_rule_file(file))
            except RuleLoadError as error:
                errors.append(error)
            continue
        try:
            data = file.read_bytes()
        except OSError as error:
            errors.append(RuleLoadError(f"cannot read the file: {error}", Location(str(file))))
            continue
        key = cache.entry_key(str(file), data)
        entry = known_entries.get(key)
        if entry is None:
            try:
                entry, query = _load_entry(data, str(file))
            except RuleLoadError as error:
                errors.append(error)
                continue
            if query is not None:
                eql.remember(entry.rule.query, query)
        elif entry.query is not None:
            known.remember_query(entry.rule.query, entry.query)
        known.learn(entry.rule.query, entry.fields, str(file), entry.own_exceptions)
        rules.append(entry.rule)
        entries[key] = entry
    if use_cache and entries.keys() != known_entries.keys():
        cache.write_bundle(name, entries)
    return rules, errors


class _Entry(NamedTuple):
    """What the rules cache keeps of a TOML rule file."""

    rule: Rule
    query: bytes | None  # its EQL query parsed and checked (lanner.rules.cache.dump_query)
    fields: frozenset[str] | None  # lanner.rules.known.fields_of that query
    own_exceptions: bool  # whether the file has an `exceptions` key


def _load_entry(data: bytes, path: str) -> tuple[_Entry, ast.Query | None]:
    """A rule file's entry, and its EQL query parsed and checked (None if it is not EQL or
    does not parse: the rule reports that when it runs)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RuleLoadError(f"cannot read the file: {error}", Location(path)) from error
    # as read_text reads it: universal newlines
    rule, document = _rule_and_document(text.replace("\r\n", "\n").replace("\r", "\n"),
                                        path)
    query = None
    if rule.is_eql:
        with contextlib.suppress(eql.EqlError, RecursionError):
            query = eql.parse(rule.query)
    if query is None:
        return _Entry(rule, None, None, "exceptions" in document), None
    return _Entry(rule, cache.dump_query(query), known.fields_of(query),
                  "exceptions" in document), query


def load_rule_export(path: str | Path) -> tuple[list[Rule], list[RuleLoadError]]:
    """Rules from Kibana's rule export (one JSON rule per line, then a summary line).

    Lines that are not rules (the export summary, exception lists and their items) are passed
    over; a line that is not JSON, or a rule with a bad key, is an error naming its line.
    """
    path = Path(path)
    try:
        lines = path.read_bytes().splitlines()
    except OSError as error:
        return [], [RuleLoadError(f"cannot read the file: {error}", Location(str(path)))]
    rules: list[Rule] = []
    errors: list[RuleLoadError] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        here = Location(str(path), number, 1)
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            errors.append(RuleLoadError(f"not a JSON object: {error}", here))
            continue
        if not isinstance(data, dict):
            errors.append(RuleLoadError("not a JSON object", here))
            continue
        if "exported_count" in data or ("rule_id" not in data and "list_id" in data):
            continue
        try:
            rule = rule_from_mapping(data, lambda _key, here=here: here)
        except RuleLoadError as error:
            errors.append(error)
            continue
        rules.append(replace(rule, path=str(path), origin=QueryOrigin(number, 1, escaped=True)))
    return rules, errors


def query_origin(text: str, query: str) -> QueryOrigin:
    """Where the rule's query starts in the file text.

    Of the `query =` keys in the file (osquery entries have them too), the one whose text
    begins like the parsed query wins. TOML drops a newline right after an opening triple
    quote, so such a query starts on the next line, at column 1.
    """
    probe = query[:60].split("\\")[0]
    fallback = None
    for match in _QUERY_KEY.finditer(text):
        quote = match.group(1)
        start = match.end()
        if len(quote) == 3 and text.startswith(("\n", "\r\n"), start):
            start = text.index("\n", start) + 1
        line = text.count("\n", 0, start) + 1
        col = start - (text.rfind("\n", 0, start) + 1) + 1
        origin = QueryOrigin(line, col, escaped=quote.startswith('"'))
        if text.startswith(probe, start):
            return origin
        fallback = fallback or origin
    return fallback or QueryOrigin()


def _toml_error_position(message: str) -> tuple[int | None, int | None]:
    match = re.search(r"at line (\d+), column (\d+)", message)
    return (int(match.group(1)), int(match.group(2))) if match else (None, None)
