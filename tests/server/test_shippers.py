"""A shipper that is not Python: npm's elasticdump imports an NDJSON file of events (and an
index's mapping) into a real `lanner serve --http`, and the documents are searchable."""

from __future__ import annotations

import datetime
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from elasticsearch import Elasticsearch

from tests.server.live import Server

ELASTICDUMP = "elasticdump@6.125.1"


@pytest.fixture(scope="session")
def elasticdump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("Node.js and npm are needed to install elasticdump")
    prefix = tmp_path_factory.mktemp("elasticdump")
    installed = subprocess.run(
        [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", ELASTICDUMP],
        capture_output=True, text=True, timeout=600, check=False)
    assert installed.returncode == 0, installed.stderr[-2000:]
    program = prefix / "node_modules" / ".bin" / "elasticdump"
    assert program.exists()
    return program


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("shippers")).start()
    yield running
    running.stop()


def _dump(program: Path, source: Path, url: str, kind: str) -> str:
    done = subprocess.run([str(program), f"--input={source}", f"--output={url}",
                           f"--type={kind}"], capture_output=True, text=True, timeout=300,
                          check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "dump complete" in output, output
    return output


def test_elasticdump_imports_events_that_are_then_searchable(
        elasticdump: Path, server: Server, tmp_path: Path) -> None:
    index = "logs-endpoint.events.process-dump"
    mapping = tmp_path / "mapping.json"
    mapping.write_bytes(orjson.dumps({index: {"mappings": {"properties": {
        "process": {"properties": {"pid": {"type": "long"}}}}}}}))
    _dump(elasticdump, mapping, f"{server.url}/{index}", "mapping")

    now = datetime.datetime.now(datetime.UTC)
    lines = []
    for number in range(250):  # more than elasticdump's default batch of 100
        stamp = (now - datetime.timedelta(seconds=number)).isoformat().replace("+00:00", "Z")
        lines.append(orjson.dumps({"_index": index, "_id": f"dump-{number}", "_source": {
            "@timestamp": stamp, "event": {"category": ["process"], "type": ["start"],
                                           "kind": "event"},
            "host": {"name": "WS-DUMP-1", "os": {"type": "windows"}},
            "process": {"name": "evil.exe" if number == 7 else f"tool{number}.exe",
                        "pid": 1000 + number}}}))
    source = tmp_path / "events.json"
    source.write_bytes(b"\n".join(lines) + b"\n")
    output = _dump(elasticdump, source, f"{server.url}/{index}", "data")
    assert "wrote 100" in output and "wrote 50" in output, output

    es = Elasticsearch(server.url, request_timeout=30)
    try:
        assert es.count(index=index)["count"] == 250
        found = es.search(index=index, query={"term": {"process.name": "evil.exe"}})
        assert [hit["_id"] for hit in found["hits"]["hits"]] == ["dump-7"]
        assert found["hits"]["hits"][0]["_source"]["process"]["pid"] == 1007
        ranged = es.count(index=index, query={"range": {"process.pid": {"gte": 1240}}})
        assert ranged["count"] == 10
        eql = es.eql.search(index=index, query='process where process.name == "tool42.exe"')
        assert [event["_id"] for event in eql["hits"]["events"]] == ["dump-42"]
    finally:
        es.close()
