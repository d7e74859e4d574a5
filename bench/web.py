"""The triage UI's speed bar (issue 19): server time for the alerts page with 100k alerts.

    .venv/bin/python -m bench.web [--alerts 100000] [--runs 5]

Hunts the example rules over the example events once (as tests/web/live.py does) to get
real alert documents, then writes `--alerts` alerts of those shapes straight into the
service's AlertStore, varying host, user, rule (name, id, uuid), severity, risk score and
time (30 days), and the status (about 1 in 5 acknowledged or closed); sequences keep their
building blocks. Each page is timed through Starlette's TestClient against
create_web_app(service): one warm-up request, then the median of `--runs`, against 300 ms.

Free text reads the store's precomputed `search_text` column; its baseline, timed in the
same run over the same alerts, is the condition it replaced (the text columns and lists
lower-cased and joined at each query), counted with the same filter.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from starlette.testclient import TestClient

from bench.parse import median_ms
from lanner.rules import load_rules
from lanner.server.service import Service
from lanner.store import AlertFilter, EventStore, find_event_files
from lanner.web import create_web_app

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "examples" / "rules"
EVENTS = ROOT / "examples" / "events"
BAR_MS = 300.0
SEVERITIES = {"low": 21, "medium": 47, "high": 73, "critical": 99}
DAY_MS = 86_400_000
START_MS = 1_780_000_000_000  # 2026-05-28


def templates(service: Service) -> list[list[bytes]]:
    """The example hunt's alerts as units: one alert, or a sequence's shell and its events."""
    service.detector.hunt_many(service.rules)
    alerts = service.alerts.find(building_blocks=True)
    units: dict[str, list[bytes]] = {}
    for alert in alerts:
        key = alert.get("kibana.alert.group.id") or alert["kibana.alert.uuid"]
        units.setdefault(key, []).append(orjson.dumps(alert))
    return list(units.values())


def _set(document: dict[str, Any], path: str, value: Any) -> None:
    """Set a field where the document has it (dotted key or nested), else as a dotted key."""
    if path in document:
        document[path] = value
        return
    parts = path.split(".")
    node: Any = document
    for part in parts[:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(part), dict):
            document[path] = value
            return
        node = node[part]
    node[parts[-1]] = value


def generate(units: list[list[bytes]], total: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    random.seed(seed)
    hosts = [f"WS-{dept}-{n:03d}" for dept in ("FIN", "HR", "ENG", "OPS", "SALES")
             for n in range(120)] + [f"SRV-DB-{n:02d}" for n in range(40)]
    users = [f"user{n:04d}" for n in range(2_000)] + ["SYSTEM", "Administrator"]
    made = 0
    number = 0
    while made < total:
        unit = random.choice(units)
        number += 1
        variant = random.randrange(40)  # 40 variants of each example rule
        severity = random.choice(list(SEVERITIES))
        host = random.choice(hosts)
        user = random.choice(users)
        moment = START_MS + random.randrange(30 * DAY_MS)
        status = random.choices(("open", "acknowledged", "closed"), (8, 1, 1))[0]
        group = hashlib.sha256(f"group-{number}".encode()).hexdigest()
        for index, text in enumerate(unit):
            alert = orjson.loads(text)
            alert["kibana.alert.uuid"] = hashlib.sha256(f"{number}-{index}".encode()).hexdigest()
            if alert.get("kibana.alert.group.id"):
                alert["kibana.alert.group.id"] = group
            rule_id = alert["kibana.alert.rule.rule_id"]
            if variant:
                alert["kibana.alert.rule.rule_id"] = f"{rule_id[:-3]}{variant:03d}"
                uuid = alert["kibana.alert.rule.uuid"]
                alert["kibana.alert.rule.uuid"] = f"{uuid[:-3]}{variant:03d}"
                alert["kibana.alert.rule.name"] += f" ({variant})"
            alert["kibana.alert.severity"] = severity
            alert["kibana.alert.risk_score"] = SEVERITIES[severity]
            stamp = moment + index * 1_000
            iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp // 1000)) + (
                f".{stamp % 1000:03d}Z")
            alert["kibana.alert.original_time"] = iso
            alert["@timestamp"] = iso
            alert["kibana.alert.workflow_status"] = status
            _set(alert, "host.name", host)
            _set(alert, "host.hostname", host)
            _set(alert, "user.name", user)
            made += 1
            yield alert
            if made >= total:
                return


def timed(client: TestClient, path: str, runs: int) -> tuple[float, int]:
    response = client.get(path)  # warm-up
    response.raise_for_status()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - began) * 1000)
        response.raise_for_status()
    return statistics.median(times), len(response.content)


# The free-text condition before the `search_text` column: what each query recomputed.
JOINED_TEXT = (
    "contains(lower(concat_ws(chr(10), rule_name, rule_id, severity, workflow_reason, "
    "array_to_string(hosts || users || tactic_ids || tactic_names || technique_ids "
    "|| technique_names, chr(10)))), $text)"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--store", help="a DuckDB file (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lanner-bench-web-") as folder:
        store = EventStore(Path(args.store) if args.store else Path(folder) / "store.duckdb")
        rules, errors = load_rules([RULES])
        assert not errors, errors
        store.ingest_files(find_event_files([str(EVENTS)]))
        service = Service(store, rules)
        began = time.perf_counter()
        units = templates(service)
        service.alerts.con.execute("DELETE FROM alerts")
        added = service.alerts.add(generate(units, args.alerts))
        print(f"stored {len(added.created):,} alerts ({len(service.alerts):,} in the store) "
              f"in {time.perf_counter() - began:.1f} s")
        some = service.alerts.find(limit=1)[0]["kibana.alert.uuid"]
        service.alerts.change_tags(
            [a["kibana.alert.uuid"] for a in service.alerts.find(limit=500, offset=1000)],
            add=["triaged"])
        pages = {
            "first alerts page (/app/)": "/app/",
            "page 200": "/app/?page=200",
            "severity filter (critical)": "/app/?severity=critical",
            "free text (a host name)": "/app/?q=ws-eng-04",
            "tag filter (500 tagged)": "/app/?tag=triaged",
            "an alert's page": f"/app/alerts/{some}",
            "rules": "/app/rules",
            "ATT&CK matrix": "/app/rules/attack",
        }
        failed = False
        with TestClient(create_web_app(service)) as client:
            for name, path in pages.items():
                median, size = timed(client, path.removeprefix("/app"), args.runs)
                verdict = "PASS" if median < BAR_MS else "FAIL"
                failed |= verdict == "FAIL"
                print(f"{name:32} median {median:7.1f} ms ({args.runs} runs, "
                      f"{size // 1024} KB)  {verdict} (bar {BAR_MS:.0f} ms)")
        con = service.alerts.con
        text = {"text": "ws-eng-04"}
        stored = median_ms(args.runs,
                           lambda: service.alerts.count(AlertFilter(text=text["text"])))
        joined = median_ms(args.runs, lambda: con.execute(
            f"SELECT count(*) FROM alerts WHERE {JOINED_TEXT} AND NOT building_block",
            text).fetchone())
        print(f"free text count, search_text column: median {stored:7.1f} ms; lists joined "
              f"per query (baseline): {joined:7.1f} ms; {joined / stored:.1f}x")
        service.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
