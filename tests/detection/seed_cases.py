"""The five seed rules in both versions, the example events each fires on, and one case per
exclusion of each query.

Data only; test_seed_rules.py runs it. A rule version is keyed `<rule>-docs` (the seed
document's version, bundled in examples/rules/) or `<rule>-upstream` (the rule as it stands in
elastic/detection-rules today, in ../shared/rules/seed/). Both versions of a rule run on the
same example file, examples/events/<seed-docs file stem>.ndjson.

An exclusion case takes the rule's true-positive events and edits exactly the fields that make
one exclusion of the query apply (a value of None removes the field, as Elastic Defend leaves
out what it does not know). Clauses that cannot be made to apply alone are left out, with the
reason next to the rule's cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLES, ROOT, SEED_RULES

EVENTS = ROOT / "examples" / "events"

# event.id -> {dotted field name: new value, or None to remove the field}
Edits = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class SeedRule:
    """One version of a seed rule, its example events, and the alerts they must raise: one
    tuple of event.ids per alert (a single event, or a sequence's events in order)."""

    key: str
    path: Path
    events: Path
    fires: frozenset[tuple[str, ...]]


@dataclass(frozen=True)
class Exclusion:
    """One exclusion clause of a rule version and the edits that make it, alone, apply."""

    rule: str
    name: str
    clause: str
    edits: Edits

    @property
    def id(self) -> str:
        return f"{self.rule}-{self.name}"


def _versions(stem: str, upstream_stem: str, *fires: tuple[str, ...]) -> list[SeedRule]:
    events = EVENTS / f"{stem}.ndjson"
    key = _KEYS[stem]
    return [
        SeedRule(f"{key}-docs", EXAMPLES / f"{stem}.toml", events, frozenset(fires)),
        SeedRule(f"{key}-upstream", SEED_RULES / f"{upstream_stem}.toml", events,
                 frozenset(fires)),
    ]


_KEYS = {
    "ingress_transfer_bits": "bits",
    "smb_connection_lolbin": "smb",
    "remote_file_download_powershell": "psdownload",
    "common_webservices": "webservices",
    "update_orchestrator_hijack": "usohijack",
}

SEED_RULES_UNDER_TEST: list[SeedRule] = [
    *_versions("ingress_transfer_bits", "command_and_control_ingress_transfer_bits",
               ("bits-tp-rename",)),
    *_versions("smb_connection_lolbin", "lateral_movement_direct_outbound_smb_connection",
               ("smb-tp-powershell-start", "smb-tp-connect-445")),
    *_versions("remote_file_download_powershell",
               "command_and_control_remote_file_copy_powershell",
               ("psdl-dns-result", "psdl-tp-file-create")),
    *_versions("common_webservices", "command_and_control_common_webservices",
               ("websvc-tp-dns-request",), ("websvc-tp-dns-result",)),
    *_versions("update_orchestrator_hijack", "persistence_via_update_orchestrator_service_hijack",
               ("uso-tp-cmd-start",)),
]


def _both(rule: str, name: str, clause: str, edits: Edits) -> list[Exclusion]:
    """The same exclusion in the seed-docs and the upstream version of a rule."""
    return [Exclusion(f"{rule}-{version}", name, clause, edits)
            for version in ("docs", "upstream")]


# --- Ingress transfer via BITS: the two versions differ only in the extension list ---------

_BITS = "bits-tp-rename"
BITS_CASES = [
    *_both("bits", "noisy-install-paths",
           r'not file.path : ("?:\Program Files\*", "?:\Program Files (x86)\*", "?:\Windows\*", '
           r'"?:\ProgramData\*\*")',
           {_BITS: {"file.path": "C:\\Windows\\Temp\\svcupdate.exe"}}),
    *_both("bits", "long-file-name", "not length(file.name) > 30",
           {_BITS: {"file.name": "GoogleUpdateSetup_x64_stable_channel.exe"}}),
    *_both("bits", "known-updater-paths",
           r'not file.path : ("?:\Users\*\AppData\Local\Temp*\wct*.tmp", …, '
           r'"?:\Users\*\AppData\Local\Docker Desktop Installer\update-*.exe")',
           {_BITS: {"file.path": "C:\\Users\\alice\\AppData\\Local\\Docker Desktop Installer\\"
                                 "update-4.36.0.exe"}}),
]

# --- SMB connection via a LOLBin or an untrusted process --------------------------------------

_SMB_START, _SMB_CONNECT = "smb-tp-powershell-start", "smb-tp-connect-445"
_SMB_DISCONNECT, _SMB_END = "smb-powershell-disconnect", "smb-powershell-end"
SMB_CASES = [
    *_both("smb", "system-pid-process-stage", "process.pid != 4 (process stage)",
           {_SMB_START: {"process.pid": 4}}),
    # Both 445 events of the process (connection, then disconnection) are network-stage
    # candidates, so both get the System pid.
    *_both("smb", "system-pid-network-stage", "process.pid != 4 (network stage)",
           {_SMB_CONNECT: {"process.pid": 4}, _SMB_DISCONNECT: {"process.pid": 4}}),
    Exclusion("smb-docs", "service-accounts", 'not user.id : ("S-1-5-19", "S-1-5-20")',
              {_SMB_START: {"user.id": "S-1-5-20"}}),
    Exclusion("smb-upstream", "service-accounts", 'not user.id in ("S-1-5-19", "S-1-5-20")',
              {_SMB_START: {"user.id": "S-1-5-20"}}),
    *_both("smb", "trusted-non-microsoft",
           "not (process.code_signature.trusted == true and "
           'not startsWith(process.code_signature.subject_name, "Microsoft"))',
           {_SMB_START: {"process.code_signature.subject_name": "Dell Inc"}}),
    *_both("smb", "defender-atp-script",
           'not (process.name : "powershell.exe" and process.args : "?:\\ProgramData\\Microsoft'
           '\\Windows Defender Advanced Threat Protection\\Downloads\\PSScript_*.ps1")',
           {_SMB_START: {"process.args": [
               "powershell.exe", "-ExecutionPolicy", "AllSigned", "-NoProfile",
               "-NonInteractive", "-File",
               "C:\\ProgramData\\Microsoft\\Windows Defender Advanced Threat Protection\\"
               "Downloads\\PSScript_6d2f4a7c-1f0e-4d8b-9a3c-5e7b9c1d2f40.ps1"]}}),
    # The upstream version dropped `until`: the same edit leaves it firing (tested apart).
    Exclusion("smb-docs", "process-ended-before-connection",
              'until [process where host.os.type == "windows" and event.type == "end"]',
              {_SMB_END: {"@timestamp": "2026-11-20T10:00:12.000Z"}}),
]

# --- Remote file download via PowerShell ------------------------------------------------------

_DNS_REQUEST, _DNS_RESULT, _DOWNLOAD = ("psdl-dns-request", "psdl-dns-result",
                                        "psdl-tp-file-create")
PSDOWNLOAD_CASES = [
    *_both("psdownload", "excluded-domains",
           'not dns.question.name : ("*.microsoft.com", "*.powershellgallery.com", …)',
           {_DNS_REQUEST: {"dns.question.name": "www.powershellgallery.com"},
            _DNS_RESULT: {"dns.question.name": "www.powershellgallery.com"}}),
    Exclusion("psdownload-docs", "system-user-dns-stage",
              'not user.id : "S-1-5-18" (network stage)',
              {_DNS_REQUEST: {"user.id": "S-1-5-18"}, _DNS_RESULT: {"user.id": "S-1-5-18"}}),
    Exclusion("psdownload-upstream", "system-user-dns-stage",
              'not user.id == "S-1-5-18" (network stage)',
              {_DNS_REQUEST: {"user.id": "S-1-5-18"}, _DNS_RESULT: {"user.id": "S-1-5-18"}}),
    *_both("psdownload", "script-policy-test-file", 'not file.name : "__PSScriptPolicy*.ps1"',
           {_DOWNLOAD: {"file.name": "__PSScriptPolicyTest_d4x0kq2m.5fz.ps1"}}),
    Exclusion("psdownload-upstream", "netbios-style-name",
              'dns.question.name regex """.*\\.[a-zA-Z]{2,5}"""',
              {_DNS_REQUEST: {"dns.question.name": "fileserver01"},
               _DNS_RESULT: {"dns.question.name": "fileserver01"}}),
    Exclusion("psdownload-upstream", "temp-random-dll",
              r'not file.path : ("?:\Users\*\AppData\Local\Temp\????????.dll", …)',
              {_DOWNLOAD: {"file.path": "C:\\Users\\alice\\AppData\\Local\\Temp\\k3x9qz1w.dll"}}),
    Exclusion("psdownload-upstream", "system-user-file-stage",
              'not user.id == "S-1-5-18" (file stage)',
              {_DOWNLOAD: {"user.id": "S-1-5-18"}}),
]

# --- Connection to commonly abused web services -----------------------------------------------
# Not a case: upstream's `dns.question.name != null`, which the domain list requires anyway.

_WEB_TP = ("websvc-tp-dns-request", "websvc-tp-dns-result")


def _web(fields: Mapping[str, Any]) -> Edits:
    """The same edit on the DNS request and its result: Defend reports the name in both."""
    return {event_id: fields for event_id in _WEB_TP}


_SUBJECT = "process.code_signature.subject_name"
WEBSERVICES_CASES = [
    *_both("webservices", "process-name-null", "process.name != null",
           _web({"process.name": None})),
    Exclusion("webservices-docs", "service-accounts",
              'user.id not in ("S-1-5-18", "S-1-5-19", "S-1-5-20")',
              _web({"user.id": "S-1-5-19"})),
    Exclusion("webservices-upstream", "service-accounts",
              'not (?user.id in ("S-1-5-18", "S-1-5-19", "S-1-5-20") or …)',
              _web({"user.id": "S-1-5-19"})),
    Exclusion("webservices-upstream", "nt-authority-domain",
              'not (… or user.domain == "NT AUTHORITY")',
              _web({"user.domain": "NT AUTHORITY"})),
    *_both("webservices", "known-executables",
           r'not process.executable : ("?:\Program Files\*.exe", …, '
           r'"?:\Users\*\AppData\Local\Microsoft\OneDrive\OneDrive.exe", …)',
           _web({"process.executable":
                 "C:\\Users\\alice\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe"})),
    *_both("webservices", "discord-app",
           'not (process.name : "Discord.exe" and (… subject_name : "Discord Inc." and trusted) '
           'and dns.question.name : ("discord.com", "cdn.discordapp.com", "discordapp.com"))',
           _web({"process.name": "Discord.exe", _SUBJECT: "Discord Inc.",
                 "dns.question.name": "cdn.discordapp.com"})),
    *_both("webservices", "sharepoint",
           'not (process.name : "Microsoft.SharePoint.exe" … and subject_name : '
           '"Microsoft Corporation" and trusted and dns.question.name : "onedrive.live.com")',
           _web({"process.name": "Microsoft.SharePoint.exe", _SUBJECT: "Microsoft Corporation",
                 "dns.question.name": "onedrive.live.com"})),
    *_both("webservices", "obsidian-plugins",
           'not (process.name : "Obsidian.exe" and (… subject_name : "Dynalist Inc" and trusted) '
           'and dns.question.name : "raw.githubusercontent.com")',
           _web({"process.name": "Obsidian.exe", _SUBJECT: "Dynalist Inc",
                 "dns.question.name": "raw.githubusercontent.com"})),
    *_both("webservices", "web-experience-host",
           'not (process.name : "WebExperienceHostApp.exe" and (… subject_name : '
           '"Microsoft Windows" and trusted) and dns.question.name : ("onedrive.live.com", …))',
           _web({"process.name": "WebExperienceHostApp.exe",
                 "dns.question.name": "onedrive.live.com"})),
    *_both("webservices", "microsoft-signed-to-microsoft-services",
           'not (subject_name : "Microsoft *" and trusted and dns.question.name : '
           '("*.sharepoint.com", "graph.microsoft.com", …))',
           _web({"dns.question.name": "graph.microsoft.com"})),
    *_both("webservices", "trusted-vendors",
           'not (trusted and subject_name : ("Johannes Schindelin", "Redis Inc.", '
           '"Slack Technologies, LLC", …))',
           _web({_SUBJECT: "Slack Technologies, LLC"})),
    Exclusion("webservices-docs", "firefox",
              'not (process.name : "firefox.exe" and (subject_name : "Mozilla Corporation" '
              "and trusted))",
              _web({"process.name": "firefox.exe", _SUBJECT: "Mozilla Corporation"})),
    # "Dropbox, Inc" is also on the trusted-vendor list: this edit makes both apply.
    Exclusion("webservices-docs", "dropbox",
              'not (process.name : "Dropbox.exe" and (subject_name : "Dropbox, Inc" and trusted) '
              'and dns.question.name : ("api.dropboxapi.com", "*.dropboxusercontent.com"))',
              _web({"process.name": "Dropbox.exe", _SUBJECT: "Dropbox, Inc",
                    "dns.question.name": "api.dropboxapi.com"})),
    Exclusion("webservices-upstream", "jetbrains",
              'not (subject_name : "JetBrains s.r.o." and trusted and dns.question.name : '
              '("api.github.com", "raw.githubusercontent.com"))',
              _web({_SUBJECT: "JetBrains s.r.o.",
                    "dns.question.name": "raw.githubusercontent.com"})),
    Exclusion("webservices-upstream", "python-packages",
              'not (subject_name : ("Python Software Foundation", "Anaconda, Inc.") and trusted '
              'and dns.question.name : "files.pythonhosted.org")',
              _web({_SUBJECT: "Python Software Foundation",
                    "dns.question.name": "files.pythonhosted.org"})),
    Exclusion("webservices-upstream", "zoom",
              'not (process.name : "Zoom.exe" and (subject_name : ("Zoom Video Communications, '
              'Inc.", …) and trusted) and dns.question.name : ("*.googleapis.com", …))',
              _web({"process.name": "Zoom.exe", _SUBJECT: "Zoom Video Communications, Inc.",
                    "dns.question.name": "storage.googleapis.com"})),
    Exclusion("webservices-upstream", "vscode",
              'not (process.name : "Code.exe" and (subject_name : "Microsoft Corporation" and '
              'trusted) and dns.question.name : ("api.github.com", …))',
              _web({"process.name": "Code.exe", _SUBJECT: "Microsoft Corporation",
                    "dns.question.name": "api.github.com"})),
    Exclusion("webservices-upstream", "terraform-provider",
              'not (process.name : "terraform-provider*.exe" and (subject_name : '
              '"HashiCorp, Inc." and trusted) and dns.question.name : "graph.microsoft.com")',
              _web({"process.name": "terraform-provider-azuread_v3.0.2_x5.exe",
                    _SUBJECT: "HashiCorp, Inc.", "dns.question.name": "graph.microsoft.com"})),
    Exclusion("webservices-upstream", "telegram-desktop",
              'not (process.name : "Telegram.exe" and (subject_name : "Telegram FZ-LLC" and '
              'trusted) and dns.question.name : "*.googleapis.com")',
              _web({"process.name": "Telegram.exe", _SUBJECT: "Telegram FZ-LLC",
                    "dns.question.name": "firebasestorage.googleapis.com"})),
]

# --- Persistence via Update Orchestrator service hijack: both versions have the same query ----

_USO = "uso-tp-cmd-start"
USOHIJACK_CASES = [
    *_both("usohijack", "update-binaries",
           r'not process.executable : ("?:\ProgramData\Microsoft\Windows\UUS\Packages\*'
           r'\amd64\MoUsoCoreWorker.exe", "?:\Windows\System32\UsoClient.exe", …)',
           {_USO: {"process.executable": "C:\\Windows\\System32\\UsoClient.exe"}}),
    *_both("usohijack", "update-worker-names",
           'not process.name : ("MoUsoCoreWorker.exe", "OfficeC2RClient.exe")',
           {_USO: {"process.name": "OfficeC2RClient.exe"}}),
]

EXCLUSIONS: list[Exclusion] = [
    *BITS_CASES, *SMB_CASES, *PSDOWNLOAD_CASES, *WEBSERVICES_CASES, *USOHIJACK_CASES,
]

# The seed-docs versions' Chinese text, exact: name, then substrings of description and note.
CHINESE_TEXT = {
    "ingress_transfer_bits": (
        "通过 Windows BITS 的入站传输",
        "识别通过 Windows 后台智能传输服务 (BITS) 下载可执行文件和存档文件的情况。",
        "此规则通过监控涉及 Windows 系统上“svchost.exe”和“BIT*.tmp”的文件重命名事件"),
    "smb_connection_lolbin": (
        "通过 LOLBin 或不受信任的进程建立 SMB 连接",
        "识别通过端口 445 建立服务器消息块 (SMB) 网络连接的潜在可疑进程",
        "当合法时,这些网络连接由内核 (PID 4) 建立。"),
    "remote_file_download_powershell": (
        "通过 PowerShell 进行远程文件下载",
        "识别使用 powershell.exe 从不受信任的远程目标下载可执行文件。",
        "调查通过 PowerShell 进行的远程文件下载"),
    "common_webservices": (
        "连接到常用滥用 Web 服务",
        "攻击者可能会实施使用常见 Web 服务隐藏其活动的命令和控制 (C2) 通信。",
        "此规则很可能产生误报,因为它检测到与合法服务的通信。可以将嘈杂的误报添加为例外。"),
    "update_orchestrator_hijack": (
        "通过更新编排服务劫持实现持久性",
        "识别 Microsoft 更新编排服务的潜在劫持,以建立具有 SYSTEM 完整性级别的持久性。",
        "Microsoft 在 2020 年 6 月的补丁星期二修复了此漏洞。"),
}
