"""Report files of a hunt, the format following the file name, as responders' tools do:
`.ndjson` Kibana-shaped alerts, `.csv` a timeline, `.html` a self-contained report,
`.layer.json` an ATT&CK Navigator layer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lanner.cli.report.html import write_html
from lanner.cli.report.layer import write_layer
from lanner.cli.report.model import HuntResult, Written
from lanner.cli.report.ndjson import write_ndjson
from lanner.cli.report.timeline import write_timeline
from lanner.errors import LannerError

Writer = Callable[[Path, HuntResult], Written]

# Longest suffix first: `.layer.json` before anything shorter.
FORMATS: tuple[tuple[str, str, Writer], ...] = (
    (".layer.json", "ATT&CK Navigator layer", write_layer),
    (".ndjson", "alerts (NDJSON)", write_ndjson),
    (".jsonl", "alerts (NDJSON)", write_ndjson),
    (".csv", "timeline (CSV)", write_timeline),
    (".html", "report (HTML)", write_html),
    (".htm", "report (HTML)", write_html),
)


class ReportError(LannerError):
    """A report file that cannot be written: unknown format or an unwritable path."""


def report_format(path: Path) -> tuple[str, Writer]:
    """What a file name asks for: (description, writer); ReportError for any other name."""
    name = path.name.lower()
    for suffix, description, writer in FORMATS:
        if name.endswith(suffix):
            return description, writer
    known = ", ".join(suffix for suffix, _, _ in FORMATS)
    raise ReportError(f"cannot tell the report format of {path}: name it with one of {known}")


def write_report(path: Path, result: HuntResult) -> tuple[str, Written]:
    """Write one report file; returns its description and what it holds."""
    description, writer = report_format(path)
    try:
        return description, writer(path, result)
    except OSError as error:
        raise ReportError(f"cannot write {path}: {error.strerror}") from None


__all__ = ["FORMATS", "HuntResult", "ReportError", "Written", "report_format", "write_report"]
