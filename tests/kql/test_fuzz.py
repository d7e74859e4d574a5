"""Seeded mutations of corpus queries (deletions, insertions, duplications) either parse or
fail with one of Lanner's typed KQL errors; `validate` never raises; whatever parses prints to
text that parses back to the same tree. A fixed seed and count: every run tries the same inputs.
"""

from __future__ import annotations

import random

from lanner import kql
from tests.kql.corpus import kuery_queries

SEED = 20
MUTANTS = 3000
PIECES = (
    "(", ")", "{", "}", ":", "<", "<=", ">", ">=", '"', "\\", "*", " ", "\n", "\t", "\u00a0",
    " or ", " and ", "not ", " OR ", "NOT ", "or", "and", "not", "\\u", "\\u00", "\\u0041",
    "\\n", "\\or", "\\not", "\\*", "\\:", "\\\"", "true", "null", "x", "5", "\ud800", "\x00",
    "\u2028", "\ufeff", "@kuery-wildcard@",
)


def mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(text))
        kind = rng.randrange(5)
        if kind == 0:
            text = text[:at] + text[at + rng.randint(1, 8):]
        elif kind == 1:
            text = text[:at] + rng.choice(PIECES) + text[at:]
        elif kind == 2:
            end = min(len(text), at + rng.randint(1, 30))
            text = text[:end] + text[at:end] + text[end:]
        elif kind == 3:
            text = text[:at] + rng.choice(PIECES) * rng.randint(2, 80) + text[at:]
        else:
            text = text[:at] + chr(rng.randint(0, 0x2fff)) + text[at:]
    return text


def test_mutated_corpus_queries_fail_only_with_typed_errors() -> None:
    rng = random.Random(SEED)
    queries = [query for _, query in kuery_queries()]
    parsed = failed = 0
    for _ in range(MUTANTS):
        text = mutate(rng, rng.choice(queries))
        issues = kql.validate(text)
        try:
            tree = kql.parse(text)
        except kql.KqlError as error:
            failed += 1
            assert issues and issues[0].code == error.code
            assert error.line >= 1 and error.col >= 1
            assert error.span is not None and 0 <= error.span.start <= len(text)
            continue
        parsed += 1
        assert issues == []
        printed = kql.to_text(tree)
        assert kql.parse(printed) == tree, (text, printed)
    assert parsed > 100 and failed > 100  # both sides of the grammar were exercised
