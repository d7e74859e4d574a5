"""A JSON document's leaf paths as Elasticsearch indexes them (the store's one column per
leaf), and the null_value an explicit null stands for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def flatten(source: Mapping[str, Any]) -> dict[str, Any]:
    """Leaf paths of a document -> value, or list of values where the path is multi-valued.

    Nested objects and dotted keys give the same path; objects inside arrays give their leaf
    paths with the values as a list (ES doc values); nested arrays flatten; explicit nulls are
    kept (null_value needs them); empty arrays give nothing, as in ES.
    """
    out: dict[str, Any] = {}
    try:
        if _flatten_plain(source, "", out) == len(out):
            return out
    except _NeedsMerging:
        pass
    out = {}
    _flatten_object(source, "", out, False)
    return out


class _NeedsMerging(Exception):
    """An array holding objects or arrays: the merging flatten handles that."""


def _flatten_plain(obj: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> int:
    """The common case, fast: no path twice, arrays of scalars only (kept, not copied).

    Returns the number of leaves written; fewer paths than that means a path was written
    twice (`a.b` nested and dotted), and the merging flatten starts over.
    """
    count = 0
    for key, value in obj.items():
        kind = type(value)
        if kind is dict:
            count += _flatten_plain(value, prefix + key + ".", out)
        elif kind is list:
            if not value:
                continue
            for element in value:
                if type(element) is dict or type(element) is list:
                    raise _NeedsMerging
            out[prefix + key] = value
            count += 1
        else:
            out[prefix + key] = value
            count += 1
    return count


def _flatten_object(
    obj: Mapping[str, Any], prefix: str, out: dict[str, Any], in_list: bool
) -> None:
    for key, value in obj.items():
        path = prefix + key
        kind = type(value)
        if kind is dict:
            _flatten_object(value, path + ".", out, in_list)
        elif kind is list:
            _flatten_list(value, path, out)
        elif in_list:
            _add(out, path, value, force_list=True)
        elif path in out:
            _add(out, path, value, force_list=False)
        else:
            out[path] = value


def _flatten_list(items: list[Any], path: str, out: dict[str, Any]) -> None:
    for item in items:
        kind = type(item)
        if kind is dict:
            _flatten_object(item, path + ".", out, True)
        elif kind is list:
            _flatten_list(item, path, out)
        else:
            _add(out, path, item, force_list=True)


def _add(out: dict[str, Any], path: str, value: Any, force_list: bool) -> None:
    """Add one more value at a path: the path becomes (or stays) a list."""
    existing = out.get(path, _ABSENT)
    if existing is _ABSENT:
        out[path] = [value] if force_list else value
    elif type(existing) is list:
        existing.append(value)
    else:
        out[path] = [existing, value]


_ABSENT = object()


def apply_null_values(flat: dict[str, Any], null_values: dict[str, Any]) -> None:
    """ES indexes an explicit null (also inside an array) as the field's null_value."""
    for path, null_value in null_values.items():
        value = flat.get(path, _ABSENT)
        if value is None:
            flat[path] = null_value
        elif type(value) is list and None in value:
            flat[path] = [null_value if element is None else element for element in value]
