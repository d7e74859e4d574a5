"""Lanner's on-disk caches: private folders under $XDG_CACHE_HOME/lanner (default
~/.cache/lanner), one per kind of entry (`rules`: loaded rule files, lanner.rules.cache; `sql`:
compiled conditions, lanner.engine.sqlcache), and pickles in them written atomically.

Shared by packages that may not import each other (rules and engine), hence at the root.
Pickle is only read from a folder that is the user's own (owned by them, mode 0700) and from
files they own that nobody else can write; a file that cannot be read or unpickled is a miss.
`LANNER_CACHE=off` disables every cache.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SUBDIRS = ("rules", "sql")


def enabled() -> bool:
    return os.environ.get("LANNER_CACHE", "").strip().lower() not in {"off", "0", "no",
                                                                       "false"}


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "lanner"


def _private_dir(path: Path, create: bool) -> bool:
    """Whether `path` is a directory only this user can write (made 0700 if `create`)."""
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                path.mkdir(mode=0o700)
        info = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
            and info.st_mode & 0o077 == 0)


def folder(subdir: str, create: bool = False) -> Path | None:
    """A cache folder, if the cache is on and the folder (and the root) can be trusted."""
    if not enabled():
        return None
    root = cache_root()
    if not _private_dir(root, create):
        return None
    path = root / subdir
    return path if _private_dir(path, create) else None


def read_pickle(path: Path) -> Any:
    """The object pickled in a file of a trusted folder; None when missing, not the user's
    own, writable by others, unreadable or corrupt."""
    try:
        with open(path, "rb") as file:
            info = os.fstat(file.fileno())
            if info.st_uid != os.getuid() or info.st_mode & 0o022:
                return None
            with gc_paused():
                return pickle.load(file)  # our own file, in our own 0700 folder
    except Exception:  # missing, unreadable or corrupt: a miss, rewritten later
        return None


@contextlib.contextmanager
def gc_paused(*, kept: bool = True) -> Iterator[None]:
    """No cyclic garbage collection while many acyclic objects are built (parsed JSON,
    alerts, rows, matcher tuples): collections set off by allocation counts alone would
    walk them all again and again, to free nothing (half of reading the rules of a
    thousand-rule hunt, a quarter of storing alerts, measured).

    `kept`: the objects are results the caller keeps. They are then frozen (gc.freeze) as
    the pause ends, so that the first collection after it does not walk them all once more
    (1.1 s after building 49,009 alerts); reference counting still frees them. Only a
    reference cycle made during the pause would outlive its last use, so a long-running
    service unfreezes after each round (lanner.detection.serve)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if kept:
                gc.freeze()
            gc.enable()


def write_pickle(path: Path, content: Any,
                 pickler: type[pickle.Pickler] = pickle.Pickler) -> bool:
    """Store `content` atomically (a temp file, then os.replace) in a trusted folder made by
    `folder`; False when it could not be written (a full disk, an object that does not
    pickle): no cache this time."""
    temp = None
    try:
        with tempfile.NamedTemporaryFile("wb", dir=path.parent, prefix=".tmp-",
                                         delete=False) as file:
            temp = file.name
            pickler(file, protocol=pickle.HIGHEST_PROTOCOL).dump(content)
        os.replace(temp, path)
        temp = None
        return True
    except Exception:
        return False
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def prune(path: Path, keep: int) -> None:
    """Remove all but the `keep` most recently written pickles of a folder."""
    with contextlib.suppress(OSError):
        found = [(p.stat().st_mtime_ns, p) for p in path.glob("*.pickle")]
        for _, old in sorted(found, reverse=True)[keep:]:
            with contextlib.suppress(OSError):
                old.unlink()


def clear() -> int:
    """Remove every cache folder; the number of files removed."""
    removed = 0
    for subdir in SUBDIRS:
        path = cache_root() / subdir
        if path.is_dir():
            removed += sum(1 for p in path.iterdir() if p.is_file())
            shutil.rmtree(path, ignore_errors=True)
    return removed
