"""Load detection-rules TOML files: one rule per file, folders searched recursively.

A file that cannot be read or lacks a required key raises RuleLoadError naming the path and
the key; `load_rules` collects those and carries on with the other files.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lanner.errors import LannerError, Location
from lanner.rules.model import QueryOrigin, Rule

REQUIRED_KEYS = ("name", "rule_id", "type", "query")
_QUERY_KEY = re.compile(r"""^[ \t]*query[ \t]*=[ \t]*('''|\"\"\"|'|")""", re.MULTILINE)


class RuleLoadError(LannerError):
    """A rule file that could not be loaded, with the place and the key at fault."""

    def __init__(self, message: str, location: Location, key: str | None = None) -> None:
        super().__init__(f"{location}: {message}")
        self.message = message
        self.location = location
        self.key = key


def find_rule_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Every .toml file under the given files and folders, in a stable order."""
    for path in map(Path, paths):
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.toml") if p.is_file())
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
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line, col = _toml_error_position(str(error))
        raise RuleLoadError(f"invalid TOML: {error}", Location(path, line, col)) from error
    rule = document.get("rule")
    if not isinstance(rule, dict):
        raise RuleLoadError("no [rule] table", Location(path, 1, 1), key="rule")
    for key in REQUIRED_KEYS:
        if key not in rule:
            raise RuleLoadError(f"missing required key rule.{key}", Location(path, 1, 1), key=key)
    if not isinstance(rule["query"], str):
        raise RuleLoadError("rule.query must be a string", Location(path, 1, 1), "query")
    index = rule.get("index", ())
    if isinstance(index, str):
        index = (index,)
    metadata: dict[str, Any] = document.get("metadata", {})
    return Rule(
        name=str(rule["name"]),
        rule_id=str(rule["rule_id"]),
        type=str(rule["type"]),
        language=rule.get("language"),
        query=rule["query"],
        index=tuple(index),
        severity=rule.get("severity"),
        risk_score=rule.get("risk_score"),
        path=path,
        origin=query_origin(text, rule["query"]),
        maturity=metadata.get("maturity"),
        raw=rule,
    )


def load_rules(paths: Iterable[str | Path]) -> tuple[list[Rule], list[RuleLoadError]]:
    """All rules under the paths, and the files that failed, without stopping at the first."""
    rules: list[Rule] = []
    errors: list[RuleLoadError] = []
    try:
        files = list(find_rule_files(paths))
    except RuleLoadError as error:
        return rules, [error]
    for file in files:
        try:
            rules.append(load_rule_file(file))
        except RuleLoadError as error:
            errors.append(error)
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
