"""Every KQL query of the rule corpus parses, and printing it then parsing again gives the
same tree. The counts are pinned so that a rule the parser starts refusing is noticed."""

from __future__ import annotations

from lanner import kql
from tests.kql.corpus import kuery_queries

# 792 rule queries with language kuery (727 production, 65 deprecated) + 9 threat queries.
EXPECTED_RULE_QUERIES = 792
EXPECTED_THREAT_QUERIES = 9


def test_corpus_counts() -> None:
    names = [name for name, _ in kuery_queries()]
    threat = [name for name in names if name.endswith("#threat_query")]
    assert len(names) - len(threat) == EXPECTED_RULE_QUERIES
    assert len(threat) == EXPECTED_THREAT_QUERIES


def test_every_corpus_query_parses_and_round_trips() -> None:
    failures = []
    for name, query in kuery_queries():
        try:
            tree = kql.parse(query)
            printed = kql.to_text(tree)
            if kql.parse(printed) != tree:
                failures.append(f"{name}: printed text parses to another tree: {printed!r}")
            elif kql.to_text(kql.parse(printed)) != printed:
                failures.append(f"{name}: printing is not stable")
        except kql.KqlError as error:
            failures.append(f"{name}: {error}")
    assert not failures, "\n".join(failures)


def test_corpus_queries_validate_clean() -> None:
    assert [name for name, query in kuery_queries() if kql.validate(query)] == []


def test_corpus_oddities_read_as_kibana_reads_them() -> None:
    """Two patterns separated only by a newline are one wildcard value (see KQL-SEMANTICS §8)."""
    queries = dict(kuery_queries())
    path = ("rules/linux/credential_access_kubernetes_and_cloud_credential_paths_via_"
            "process_args.toml")
    tree = kql.parse(queries[path])
    patterns = [node for node in tree.walk() if isinstance(node, kql.ast.Wildcard)
                and any("\n" in segment for segment in node.segments)]
    assert len(patterns) == 1
    assert "*confluence/conf/server.xml\n" in "*".join(patterns[0].segments)
