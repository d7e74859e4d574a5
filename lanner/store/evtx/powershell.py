"""PowerShell events as the Windows integration's `powershell_operational` and `powershell`
pipelines leave them.

Follows packages/windows/data_stream/powershell_operational/elasticsearch/ingest_pipeline/
default.yml (4103 module logging, 4104 script blocks, 4105/4106). The classic "Windows
PowerShell" channel (400/403/600/800) gets the same field mapping after its key=value detail
parameter is split, as the `powershell` pipeline does.
"""

from __future__ import annotations

import re
from typing import Any

from lanner.store.evtx.cmdline import split_command_line
from lanner.store.evtx.winlog import set_path

_DETAIL = re.compile(r"^(.+)\((.+)\):\s*(.+)?$")
_PARAMETER_BINDING = re.compile(r"name=(.+);\s*value=(.+)$")
_KV_TRIM = " \n\t"
# (event_data field, ECS path) moved by the pipeline when not empty.
_RENAMES = (
    ("HostID", ("process", "entity_id")),
    ("HostApplication", ("process", "command_line")),
    ("HostName", ("process", "title")),
    ("ShellID", ("powershell", "id")),
    ("EngineVersion", ("powershell", "engine", "version")),
    ("PipelineID", ("powershell", "pipeline_id")),
    ("RunspaceID", ("powershell", "runspace_id")),
    ("RunspaceId", ("powershell", "runspace_id")),
    ("HostVersion", ("powershell", "process", "executable_version")),
    ("CommandLine", ("powershell", "command", "value")),
    ("CommandPath", ("powershell", "command", "path")),
    ("CommandName", ("powershell", "command", "name")),
    ("CommandType", ("powershell", "command", "type")),
    ("ScriptBlockId", ("powershell", "file", "script_block_id")),
    ("ScriptBlockText", ("powershell", "file", "script_block_text")),
)
_CLEANUP = ("SequenceNumber", "User", "ConnectedUser", "ContextInfo", "Severity", "MessageTotal",
            "MessageNumber", "Payload")  # fmt: skip
# Classic channel: the event data parameter holding `Key=Value` lines, per event id.
_CLASSIC_DETAILS = {"400": "param3", "403": "param3", "600": "param3", "800": "param2"}
_CLASSIC_TYPES = {"400": "start", "403": "end"}
_OPERATIONAL_TYPES = {"4105": "start", "4106": "end"}


def map_powershell_operational(document: dict[str, Any]) -> None:
    """Apply the powershell_operational pipeline to a Winlogbeat document, in place."""
    winlog = document["winlog"]
    data: dict[str, Any] = dict(winlog.get("event_data", {}))
    code = document["event"].get("code", "")
    if code == "4103" and isinstance(data.get("ContextInfo"), str):
        data.update(_key_values(data["ContextInfo"], "\n"))
    _map(document, winlog, data, _OPERATIONAL_TYPES.get(code, "info"))
    if code == "4103" and isinstance(data.get("Payload"), str):
        details = [_invocation_detail(line) for line in data["Payload"].split("\n")]
        if details:
            document.setdefault("powershell", {}).setdefault("command", {})[
                "invocation_details"] = details
    _finish(document, winlog, data)


def map_powershell_classic(document: dict[str, Any]) -> None:
    """Apply the `powershell` (Windows PowerShell channel) mapping, in place."""
    winlog = document["winlog"]
    data: dict[str, Any] = dict(winlog.get("event_data", {}))
    code = document["event"].get("code", "")
    detail = data.get(_CLASSIC_DETAILS.get(code, ""))
    if isinstance(detail, str):
        data.update(_key_values(detail, "\n"))
    _map(document, winlog, data, _CLASSIC_TYPES.get(code, "info"))
    _finish(document, winlog, data)


