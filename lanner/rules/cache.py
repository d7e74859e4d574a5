"""An on-disk cache of loaded rule files: the Rule a TOML file gives and its parsed, checked
EQL query, so that a hunt with a thousand rules does not parse a thousand TOML files and
queries on every start. Each query is kept as its own pickle inside the entry, read only when
the query is first used (lanner.eql.remember): a hunt over a few indices plans a fraction of
the rules, and reading every query's tree was most of a warm start. An entry also keeps what
lanner.rules.known learns from the file (the query's fields, whether the file has exceptions).

Never stale: an entry's key is the sha256 of the file's bytes, its path, Lanner's version and
the cache format, so a changed file, a moved one or a new Lanner misses it. Entries live in one
pickle per set of files loaded together (`load_rules` of some folders), under
$XDG_CACHE_HOME/lanner (default ~/.cache/lanner); a bundle is rewritten, atomically (a temp
file, then os.replace), when any of its files missed. Pickle is only read from a directory that
is the user's own (owned by them, mode 0700) and files they own that nobody else can write; a
corrupt or unreadable bundle is ignored and rewritten. `LANNER_CACHE=off` disables it all.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lanner import __version__
from lanner import cache as disk
from lanner.cache import cache_root, enabled

__all__ = ["cache_root", "enabled"]  # the rules loader and `lanner cache clear` read them here

FORMAT = 3  # bump when what an entry holds, or Rule's fields, change shape
_SUBDIR = "rules"


def rules_dir(create: bool = False) -> Path | None:
    """The rules cache directory, if the cache is on and the directory can be trusted."""
    return disk.folder(_SUBDIR, create)


@functools.lru_cache(maxsize=1)
def version() -> str:
    """Lanner's version, and a fingerprint of the code that makes what is cached (the rules
    and EQL packages: their files' sizes and times), so that an edited checkout misses too."""
    here = Path(__file__).resolve().parent
    stamps = sorted(f"{p.name}:{s.st_size}:{s.st_mtime_ns}"
                    for folder in (here, here.parent / "eql") for p in folder.glob("*.py")
                    for s in [p.stat()])
    return f"{__version__}+{hashlib.sha256(','.join(stamps).encode()).hexdigest()[:16]}"


def entry_key(path: str, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    joined = f"{FORMAT}\0{version()}\0{path}\0{digest}"
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()


def bundle_name(paths: list[str]) -> str:
    joined = "\0".join([str(FORMAT), version(), *paths])
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest() + ".pickle"


def read_bundle(name: str) -> dict[str, Any]:
    """The entries of a bundle; empty when missing, untrusted, corrupt or of another version."""
    folder = rules_dir()
    if folder is None:
        return {}
    content = disk.read_pickle(folder / name)
    if (not isinstance(content, dict) or content.get("format") != FORMAT
            or content.get("version") != version()
            or not isinstance(content.get("entries"), dict)):
        return {}
    return content["entries"]


def write_bundle(name: str, entries: dict[str, Any]) -> None:
    """Store a bundle atomically; a cache that cannot be written is silently not written."""
    folder = rules_dir(create=True)
    if folder is None:
        return
    content = {"format": FORMAT, "version": version(), "entries": entries}
    if disk.write_pickle(folder / name, content, _Pickler):
        disk.prune(folder, KEEP)


KEEP = 32  # bundles kept; loads of ever new sets of files (temporary folders) would pile up


_FIELDS: dict[type, tuple[str, ...]] = {}
_BUILDERS: dict[type, Callable[[tuple[Any, ...]], Any]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _rebuild(cls: type, values: tuple[Any, ...]) -> Any:
    """A dataclass instance from its field values, without dataclasses' slow __setstate__
    (which looks its fields up again for every node: most of a warm load's time)."""
    build = _BUILDERS.get(cls)
    if build is None:
        build = _BUILDERS[cls] = _builder(cls)
    return build(values)


def _builder(cls: type) -> Callable[[tuple[Any, ...]], Any]:
    """A function that makes a `cls` from its field values, written out field by field as
    dataclasses writes an __init__: a loop over the names took 40% longer (the 688 queries
    of a warm round of all rules: 0.057 s against 0.041 s)."""
    names = _field_names(cls)
    source = "\n".join([
        "def build(values):",
        f"    if len(values) != {len(names)}:",
        f"        raise ValueError('{cls.__qualname__} has {len(names)} fields')",
        "    obj = new(cls)",
        *(f"    set(obj, {name!r}, values[{number}])" for number, name in enumerate(names)),
        "    return obj"])
    namespace: dict[str, Any] = {"new": cls.__new__, "cls": cls, "set": object.__setattr__}
    exec(source, namespace)  # our own text: the field names of a dataclass
    return namespace["build"]


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if dataclasses.is_dataclass(cls) and not isinstance(obj, type):
            return _rebuild, (cls, tuple(getattr(obj, name) for name in _field_names(cls)))
        return NotImplemented


def dump_query(query: Any) -> bytes:
    """A parsed query as the bytes an entry keeps (see `load_query`)."""
    file = io.BytesIO()
    _Pickler(file, protocol=pickle.HIGHEST_PROTOCOL).dump(query)
    return file.getvalue()


def load_query(data: bytes) -> Any:
    """The parsed query `dump_query` made these bytes of (read from a bundle read_bundle
    trusted)."""
    with disk.gc_paused():
        return pickle.loads(data)  # our own bytes, from our own 0700 folder


def clear() -> int:
    """Remove Lanner's on-disk caches (loaded rules, and the compiled SQL of their
    conditions: `lanner cache clear`); the number of files removed."""
    return disk.clear()
