"""Whether a Python regex matches in time linear in its input, checked on its parsed form.

A backtracking engine is superlinear only when it can give back what an unbounded repeat took
and try again (`\\d+\\.?\\d*` on "1" * n + "x" is quadratic). A repeat that is possessive
(`++`, `*+`, `?+`) never gives anything back; bounded repeats (`\\d{1,9}`) cost a constant.
So a regex whose every unbounded repeat is possessive is linear by construction."""

from __future__ import annotations

import re
from re import _constants as c  # type: ignore[attr-defined]
from re import _parser as parser  # type: ignore[attr-defined]
from typing import Any


def backtracking_repeats(pattern: str | re.Pattern[str]) -> list[str]:
    """The unbounded repeats of `pattern` that can give back what they took (empty: linear)."""
    source = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    flags = pattern.flags if isinstance(pattern, re.Pattern) else 0
    found: list[str] = []
    _walk(parser.parse(source, flags), found)
    return found


def _walk(items: Any, found: list[str]) -> None:
    for op, av in items:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT):
            low, high, sub = av
            if high == c.MAXREPEAT:
                found.append(f"{op} {low}.. of {list(sub)}")
            _walk(sub, found)
        elif op is c.POSSESSIVE_REPEAT:
            _walk(av[2], found)
        elif op is c.SUBPATTERN:
            _walk(av[3], found)
        elif op is c.ATOMIC_GROUP:
            _walk(av, found)
        elif op is c.BRANCH:
            for branch in av[1]:
                _walk(branch, found)
        elif op in (c.ASSERT, c.ASSERT_NOT):
            _walk(av[1], found)
        elif op is c.GROUPREF_EXISTS:
            _walk(av[1], found)
            if av[2] is not None:
                _walk(av[2], found)

