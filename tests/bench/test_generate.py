"""The benchmark corpus generator: deterministic bytes, well-formed ECS documents, the indices
the store names from them, and the seed rules returning exactly the planted events."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

import lanner
from bench.generate import (
    NOISY_RATES,
    PLANTS,
    GeneratedCorpus,
    cached,
    generate,
    parse_duration,
    response_hits,
)
from lanner.engine.client import Lanner
from lanner.rules import load_rule_file
from tests.conftest import SHARED, require_shared

EVENTS = 20_000
SMALL = 1_000  # the fewest events the generator makes: enough for byte-level checks
MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> GeneratedCorpus:
    return generate(tmp_path_factory.mktemp("corpus") / "endpoint.ndjson", events=EVENTS, seed=3)


@pytest.fixture(scope="module")
def documents(corpus: GeneratedCorpus) -> list[dict[str, Any]]:
    with open(corpus.path, "rb") as file:
        return [orjson.loads(line) for line in file]


@pytest.fixture(scope="module")
def client(corpus: GeneratedCorpus) -> Lanner:
    es = lanner.connect()
    report = es.ingest_file(corpus.path)
    assert (report.events, report.bad_lines, report.coercion_failures) == (EVENTS, [], 0)
    return es


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    first = generate(tmp_path / "a.ndjson", events=SMALL, seed=11)
    again = generate(tmp_path / "b.ndjson", events=SMALL, seed=11)
    other = generate(tmp_path / "c.ndjson", events=SMALL, seed=12)
    assert first.path.read_bytes() == again.path.read_bytes()
    assert first.manifest["rules"] == again.manifest["rules"]
    assert first.path.read_bytes() != other.path.read_bytes()


def test_gzip_output_is_deterministic_and_holds_the_same_lines(tmp_path: Path) -> None:
    plain = generate(tmp_path / "p.ndjson", events=SMALL, seed=5)
    packed = generate(tmp_path / "g.ndjson.gz", events=SMALL, seed=5)
    repacked = generate(tmp_path / "h.ndjson.gz", events=SMALL, seed=5)
    assert packed.path.read_bytes() == repacked.path.read_bytes()
    assert gzip.decompress(packed.path.read_bytes()) == plain.path.read_bytes()


def test_every_line_is_one_ecs_document(corpus: GeneratedCorpus,
                                        documents: list[dict[str, Any]]) -> None:
    assert len(documents) == EVENTS == corpus.events
    ids = [document["event"]["id"] for document in documents]
    assert len(set(ids)) == EVENTS
    for document in documents:
        event = document["event"]
        assert MILLIS.match(document["@timestamp"]), document["@timestamp"]
        assert event["ingested"][:19] >= document["@timestamp"][:19]
        assert isinstance(event["category"], list) and isinstance(event["type"], list)
        assert document["host"]["os"]["type"] in ("windows", "linux", "macos")
        assert document["data_stream"]["type"] == "logs"
        assert document["process"]["entity_id"]
    stamps = [document["@timestamp"] for document in documents]
    assert stamps == sorted(stamps)  # planted events are merged in time order
    assert len(set(stamps)) < len(stamps)  # bursts share a millisecond
    assert stamps[0] >= corpus.manifest["start"] and stamps[-1] <= corpus.manifest["end"]


def test_documents_have_defend_and_sysmon_shapes(documents: list[dict[str, Any]]) -> None:
    defend_start = next(d for d in documents if d["data_stream"]["dataset"]
                        == "endpoint.events.process" and d["event"]["action"] == "start")
    assert defend_start["agent"]["type"] == "endpoint"
    assert defend_start["process"]["args"][0] == defend_start["process"]["executable"]
    assert defend_start["process"]["parent"]["entity_id"]
    assert defend_start["process"]["Ext"]["ancestry"][0] == \
        defend_start["process"]["parent"]["entity_id"]
    assert set(defend_start["process"]["code_signature"]) >= {"trusted", "exists"}
    sysmon = next(d for d in documents if d["event"].get("code") == "1")
    assert sysmon["data_stream"]["dataset"] == "windows.sysmon_operational"
    assert sysmon["winlog"]["channel"] == "Microsoft-Windows-Sysmon/Operational"
    assert "code_signature" not in sysmon["process"]  # Sysmon has none
    kinds = {(d["data_stream"]["dataset"], d["host"]["os"]["type"]) for d in documents}
    assert {("endpoint.events.registry", "windows"), ("endpoint.events.library", "macos"),
            ("endpoint.events.file", "linux"), ("endpoint.events.network", "linux")} <= kinds


def test_ingest_names_indices_from_data_stream(corpus: GeneratedCorpus, client: Lanner) -> None:
    counts = dict(client.store.con.execute(
        "SELECT _index, count(*) FROM events GROUP BY _index ORDER BY _index").fetchall())
    assert counts == corpus.manifest["indices"]
    assert set(counts) == {
        "logs-endpoint.events.file-default", "logs-endpoint.events.library-default",
        "logs-endpoint.events.network-default", "logs-endpoint.events.process-default",
        "logs-endpoint.events.registry-default", "logs-windows.sysmon_operational-default"}


def test_manifest_names_planted_events_in_the_file(corpus: GeneratedCorpus,
                                                   documents: list[dict[str, Any]]) -> None:
    by_id = {document["event"]["id"]: document for document in documents}
    rules = corpus.manifest["rules"]
    assert {plant.rule_id: entry["instances"] for plant, entry in
            zip(PLANTS, rules.values(), strict=True)} == {p.rule_id: p.count for p in PLANTS}
    for entry in rules.values():
        assert set(entry["events"]) <= by_id.keys()
        assert {event_id for hit in entry["hits"] for event_id in hit} <= set(entry["events"])
    orchestrator = rules["265db8f5-fc73-4d0d-b434-6483b56372e2"]["hits"]
    datasets = {by_id[hit[0]]["data_stream"]["dataset"] for hit in orchestrator}
    assert datasets == {"endpoint.events.process", "windows.sysmon_operational"}


SEED_RULE_FILES = sorted((SHARED / "rules").glob("seed*/*.toml"))


@pytest.mark.parametrize("rule_file", SEED_RULE_FILES,
                         ids=[f"{p.parent.name}/{p.stem}" for p in SEED_RULE_FILES])
def test_seed_rule_returns_exactly_the_planted_events(rule_file: Path, corpus: GeneratedCorpus,
                                                      client: Lanner) -> None:
    require_shared()
    rule = load_rule_file(rule_file)
    response = client.eql.search(index=list(rule.index), query=rule.query, size=1_000)
    assert sorted(response_hits(response)) == sorted(corpus.planted_hits(rule.rule_id))


def test_ten_seed_rule_files_are_checked() -> None:
    require_shared()
    assert len(SEED_RULE_FILES) == 10


def test_cache_reuses_a_matching_corpus_only(tmp_path: Path) -> None:
    made = generate(tmp_path / "x.ndjson", events=SMALL, seed=1)
    day = parse_duration("24h")
    assert cached(made.path, SMALL, 1, day) == made
    assert cached(made.path, SMALL, 2, day) is None
    assert cached(made.path, 2 * SMALL, 1, day) is None
    made.path.write_bytes(made.path.read_bytes()[:-10])  # a truncated file is not reused
    assert cached(made.path, SMALL, 1, day) is None


def test_noisy_mode_makes_about_one_event_in_seven_a_hit_of_the_seed_rules(
        tmp_path: Path) -> None:
    """`--noisy`: the same deterministic bytes for the same arguments, its own cache entry, and
    each seed rule returns exactly the many hits planted for it."""
    require_shared()
    events, day = 7_000, parse_duration("24h")
    noisy = generate(tmp_path / "n.ndjson", events=events, seed=5, noisy=True)
    again = generate(tmp_path / "m.ndjson", events=events, seed=5, noisy=True)
    assert noisy.path.read_bytes() == again.path.read_bytes()
    assert noisy.manifest["noisy"] == NOISY_RATES
    assert cached(noisy.path, events, 5, day, noisy=True) == noisy
    assert cached(noisy.path, events, 5, day) is None
    hit_events = {event_id for entry in noisy.manifest["rules"].values()
                  for hit in entry["hits"] for event_id in hit}
    assert events / 9 < len(hit_events) < events / 6
    es = lanner.connect()
    assert es.ingest_file(noisy.path).events == events
    for rule_file in sorted((SHARED / "rules" / "seed").glob("*.toml")):
        rule = load_rule_file(rule_file)
        response = es.eql.search(index=list(rule.index), query=rule.query, size=10_000)
        planted = noisy.planted_hits(rule.rule_id)
        assert len(planted) >= 12
        assert sorted(response_hits(response)) == sorted(planted), rule.name


def test_parse_duration_and_bad_sizes(tmp_path: Path) -> None:
    assert [parse_duration(text).total_seconds() for text in ("24h", "90m", "45s", "2d", "60")] \
        == [86400, 5400, 45, 172800, 60]
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("tomorrow")
    with pytest.raises(ValueError, match="too few events"):
        generate(tmp_path / "small.ndjson", events=500)


def test_every_active_corpus_rule_runs_over_the_benchmark_corpus(
        client: Lanner, corpus: GeneratedCorpus) -> None:
    """Detection's bar: all 1,024 active rules load and run over this corpus without an
    error, and the seed rules raise exactly their planted alerts."""
    from lanner.detection.hunt import hunt, select_rules
    from lanner.detection.run import Detector
    from lanner.rules import load_rules
    from lanner.store.alerts import AlertStore
    from tests.conftest import CORPUS

    require_shared()
    rules, errors = load_rules([CORPUS, SHARED / "rules" / "seed"])
    assert errors == []
    selection = select_rules(rules, building_blocks=True)
    assert len(selection.rules) == 1024 + 5
    reports = hunt(Detector(client.backend, AlertStore(client.store.con)), selection.rules)
    assert [(r.rule.name, r.error) for r in reports if r.error] == []
    seeds = [r for r in reports if r.rule.path and "/rules/seed/" in r.rule.path]
    assert len(seeds) == 5
    for report in seeds:
        shown = [a for a in report.alerts if "kibana.alert.group.index" not in a]
        assert len(shown) == len(corpus.planted_hits(report.rule.rule_id)), report.rule.name


def test_a_five_minute_corpus_keeps_plants_inside_and_fires_the_seed_rules(
        tmp_path: Path) -> None:
    """The scheduled-window benchmark hunts one 5-minute rule window: every planted event must
    fall inside it, so each seed rule still returns exactly what was planted."""
    require_shared()
    window = generate(tmp_path / "w.ndjson", events=2_000, seed=4, duration=parse_duration("5m"))
    with open(window.path, "rb") as file:
        stamps = [orjson.loads(line)["@timestamp"] for line in file]
    assert (window.manifest["start"], window.manifest["end"]) == (
        "2025-03-03T06:00:00.000Z", "2025-03-03T06:05:00.000Z")
    assert window.manifest["start"] <= min(stamps) and max(stamps) <= window.manifest["end"]
    es = lanner.connect()
    es.ingest_file(window.path)
    for rule_file in sorted((SHARED / "rules" / "seed").glob("*.toml")):
        rule = load_rule_file(rule_file)
        response = es.eql.search(index=list(rule.index), query=rule.query, size=1_000)
        assert sorted(response_hits(response)) == sorted(window.planted_hits(rule.rule_id))
    with pytest.raises(ValueError, match="at least 5m"):
        generate(tmp_path / "short.ndjson", events=2_000, duration=parse_duration("4m"))
