"""An on-disk cache of compiled conditions: a round of a thousand rules compiles each `where`
to SQL once per machine, not on every start (issue 21: 1.4 s of a small hunt's start).

Never stale: an entry's key is the condition (its AST, positions aside) and, for every field it
reads, all that the compiler asks the store about that field (SqlCompiler.field_state: column,
type, list or not, object, ECS schema type); the bundle's name and content carry Lanner's
version, a fingerprint of the code that compiles (COMPILER_SOURCES) and
DuckDB's version (which folds constants and checks regular expressions). Two stores that
agree on a condition's fields compile it alike, so one input's entries serve the next.

Only successful compilations are kept: a condition that fails compiles (and fails) again, with
its own message. The bundle lives in $XDG_CACHE_HOME/lanner/sql (lanner.cache: private folder,
atomic writes, `LANNER_CACHE=off`, `lanner cache clear`).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from pathlib import Path

import duckdb

from lanner import __version__
from lanner import cache as disk
from lanner.engine.backends.sql import SqlCompiler
from lanner.eql import ast

FORMAT = 1  # bump when the key or what an entry holds change shape
_SUBDIR = "sql"
_MAX_ENTRIES = 50_000  # past this, the bundle starts afresh rather than grow without end
_KEEP = 4  # bundles of other versions kept (checkouts switched back and forth)


# The code that decides what a condition compiles to: the compiler and every Lanner module it
# imports, with the EQL package's data (tests/engine/test_sqlcache.py checks that the list is
# closed under imports). Other edits to the engine or the store keep the cache.
COMPILER_SOURCES = ("engine/backends/sql.py", "engine/patterns.py", "engine/values.py",
                    "engine/sqlcache.py", "store/columns.py", "store/mappings.py",
                    "store/multifields.py", "errors.py", "cache.py", "eql")


@functools.lru_cache(maxsize=1)
def version() -> str:
    """Lanner's version, DuckDB's, and a fingerprint of the compiler's code (its files' sizes
    and times), so that an edited checkout misses."""
    package = Path(__file__).resolve().parent.parent
    files = [path for source in COMPILER_SOURCES for path in (
        sorted(p for p in (package / source).rglob("*") if p.is_file())
        if (package / source).is_dir() else [package / source])]
    stamps = [f"{p.relative_to(package)}:{s.st_size}:{s.st_mtime_ns}"
              for p in files if "__pycache__" not in p.parts for s in [p.stat()]]
    digest = hashlib.sha256(",".join(stamps).encode()).hexdigest()[:16]
    return f"{FORMAT}+{__version__}+duckdb-{duckdb.__version__}+{digest}"


def condition_key(compiler: SqlCompiler, condition: ast.Expr, text: str | None = None,
                  fields: Iterable[str] | None = None) -> str:
    """What a compiled condition depends on, hashed: its tree (`text`: its repr, when known)
    and the states of its fields (`fields`: a superset of them, when known, such as its
    query's: more states make a narrower key, never a wrong one)."""
    if fields is None:
        fields = (field.name for field in condition.find_all(ast.Field))
    states = [(name, compiler.field_state(name)) for name in sorted(set(fields))]
    tree = repr(condition) if text is None else text
    joined = f"{type(compiler.dialect).__name__}\0{tree}\0{states!r}"
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()


class CompiledConditions:
    """Conditions compiled by a backend, read from disk once and written back when new ones
    were compiled (`save`)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[str, ...]] | None = None
        self._new = 0

    def terms(self, compiler: SqlCompiler, condition: ast.Expr, text: str | None = None,
              fields: Iterable[str] | None = None) -> tuple[str, ...]:
        """`compiler.condition_terms(condition)`, from the cache when it holds it (`text` and
        `fields` as condition_key takes them)."""
        entries = self._load()
        if entries is None:
            return compiler.condition_terms(condition)
        key = condition_key(compiler, condition, text, fields)
        terms = entries.get(key)
        if terms is None:
            terms = entries[key] = compiler.condition_terms(condition)  # an error keeps nothing
            self._new += 1
        return terms

    @property
    def loaded(self) -> bool:
        """Whether the cache was read (by a round large enough to use it)."""
        return self._entries is not None

    def save(self) -> None:
        """Write the bundle back if conditions were added to it."""
        if not self._new or self._entries is None:
            return
        folder = disk.folder(_SUBDIR, create=True)
        if folder is None:
            return
        if len(self._entries) > _MAX_ENTRIES:
            self._entries = {}
        content = {"version": version(), "entries": self._entries}
        if disk.write_pickle(folder / _bundle_name(), content):
            disk.prune(folder, _KEEP)
        self._new = 0

    def _load(self) -> dict[str, tuple[str, ...]] | None:
        """The cached entries (read on first use); None when the cache is off."""
        if self._entries is None:
            if not disk.enabled():
                return None
            folder = disk.folder(_SUBDIR)
            content = disk.read_pickle(folder / _bundle_name()) if folder is not None else None
            valid = (isinstance(content, dict) and content.get("version") == version()
                     and isinstance(content.get("entries"), dict))
            self._entries = content["entries"] if valid else {}
        return self._entries


def _bundle_name() -> str:
    return hashlib.sha256(version().encode()).hexdigest()[:32] + ".pickle"
