"""Issue 17's reproducers that stand on the store and the detector: a store a crash left
behind reopens offline with everything acknowledged in it, and one bad rule or one bad file
does not sink a hunt: the other rules' 8 alerts are written, the failure is named."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from lanner.cli.app import app
from lanner.engine.backends.sql import CompileError
from lanner.engine.client import connect
from lanner.store import EventStore
from tests.conftest import EXAMPLES, ROOT

EVENTS = ROOT / "examples" / "events"
runner = CliRunner()

# Ingest into a store on disk, then die without a checkpoint, as `kill -9` would: the data and
# the schema changes (a column becoming a list is an ALTER ... USING [x]) are left in the WAL.
CRASH = """
import os, sys, lanner
es = lanner.connect(sys.argv[1])
report = es.store.ingest_file(sys.argv[2])
report = es.store.ingest([{"@timestamp": "2026-11-20T10:00:00Z", "tags": "one"},
                          {"@timestamp": "2026-11-20T10:00:01Z", "tags": ["two", "three"]}],
                         index="lists")
print(es.store.count(), flush=True)
os.kill(os.getpid(), SIGNAL)
"""


def test_a_store_killed_after_an_ingest_reopens_offline(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    script = CRASH.replace("SIGNAL", str(int(signal.SIGKILL)))
    done = subprocess.run([sys.executable, "-c", script, str(path),
                           str(EVENTS / "smb_connection_lolbin.ndjson")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL
    acknowledged = int(done.stdout.strip())
    assert (tmp_path / "events.duckdb.wal").exists()  # the crash left work to replay
    # no network here: DuckDB must not need to download anything to replay it
    with EventStore(path) as store:
        assert store.count() == acknowledged
        assert store.column("tags").is_list
        tags = store.con.execute(f"SELECT {store.column('tags').sql} FROM events "
                                 "WHERE _index = 'lists' ORDER BY _doc").fetchall()
        assert tags == [(["one"],), (["two", "three"],)]
    listed = runner.invoke(app, ["alerts", "list", "--store", str(path)])
    assert listed.exit_code == 0, listed.output


def bad_rule(folder: Path, name: str, query: str) -> Path:
    """A copy of an example rule with another rule_id, name and query."""
    template = sorted(EXAMPLES.glob("*.toml"))[0].read_text(encoding="utf-8")
    text = re.sub(r'rule_id = "[^"]*"', f'rule_id = "{name.lower().replace(" ", "-")}"',
                  template)
    text = re.sub(r'^name = "[^"]*"', f'name = "{name}"', text, count=1, flags=re.M)
    text = re.sub(r"query = '''.*?'''", f"query = '''\n{query}\n'''", text, flags=re.S)
    path = folder / f"{name.lower().replace(' ', '_')}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def example_rules_and(tmp_path: Path, *queries: str) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for example in EXAMPLES.glob("*.toml"):
        (folder / example.name).write_text(example.read_text(encoding="utf-8"),
                                           encoding="utf-8")
    for number, query in enumerate(queries):
        bad_rule(folder, f"Bad regex {number}", query)
    return folder


REFUSED_BY_RE2 = ['"(a"', '"[z-a]"', '"a{1001}"', '"(a{1000}){1000}"']


def test_regexes_re2_refuses_fail_their_rule_alone(tmp_path: Path) -> None:
    rules = example_rules_and(tmp_path, *(f"process where process.name regex {pattern}"
                                          for pattern in REFUSED_BY_RE2))
    output = tmp_path / "alerts.ndjson"
    result = runner.invoke(app, ["hunt", "-r", str(rules), str(EVENTS), "-o", str(output)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output  # problems: some rules failed
    assert "8 alert(s) from 5 rule(s)" in result.stdout
    alerts = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert len({a["kibana.alert.rule.name"] for a in alerts}) == 5
    for number in range(len(REFUSED_BY_RE2)):
        assert re.search(rf"failed: Bad regex {number}: .*bad_regex_{number}\.toml:\d+:\d+: "
                         r"error: invalid regular expression", result.stderr), result.stderr
    validated = runner.invoke(app, ["rules", "validate", str(rules)])
    assert validated.exit_code == 1
    assert "4 with errors" in validated.stdout
    assert validated.stdout.count("invalid regular expression") == 4


def test_a_refused_regex_is_a_typed_error_at_its_place() -> None:
    es = connect()
    es.bulk(operations=[{"index": {"_index": "i"}},
                        {"@timestamp": "2026-01-01T00:00:00Z", "event": {"category": "process"},
                         "process": {"name": "a"}}], refresh=True)
    try:
        es.eql.search(index="i", query='process where process.name regex "[z-a]"')
    except CompileError as error:
        assert (error.span.line, error.span.col) == (1, 34)  # the pattern's string
        assert "invalid regular expression [[z-a]]" in error.message
    else:
        raise AssertionError("the regex was accepted")


def test_a_file_whose_every_event_has_a_bad_value_does_not_sink_the_others(
        tmp_path: Path) -> None:
    events = tmp_path / "events"
    events.mkdir()
    for example in EVENTS.iterdir():
        (events / example.name).write_bytes(example.read_bytes())
    (events / "garbage.ndjson").write_text(
        "\n".join(json.dumps({"@timestamp": "garbage", "event": {"category": "process"}})
                  for _ in range(3)) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["hunt", "-r", str(EXAMPLES), str(events)],
                           env={"COLUMNS": "200"})
    assert "8 alert(s) from 5 rule(s)" in result.stdout, result.output
    assert "garbage.ndjson" in result.stderr  # its bad values are reported with the file
    assert result.exit_code == 0
