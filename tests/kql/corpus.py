"""The KQL queries of the detection-rules corpus (rules with `language = "kuery"`, and the
`threat_query` of indicator-match rules whose `threat_language` is kuery)."""

from __future__ import annotations

import csv
import functools
import tomllib

from tests.conftest import SHARED, require_shared

CORPUS = SHARED / "corpus" / "detection-rules-other"


@functools.cache
def kuery_queries() -> tuple[tuple[str, str], ...]:
    """(name, query) pairs in INDEX.tsv order; name is the rule path, plus `#threat_query`."""
    require_shared()
    found = []
    with open(CORPUS / "INDEX.tsv", newline="") as index:
        for row in csv.DictReader(index, delimiter="\t"):
            with open(CORPUS / row["path"], "rb") as file:
                rule = tomllib.load(file).get("rule", {})
            if rule.get("language") == "kuery":
                found.append((row["path"], rule["query"]))
            if rule.get("threat_language") == "kuery" and "threat_query" in rule:
                found.append((row["path"] + "#threat_query", rule["threat_query"]))
    return tuple(found)
