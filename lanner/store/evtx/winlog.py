"""The document Winlogbeat (or Elastic Agent's winlog input) makes of any Windows event.

Every channel's mapping starts from this: `winlog.*` as Winlogbeat fills it, the `event.*`,
`log.level` and `host.*` fields it adds, `@timestamp`, and the data stream the event belongs
to. Channel pipelines (sysmon.py, security.py, powershell.py) then refine it.

Values in `winlog.event_data` are text, as in the event's XML: Winlogbeat reads the rendered XML,
so a ProcessId is "2772" and a flag "true" there, whatever binary type the EVTX record holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

ECS_VERSION = "8.0.0"

# Channel -> (integration, dataset): the data stream Elastic's integration indexes it into.
CHANNEL_DATASETS: dict[str, tuple[str, str]] = {
    "Security": ("system", "system.security"),
    "System": ("system", "system.system"),
    "Application": ("system", "system.application"),
    "Microsoft-Windows-Sysmon/Operational": ("windows", "windows.sysmon_operational"),
    "Microsoft-Windows-PowerShell/Operational": ("windows", "windows.powershell_operational"),
    "Windows PowerShell": ("windows", "windows.powershell"),
    "Microsoft-Windows-Windows Defender/Operational": ("windows", "windows.windows_defender"),
}
# Any other channel: the Windows integration's catch-all data stream (`logs-windows.forwarded`,
# which takes events of every channel), so that `logs-windows.*` patterns select it.
OTHER_CHANNELS = ("windows", "windows.forwarded")
NAMESPACE = "default"

# Winlogbeat's fallbacks when the publisher's manifest is not at hand (winevent defaultWinMeta).
_KEYWORDS = (
    (0x1000000000000, "Response Time"),
    (0x4000000000000, "WDI Diag"),
    (0x8000000000000, "SQM"),
    (0x10000000000000, "Audit Failure"),
    (0x20000000000000, "Audit Success"),
    (0x40000000000000, "Correlation Hint"),
    (0x80000000000000, "Classic"),
)
_OPCODES = {0: "Info", 1: "Start", 2: "Stop", 3: "DCStart", 4: "DCStop", 5: "Extension",
            6: "Reply", 7: "Resume", 8: "Suspend", 9: "Send"}  # fmt: skip
_LEVELS = {0: "Information", 1: "Critical", 2: "Error", 3: "Warning", 4: "Information",
           5: "Verbose"}  # fmt: skip
_OUTCOMES = {"Audit Success": "success", "Audit Failure": "failure"}


def set_path(document: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Put `value` at a nested path of an ECS document, making the objects on the way."""
    target = document
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def index_of(channel: str | None) -> str:
    """`logs-<dataset>-default`: the data stream Elastic would index this channel's events in."""
    _, dataset = CHANNEL_DATASETS.get(channel or "", OTHER_CHANNELS)
    return f"logs-{dataset}-{NAMESPACE}"


def winlog_document(event: Mapping[str, Any]) -> dict[str, Any]:
    """The Winlogbeat document of one parsed EVTX `Event` element, before channel pipelines."""
    system = event.get("System") or {}
    channel = _text(system.get("Channel"))
    provider = _attributes(system.get("Provider"))
    event_id = _text(_element_text(system.get("EventID")))
    computer = _text(system.get("Computer"))
    time_created = _text(_attributes(system.get("TimeCreated")).get("SystemTime"))
    execution = _attributes(system.get("Execution"))
    correlation = _attributes(system.get("Correlation"))
    user_sid = _text(_attributes(system.get("Security")).get("UserID"))

    winlog: dict[str, Any] = {"api": "wineventlog"}
    _put(winlog, "channel", channel)
    _put(winlog, "event_id", event_id)
    _put(winlog, "provider_name", _text(provider.get("Name")))
    _put(winlog, "provider_guid", _braced(_text(provider.get("Guid"))))
    _put(winlog, "record_id", _text(system.get("EventRecordID")))
    _put(winlog, "computer_name", computer)
    _put(winlog, "version", _integer(system.get("Version")))
    keywords = _keyword_names(system.get("Keywords"))
    if keywords:
        winlog["keywords"] = keywords
    _put(winlog, "opcode", _OPCODES.get(_integer(system.get("Opcode"))))
    if _integer(system.get("Task")) == 0:
        winlog["task"] = "None"
    _put(winlog, "activity_id", _braced(_text(correlation.get("ActivityID"))))
    _put(winlog, "related_activity_id", _braced(_text(correlation.get("RelatedActivityID"))))
    pid, thread = _integer(execution.get("ProcessID")), _integer(execution.get("ThreadID"))
    if pid:
        winlog["process"] = {"pid": pid, "thread": {"id": thread}} if thread else {"pid": pid}
    if user_sid:
        winlog["user"] = {"identifier": user_sid}
    event_data = event_data_of(event.get("EventData"))
    if event_data:
        winlog["event_data"] = event_data
    user_data = user_data_of(event.get("UserData"))
    if user_data:
        winlog["user_data"] = user_data

    module, dataset = CHANNEL_DATASETS.get(channel or "", OTHER_CHANNELS)
    ecs_event: dict[str, Any] = {"kind": "event", "module": module, "dataset": dataset}
    _put(ecs_event, "code", event_id)
    _put(ecs_event, "provider", winlog.get("provider_name"))
    _put(ecs_event, "created", time_created)
    outcome = next((_OUTCOMES[name] for name in keywords if name in _OUTCOMES), None)
    _put(ecs_event, "outcome", outcome)

    document: dict[str, Any] = {}
    _put(document, "@timestamp", _millisecond_timestamp(time_created))
    document["event"] = ecs_event
    level = _LEVELS.get(_integer(system.get("Level")))
    if level:
        document["log"] = {"level": level.lower()}
    host: dict[str, Any] = {"os": {"type": "windows", "family": "windows"}}
    if computer:
        host = {"name": computer.lower(), "hostname": computer, **host}
    document["host"] = host
    document["winlog"] = winlog
    document["ecs"] = {"version": ECS_VERSION}
    document["data_stream"] = {"type": "logs", "dataset": dataset, "namespace": NAMESPACE}
    return document


