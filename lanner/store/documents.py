"""Fields of a JSON document as Elasticsearch reads them: a dotted path may be spelt with
nested objects, dotted keys or a mix, and arrays (of values or of objects) are flattened.

The alert store indexes alerts with these, and investigation guides fill `{{field}}` with them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any


def field_values(node: Any, path: str) -> list[Any]:
    """Every value of a field, as ES would see it: nested or dotted keys, arrays flattened."""
    if type(node) is dict:  # the common case first: one value under its dotted name
        value = node.get(path)
        if type(value) in _SCALARS:
            return [value]
    found: list[Any] = []
    _collect(node, path, found, _leaves)
    return found


def field_objects(node: Any, path: str) -> list[Any]:
    """Whatever a path holds, objects included, arrays flattened."""
    found: list[Any] = []
    _collect(node, path, found, _items)
    return found


_SCALARS = frozenset({str, int, float, bool})


def _collect(
    node: Any, path: str, found: list[Any], take: Callable[[Any, list[Any]], None]
) -> None:
    kind = type(node)
    if kind is list:
        for item in node:
            _collect(item, path, found, take)
        return
    if kind in _SCALARS or (kind is not dict and not isinstance(node, Mapping)):
        return
    if path in node:  # spelt out in full: an object holding it as well would be perverse
        take(node[path], found)
        return
    for head, rest in path_splits(path):
        child = node.get(head)
        if child is not None:
            _collect(child, rest, found, take)


@functools.cache
def path_splits(path: str) -> tuple[tuple[str, str], ...]:
    """`a.b.c` -> (`a`, `b.c`), (`a.b`, `c`): where an object may hold the rest of a path."""
    return tuple((path[:at], path[at + 1 :]) for at, char in enumerate(path) if char == ".")


def _leaves(value: Any, found: list[Any]) -> None:
    kind = type(value)
    if kind is list:
        for item in value:
            _leaves(item, found)
    elif kind in _SCALARS or (
        value is not None and kind is not dict and not isinstance(value, Mapping)
    ):
        found.append(value)


def _items(value: Any, found: list[Any]) -> None:
    if type(value) is list:
        for item in value:
            _items(item, found)
    elif value is not None:
        found.append(value)
