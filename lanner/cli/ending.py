"""How the `lanner` process ends: as `sys.exit` would, without freeing what a command built.

A noisy hunt holds millions of Python objects to its end (its alerts, the events they copy,
the rules): freeing them one by one took 0.3 s after the last line was printed. Once the
entry point holds (`hold`), a command hands such results over (`keep_to_the_end`) and the
process ends with `os._exit` after what an exit does for others: threads joined, exit
handlers run (one removes a scratch store's folder), output flushed. In-process callers
(tests, `CliRunner`) never hold: for them, handing over keeps nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn

_kept: list[object] | None = None


def hold() -> None:
    """From now on, results handed over stay until the process ends (`end`)."""
    global _kept
    if _kept is None:
        _kept = []


def keep_to_the_end(*results: object) -> None:
    """Leave these for the end of the process to reclaim, not the caller's return."""
    if _kept is not None:
        _kept.extend(results)


def end(code: int | str | None) -> NoReturn:
    """End the process with `code` as `sys.exit` reads it: None is 0, text is printed to
    standard error and gives 1. Under a profiler or tracer (`python -m cProfile`, coverage)
    it is `sys.exit`, so that they report as the interpreter's exit lets them."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    if isinstance(code, int):
        status = code
    else:
        status = 0 if code is None else 1
        if code is not None:
            print(code, file=sys.stderr)
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # what the interpreter's own exit runs; os._exit runs none
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe, a closed stream
            stream.flush()
    os._exit(status)
