"""EVTX files as a stream of ECS documents, the way Elastic's Windows integrations index them.

The binary format is read by the Rust-backed `evtx` package; each record's XML-as-JSON becomes
a Winlogbeat document (winlog.py) that its channel's pipeline then refines. A record the parser
cannot decode, or one without the structure of an event, becomes a BadLine naming the file and
the record, and reading goes on with the next record.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson
from evtx import PyEvtxParser

from lanner.store.evtx.powershell import map_powershell_classic, map_powershell_operational
from lanner.store.evtx.security import map_security
from lanner.store.evtx.sysmon import map_sysmon
from lanner.store.evtx.winlog import index_of, winlog_document
from lanner.store.readers import STDIN_NAME, BadLine, Item, Record

_PIPELINES: dict[str, Callable[[dict[str, Any]], None]] = {
    "Microsoft-Windows-Sysmon/Operational": map_sysmon,
    "Security": map_security,
    "Microsoft-Windows-PowerShell/Operational": map_powershell_operational,
    "Windows PowerShell": map_powershell_classic,
}
_RECORD_NUMBER = re.compile(r"record number (\d+)")


def read_evtx(source: str | Path | IO[bytes], name: str | None = None) -> Iterator[Item]:
    """ECS documents of an EVTX file (a path or a binary file object), one per record.

    A file that is not EVTX at all gives one BadLine; so does each record that cannot be read.
    Every document names its file in `log.file.path` (absolute, as Winlogbeat writes it when
    it reads an .evtx file; `archive.zip/member.evtx` for an archive's member; left out for
    standard input) beside its record number, `winlog.record_id`: the same record in two
    files is two documents, each saying where it came from (docs/evtx.md).
    """
    where = name if name is not None else str(source) if isinstance(source, str | Path) else None
    file_path = os.path.abspath(where) if where is not None and where != STDIN_NAME else None
    try:
        parser = PyEvtxParser(str(source) if isinstance(source, Path) else source)
    except (OSError, RuntimeError) as error:
        yield BadLine(where, None, f"not a readable EVTX file: {error}")
        return
    records = parser.records_json()
    item = 0
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except RuntimeError as error:  # one record (or chunk) the parser could not decode
            yield BadLine(where, None, f"record {_record_number(error)}: {error}")
            continue
        try:
            document = evtx_to_ecs(orjson.loads(record["data"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as error:
            number = record.get("event_record_id", "?")
            yield BadLine(where, None, f"record {number}: not an event ({error!r})")
            continue
        if file_path is not None:
            document.setdefault("log", {})["file"] = {"path": file_path}
        item += 1
        yield Record(document, index_of(document["winlog"].get("channel")), None, None, item)


def evtx_to_ecs(record: dict[str, Any]) -> dict[str, Any]:
    """The ECS document of one parsed EVTX record (`{"Event": {"System": …, …}}`)."""
    document = winlog_document(record["Event"])
    pipeline = _PIPELINES.get(document["winlog"].get("channel", ""))
    if pipeline is not None:
        pipeline(document)
    return document


def _record_number(error: Exception) -> str:
    match = _RECORD_NUMBER.search(str(error))
    return match.group(1) if match else "?"