def event_data_of(element: Any) -> dict[str, Any]:
    """`winlog.event_data`: named `Data` by name, unnamed ones as param1, param2, … (numbered
    among all of them, as Winlogbeat does), empty ones left out."""
    if not isinstance(element, Mapping):
        return {}
    data: dict[str, Any] = {}
    for name, value in element.items():
        if name == "#attributes":
            continue
        if name == "Data":  # unnamed <Data> elements
            values = _element_text(value)
            for number, text in enumerate(values if isinstance(values, list) else [values], 1):
                _put_value(data, f"param{number}", _text(text))
        else:
            _put_value(data, name, _text(_element_text(value)))
    return data


def user_data_of(element: Any) -> dict[str, Any]:
    """`winlog.user_data`: the children of UserData's one element, and its name as xml_name."""
    if not isinstance(element, Mapping):
        return {}
    for name, child in element.items():
        if name == "#attributes":
            continue
        data: dict[str, Any] = {"xml_name": name}
        if isinstance(child, Mapping):
            for key, value in child.items():
                if key != "#attributes":
                    _put_value(data, key, _text(_element_text(value)))
        return data
    return {}


def _keyword_names(value: Any) -> list[str]:
    try:
        mask = int(str(value), 0)
    except ValueError:
        return []
    return [name for bit, name in _KEYWORDS if mask & bit]


def _millisecond_timestamp(time_created: str | None) -> str | None:
    """`2019-04-27T15:57:25.868863Z` -> `2019-04-27T15:57:25.868Z`: Beats write milliseconds."""
    if not time_created or len(time_created) < 19:
        return time_created
    fraction = time_created[20:].rstrip("Z") if time_created[19:20] == "." else ""
    return f"{time_created[:19]}.{(fraction + '000')[:3]}Z"


def _braced(guid: str | None) -> str | None:
    """GUIDs of the System element as the rendered XML writes them: `{…}`."""
    if not guid or guid.startswith("{"):
        return guid
    return "{" + guid + "}"


def _attributes(element: Any) -> Mapping[str, Any]:
    if isinstance(element, Mapping):
        attributes = element.get("#attributes")
        if isinstance(attributes, Mapping):
            return attributes
    return {}


def _element_text(value: Any) -> Any:
    """The text of an element that may carry attributes (`{"#attributes": …, "#text": …}`)."""
    if isinstance(value, Mapping) and "#text" in value:
        return value["#text"]
    return value


def _integer(value: Any) -> int | None:
    value = _element_text(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 0)
    except ValueError:
        return None


def _text(value: Any) -> Any:
    """A value as Winlogbeat reads it from the rendered XML: text (lists stay lists of text);
    None for nothing. Line ends stay as recorded (`\r\n`), as in the documents Elastic indexed."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return [_text(_element_text(element)) for element in value]
    return orjson.dumps(value).decode()


def _put_value(target: dict[str, Any], key: str, value: Any) -> None:
    """An event_data/user_data value; Winlogbeat leaves empty ones out."""
    if value is not None and value != "":
        target[key] = value


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value
