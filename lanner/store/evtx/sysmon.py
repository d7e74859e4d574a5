"""Sysmon events as the `windows.sysmon_operational` ingest pipeline leaves them.

Follows elastic/integrations packages/windows/data_stream/sysmon_operational/elasticsearch/
ingest_pipeline/default.yml step by step: a field moved ("rename") leaves `winlog.event_data`,
a field copied ("set … copy_from") stays there too.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from lanner.store.evtx.cmdline import split_command_line
from lanner.store.evtx.winlog import set_path

# event id -> (event.category, event.type, event.action, event.outcome)
_CATEGORIZATION: dict[str, tuple[list[str] | None, list[str] | None, str, list[str] | None]] = {
    "1": (["process"], ["start"], "Process creation", None),
    "2": (["file"], ["change"], "A process changed a file creation time", None),
    "3": (["network"], ["start", "connection", "protocol"], "Network connection", None),
    "4": (["process"], ["change"], "Sysmon service state changed", None),
    "5": (["process"], ["end"], "Process terminated", None),
    "6": (["driver"], ["start"], "Driver loaded", None),
    "7": (["process"], ["change"], "Image loaded", None),
    "8": (["process"], ["change"], "CreateRemoteThread", None),
    "9": (["process"], ["access"], "RawAccessRead", None),
    "10": (["process"], ["access"], "ProcessAccess", None),
    "11": (["file"], ["creation"], "FileCreate", None),
    "12": (["configuration", "registry"], ["change"], "RegistryEvent (Object create and delete)",
           None),
    "13": (["configuration", "registry"], ["change"], "RegistryEvent (Value Set)", None),
    "14": (["configuration", "registry"], ["change"], "RegistryEvent (Key and Value Rename)",
           None),
    "15": (["file"], ["access"], "FileCreateStreamHash", None),
    "16": (["configuration"], ["change"], "ServiceConfigurationChange", None),
    "17": (["file"], ["creation"], "PipeEvent (Pipe Created)", None),
    "18": (["file"], ["access"], "PipeEvent (Pipe Connected)", None),
    "19": (["process"], ["info"], "WmiEvent (WmiEventFilter activity detected)", None),
    "20": (["process"], ["change"], "WmiEvent (WmiEventConsumer activity detected)", None),
    "21": (["process"], ["access"], "WmiEvent (WmiEventConsumerToFilter activity detected)",
           None),
    "22": (["network"], ["connection", "protocol", "info"], "DNSEvent (DNS query)", None),
    "23": (["file"], ["deletion"], "FileDelete (File Delete archived)", None),
    "24": (None, ["change"], "ClipboardChange (New content in the clipboard)", None),
    "25": (["process"], ["change"], "ProcessTampering (Process image change)", None),
    "26": (["file"], ["deletion"], "FileDeleteDetected (File Delete logged)", None),
    "27": (["file"], ["creation"], "FileBlockExecutable", ["failure"]),
    "28": (["file"], ["deletion"], "FileBlockShredding", None),
    "29": (["file"], ["creation"], "FileExecutableDetected", None),
    "255": (["process"], None, "Error", ["failure"]),
}  # fmt: skip

def _words(text: str) -> list[str]:
    return text.split()


# The pipeline drops the braced zero GUID only; EVTX renders GUIDs without braces, so a zero
# ParentProcessGuid stays (as in the reference documents Elastic indexed).
_EMPTY_VALUES = frozenset({"", "-", "{00000000-0000-0000-0000-000000000000}"})
_PROCESS_HASH_EVENTS = frozenset({"1", "23", "24", "25"})
_FILE_HASH_EVENTS = frozenset({"6", "7", "15", "26", "29"})
_EMPTY_HASH = re.compile(r"0*")
_HIVES = {"HKEY_CLASSES_ROOT": "HKCR", "HKCR": "HKCR", "HKEY_CURRENT_CONFIG": "HKCC",
          "HKCC": "HKCC", "HKEY_CURRENT_USER": "HKCU", "HKCU": "HKCU", "HKEY_DYN_DATA": "HKDD",
          "HKDD": "HKDD", "HKEY_LOCAL_MACHINE": "HKLM", "HKLM": "HKLM",
          "HKEY_PERFORMANCE_DATA": "HKPD", "HKPD": "HKPD", "HKEY_USERS": "HKU",
          "HKU": "HKU"}  # fmt: skip
_QWORD = re.compile(r"QWORD \(((0x[0-9A-F]{8})-(0x[0-9A-F]{8}))\)", re.IGNORECASE)
_DWORD = re.compile(r"DWORD \((0x[0-9A-F]{8})\)", re.IGNORECASE)
_V4_MAPPED = re.compile(r"^\[?::ffff:([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+)(?:\](?::[0-9]+)?)?$")
_DNS_TYPES = dict(zip(
    _words("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 "
           "31 32 33 34 35 36 37 38 39 40 41 43 46 47 48 49 100 101 102 103 248 249 250 251 252 "
           "253 254 255 65281 65282"),
    _words("A NS MD MF CNAME SOA MB MG MR NULL WKS PTR HINFO MINFO MX TXT RP AFSDB X25 ISDN RT "
           "NSAP NSAPPTR SIG KEY PX GPOS AAAA LOC NXT EID NIMLOC SRV ATMA NAPTR KX CERT A6 DNAME "
           "SINK OPT DS RRSIG NSEC DNSKEY DHCID UINFO UID GID UNSPEC ADDRS TKEY TSIG IXFR AXFR "
           "MAILB MAILA ANY WINS WINSR"),
    strict=True,
))
_DNS_STATUS = {"0": "SUCCESS", "5": "ERROR_ACCESS_DENIED", "123": "ERROR_INVALID_NAME",
               "1214": "ERROR_INVALID_NETNAME", "1460": "ERROR_TIMEOUT",
               "9002": "DNS_ERROR_RCODE_SERVER_FAILURE", "9003": "DNS_ERROR_RCODE_NAME_ERROR",
               "9501": "DNS_INFO_NO_RECORDS",
               "9701": "DNS_ERROR_RECORD_DOES_NOT_EXIST"}  # fmt: skip

# (event_data field, ECS path, how): "rename" moves the value, "pid" converts to a number.
_PROCESS_FIELDS = (
    ("ProcessGuid", ("process", "entity_id"), "rename"),
    ("ProcessId", ("process", "pid"), "pid"),
    ("Image", ("process", "executable"), "rename"),
    ("SourceProcessGuid", ("process", "entity_id"), "rename"),
    ("SourceProcessGUID", ("process", "entity_id"), "rename"),
    ("SourceProcessId", ("process", "pid"), "pid"),
    ("SourceThreadId", ("process", "thread", "id"), "pid"),
    ("SourceImage", ("process", "executable"), "rename"),
    ("Destination", ("process", "executable"), "rename"),
    ("CommandLine", ("process", "command_line"), "rename"),
    ("CurrentDirectory", ("process", "working_directory"), "rename"),
    ("ParentProcessGuid", ("process", "parent", "entity_id"), "rename"),
    ("ParentProcessId", ("process", "parent", "pid"), "pid"),
    ("ParentImage", ("process", "parent", "executable"), "rename"),
    ("ParentCommandLine", ("process", "parent", "command_line"), "rename"),
)
_PE_FIELDS = (("Company", "company"), ("Description", "description"),
              ("FileVersion", "file_version"), ("Product", "product"))  # fmt: skip
# Removed by the pipeline's cleanup once mapped.
_CLEANUP = ("ProcessId", "ParentProcessId", "SourceProcessId", "SourceThreadId", "SourceIp",
            "SourcePort", "SourcePortName", "DestinationIp", "DestinationPort",
            "DestinationPortName", "RuleName", "User", "Initiated", "SourceIsIpv6",
            "DestinationIsIpv6", "QueryStatus", "Archived", "IsExecutable", "QueryResults",
            "UtcTime", "Hash", "Hashes", "TargetObject")  # fmt: skip


def map_sysmon(document: dict[str, Any]) -> None:
    """Apply the Sysmon pipeline to a Winlogbeat document, in place."""
    winlog = document["winlog"]
    data: dict[str, Any] = {key: value for key, value in winlog.get("event_data", {}).items()
                            if value is not None and value not in _EMPTY_VALUES}  # fmt: skip
    event = document["event"]
    code = event.get("code", "")
    utc_time = data.get("UtcTime")
    if isinstance(utc_time, str) and len(utc_time) >= 19:
        document["@timestamp"] = f"{utc_time[:10]}T{utc_time[11:23]}Z"
    category, kinds, action, outcome = _CATEGORIZATION.get(code, (None, None, None, None))
    if action:
        if category:
            event["category"] = category
        if kinds:
            event["type"] = kinds
        event["action"] = action
        if outcome:
            event["outcome"] = outcome
    if code == "255" and "ID" in data:
        document["error"] = {"code": data.pop("ID")}
    if "RuleName" in data:
        document["rule"] = {"name": data.pop("RuleName")}
    if code == "25" and "Type" in data:
        document["message"] = data.pop("Type")
    if "Hash" in data:
        data["Hashes"] = data.pop("Hash")
    hashes = _hashes(data.get("Hashes"), document)

    process: dict[str, Any] = document.setdefault("process", {})
    if hashes is not None and code in _PROCESS_HASH_EVENTS:
        _set_hashes(process, hashes)
        hashes = None
    for field, path, how in _PROCESS_FIELDS:
        if field not in data:
            continue
        value = data.pop(field) if how == "rename" else data[field]
        if how == "pid":
            value = _long(value)
            if value is None:
                continue
        set_path(document, path, value)
    if code != "7":
        _copy_pe_fields(process, data)
    _split_command_lines(process)
    _add_names(process)

    file: dict[str, Any] = document.setdefault("file", {})
    if hashes is not None and code in _FILE_HASH_EVENTS:
        _set_hashes(file, hashes)
    for field, key in (("TargetFilename", "path"), ("Device", "path"), ("PipeName", "name"),
                       ("ImageLoaded", "path")):  # fmt: skip
        if field in data:
            file[key] = data.pop(field)
    if "Signature" in data:
        file.setdefault("code_signature", {})["subject_name"] = data["Signature"]
    if "SignatureStatus" in data:
        file.setdefault("code_signature", {})["status"] = data["SignatureStatus"]
    if code == "7":
        _copy_pe_fields(file, data)
    if data.get("Signed") == "true":
        file.setdefault("code_signature", {})["signed"] = True
    if data.get("SignatureStatus") == "Valid":
        file.setdefault("code_signature", {})["valid"] = True
    _add_file_parts(file)
    for key in ("process", "file"):
        if not document[key]:
            del document[key]

    _map_network(document, data, code)
    _map_user(document, data, winlog)
    _map_sysmon_fields(document, data)
    _map_related(document)
    _map_registry(document, data, code)
    if "TargetProcessGuid" in data:
        data["TargetProcessGUID"] = data.pop("TargetProcessGuid")
    for field in _CLEANUP:
        data.pop(field, None)
    if data:
        winlog["event_data"] = data
    else:
        winlog.pop("event_data", None)


def _hashes(text: Any, document: dict[str, Any]) -> dict[str, str] | None:
    """`SHA1=…,MD5=…,IMPHASH=…` as lower-case names and values, all-zero hashes left out."""
    if not isinstance(text, str):
        return None
    hashes: dict[str, str] = {}
    for pair in text.split(","):
        name, separator, value = pair.partition("=")
        if not separator:
            continue
        value = value.lower()
        if not _EMPTY_HASH.fullmatch(value):
            hashes[name.lower()] = value
    if hashes:
        document.setdefault("related", {})["hash"] = list(hashes.values())
    return hashes


def _set_hashes(target: dict[str, Any], hashes: dict[str, str]) -> None:
    hashes = dict(hashes)
    imphash = hashes.pop("imphash", None)
    if imphash is not None:
        target.setdefault("pe", {})["imphash"] = imphash
    if hashes:
        target["hash"] = hashes


def _copy_pe_fields(owner: dict[str, Any], data: dict[str, Any]) -> None:
    """OriginalFileName moves, Company/Description/FileVersion/Product are copied, to the PE
    fields of the process (or, for image loads, of the loaded file)."""
    if "OriginalFileName" in data:
        owner.setdefault("pe", {})["original_file_name"] = data.pop("OriginalFileName")
    for field, key in _PE_FIELDS:
        if field in data:
            owner.setdefault("pe", {})[key] = data[field]


def _split_command_lines(process: dict[str, Any]) -> None:
    for owner in (process, process.get("parent")):
        command_line = owner.get("command_line") if owner else None
        if command_line:
            owner["args"] = split_command_line(command_line)
            owner["args_count"] = len(owner["args"])


def _add_names(process: dict[str, Any]) -> None:
    """process.name / process.parent.name: what follows the last backslash of the path, or the
    whole path when it has none ("System"), as in the documents Elastic indexed."""
    for owner in (process, process.get("parent")):
        executable = owner.get("executable") if owner else None
        if isinstance(executable, str) and executable and "name" not in owner:
            name = executable.rpartition("\\")[2]
            if name:
                owner["name"] = name


def _add_file_parts(file: dict[str, Any]) -> None:
    path = file.get("path")
    if not isinstance(path, str) or len(path) <= 1 or "\\" not in path:
        return
    directory, _, name = path.rpartition("\\")
    file["name"], file["directory"] = name, directory
    if "." in path:
        file["extension"] = path.rpartition(".")[2]


def _map_network(document: dict[str, Any], data: dict[str, Any], code: str) -> None:
    network: dict[str, Any] = {}
    if "Protocol" in data:
        network["transport"] = data.pop("Protocol")
    if code != "22":
        for field in ("DestinationPortName", "SourcePortName"):
            if field in data:
                network["protocol"] = data.pop(field)
    else:
        network["protocol"] = "dns"
    for side in ("Source", "Destination"):
        endpoint: dict[str, Any] = {}
        address = _ip(data.get(f"{side}Ip"))
        if address:
            endpoint["ip"] = address
        if f"{side}Hostname" in data:
            endpoint["domain"] = data.pop(f"{side}Hostname")
        port = _long(data.get(f"{side}Port"))
        if port is not None:
            endpoint["port"] = port
        _merge(document, side.lower(), endpoint)
    if "QueryName" in data:
        document.setdefault("dns", {})["question"] = {"name": data.pop("QueryName")}
    _map_dns_results(document, data.get("QueryResults"))
    direction = {"true": "egress", "false": "ingress"}.get(data.get("Initiated", ""))
    if direction:
        network["direction"] = direction
    family = {"false": "ipv4", "true": "ipv6"}.get(data.get("SourceIsIpv6", ""))
    if family:
        network["type"] = family
    _merge(document, "network", network)
    name = document.get("dns", {}).get("question", {}).get("name")
    if name:
        _append_unique(document, ("related", "hosts"), name)


def _map_dns_results(document: dict[str, Any], results: Any) -> None:
    """QueryResults (`type:  5 cname;::ffff:1.2.3.4;`) as dns.answers and dns.resolved_ip."""
    if not isinstance(results, str) or not results:
        return
    answers: list[dict[str, str]] = []
    addresses: list[str] = []
    for answer in results.split(";"):
        if not answer:
            continue
        if answer.startswith("type:"):
            parts = answer.split()
            if len(parts) == 3:
                answers.append(_answer(parts[1], parts[2]))
                _append_unique(document, ("related", "hosts"), parts[2])
            elif len(parts) > 1:
                answers.append(_answer(parts[1], None))
        else:
            mapped = _V4_MAPPED.match(answer)
            address = _ip(mapped.group(1) if mapped else answer)
            if address:
                addresses.append(address)
    for address in addresses:
        answers.append({"type": "AAAA" if ":" in address else "A", "data": address})
    dns = document.setdefault("dns", {})
    if answers:
        dns["answers"] = answers
    if addresses:
        dns["resolved_ip"] = addresses
        for address in addresses:
            _append_unique(document, ("related", "ip"), address)


def _answer(type_number: str, data: str | None) -> dict[str, str]:
    """One DNS answer; a type number the pipeline does not know leaves the type out."""
    answer = {"type": _DNS_TYPES.get(type_number), "data": data}
    return {key: value for key, value in answer.items() if value is not None}


def _map_user(document: dict[str, Any], data: dict[str, Any], winlog: dict[str, Any]) -> None:
    user: dict[str, Any] = {}
    identifier = winlog.get("user", {}).get("identifier")
    if identifier:
        user["id"] = identifier
    account = data.get("User")
    if isinstance(account, str):
        parts = account.split("\\")
        if len(parts) == 2:
            if parts[0]:
                user["domain"] = parts[0]
            if parts[1]:
                user["name"] = parts[1]
    _merge(document, "user", user)


def _map_sysmon_fields(document: dict[str, Any], data: dict[str, Any]) -> None:
    sysmon: dict[str, Any] = {}
    status = data.pop("QueryStatus", None)
    if status:
        sysmon["dns"] = {"status": _DNS_STATUS.get(status, status)}
    for field, key in (("Archived", "archived"), ("IsExecutable", "is_executable")):
        flag = {"true": True, "false": False}.get(str(data.get(field, "")).lower())
        if flag is not None:
            sysmon.setdefault("file", {})[key] = flag
    _merge(document, "sysmon", sysmon)


def _map_related(document: dict[str, Any]) -> None:
    name = document.get("user", {}).get("name")
    if name:
        _append_unique(document, ("related", "user"), name)
    for side in ("source", "destination"):
        address = document.get(side, {}).get("ip")
        if address:
            _append_unique(document, ("related", "ip"), address)


def _map_registry(document: dict[str, Any], data: dict[str, Any], code: str) -> None:
    path = data.get("TargetObject")
    if not path or code not in ("12", "13", "14"):
        return
    registry: dict[str, Any] = {"path": path}
    tokens = path.split("\\")
    while len(tokens) > 1 and not tokens[-1]:
        tokens.pop()  # Java's split, which the pipeline uses, drops trailing empty strings
    hive = _HIVES.get(tokens[0])
    if hive is not None:
        registry["hive"] = hive
        if len(tokens) > 1:
            registry["key"] = "\\".join(tokens[1:])
    registry["value"] = tokens[-1]
    details = data.get("Details")
    if details:
        registry["data"] = _registry_data(details)
    document["registry"] = registry


def _registry_data(details: str) -> dict[str, Any]:
    qword = _QWORD.fullmatch(details)
    if qword:
        value = (int(qword.group(2), 16) << 8) + int(qword.group(3), 16)  # as the pipeline does
        return {"strings": [str(value)], "type": "SZ_QWORD"}
    dword = _DWORD.fullmatch(details)
    if dword:
        return {"strings": [str(int(dword.group(1), 16))], "type": "SZ_DWORD"}
    if details == "Binary Data":
        return {"strings": [details], "type": "REG_BINARY"}
    return {"strings": [details], "type": "REG_SZ"}


def _ip(value: Any) -> str | None:
    """An address as ES' `convert … type: ip` accepts it (the text kept as given)."""
    if not isinstance(value, str):
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return None
    return value


def _long(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None



def _merge(document: dict[str, Any], key: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Add `fields` under document[key] (kept out of the document while empty)."""
    if fields:
        document.setdefault(key, {}).update(fields)
    return document.get(key, fields)


def _append_unique(document: dict[str, Any], path: tuple[str, str], value: str) -> None:
    values = document.setdefault(path[0], {}).setdefault(path[1], [])
    if value not in values:
        values.append(value)