def _map(document: dict[str, Any], winlog: dict[str, Any], data: dict[str, Any],
         event_type: str) -> None:
    """The steps both pipelines share: keys without spaces, event, process, user, powershell."""
    cleaned = {re.sub(r"\s", "", key): value for key, value in data.items()}
    data.clear()
    data.update(cleaned)
    event = document["event"]
    event["category"] = "process"
    event["type"] = event_type
    sequence = _long(data.get("SequenceNumber"))
    if sequence is not None:
        event["sequence"] = sequence
    for field, path in _RENAMES:
        if data.get(field, "") != "":
            set_path(document, path, data.pop(field))
    user: dict[str, Any] = {}
    identifier = winlog.get("user", {}).get("identifier")
    if identifier:
        user["id"] = identifier
    user.update(_account(data.get("User")))
    if user:
        document["user"] = user
    if user.get("name"):
        _related_user(document, user["name"])
    connected = _account(data.get("ConnectedUser"))
    if connected:
        document["source"] = {"user": connected}
        if connected.get("name"):
            _related_user(document, connected["name"])
        destination = {key: user.pop(key) for key in ("domain", "name") if key in user}
        if destination:
            document["destination"] = {"user": destination}
        user.update(connected)
        document["user"] = user
    powershell = document.setdefault("powershell", {})
    for field, key in (("MessageNumber", "sequence"), ("MessageTotal", "total")):
        number = _long(data.get(field))
        if number is not None:
            powershell[key] = number
    if not powershell:
        del document["powershell"]
    command_line = document.get("process", {}).get("command_line")
    if command_line:
        args = split_command_line(command_line)
        document["process"]["args"] = args
        document["process"]["args_count"] = len(args)
    if data.get("Path", "") != "":
        data["ScriptName"] = data.pop("Path")
    script = data.get("ScriptName")
    if isinstance(script, str) and len(script) > 1 and "\\" in script:
        directory, _, name = script.rpartition("\\")
        file = document.setdefault("file", {})
        file["name"], file["directory"] = name, directory
        if "." in script:
            file["extension"] = script.rpartition(".")[2]
    if data.get("ScriptName", "") != "":
        document.setdefault("file", {})["path"] = data.pop("ScriptName")


def _finish(document: dict[str, Any], winlog: dict[str, Any], data: dict[str, Any]) -> None:
    for field in _CLEANUP:
        data.pop(field, None)
    remaining = {key: value for key, value in data.items() if value is not None and value != ""}
    if remaining:
        winlog["event_data"] = remaining
    else:
        winlog.pop("event_data", None)


def _key_values(text: str, separator: str) -> dict[str, str]:
    """ES' kv processor: split into fields, each at its first `=`, trimming spaces/tabs/\\n."""
    pairs: dict[str, str] = {}
    for field in text.split(separator):
        key, equals, value = field.partition("=")
        if equals:
            key = key.strip(_KV_TRIM)
            if key:
                pairs[key] = value.strip(_KV_TRIM)
    return pairs


def _invocation_detail(raw: str) -> dict[str, str]:
    """One `Type(Command): value` line of a 4103 Payload, as the pipeline's script parses it."""
    match = _DETAIL.match(raw)
    if not match:
        return {"value": raw}
    kind, command, value = match.group(1), match.group(2), match.group(3)
    if kind != "ParameterBinding":
        detail = {"type": kind, "related_command": command, "value": value}
        return {key: item for key, item in detail.items() if item is not None}
    binding = _PARAMETER_BINDING.match(value or "")
    if not binding:
        return {"value": value} if value is not None else {}
    return {"type": kind, "related_command": command, "name": binding.group(1),
            "value": binding.group(2)}  # fmt: skip


def _account(text: Any) -> dict[str, str]:
    """`DOMAIN\\name` as domain and name; anything else gives nothing."""
    if not isinstance(text, str):
        return {}
    parts = text.split("\\")
    if len(parts) != 2:
        return {}
    return {key: part for key, part in zip(("domain", "name"), parts, strict=True) if part}


def _related_user(document: dict[str, Any], name: str) -> None:
    users = document.setdefault("related", {}).setdefault("user", [])
    if name not in users:
        users.append(name)


def _long(value: Any) -> int | None:
    """ES' `convert` to long, which refuses surrounding whitespace (a kv value's `\r`)."""
    text = str(value)
    if text != text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        return None

