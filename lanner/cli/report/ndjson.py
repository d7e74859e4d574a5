"""`.ndjson`: the alerts as Kibana indexes them, one document a line, building blocks included,
so they can be bulk-loaded into `.alerts-security.alerts-default` or read by `jq`."""

from __future__ import annotations

from pathlib import Path

from lanner.cli.report.model import HuntResult, Written, alert_count
from lanner.detection.alerts import write_alerts

# Bytes buffered per write to the file: an alert is about 30 KB, mostly its rule's fields.
WRITE_BUFFER = 1 << 20


def write_ndjson(path: Path, result: HuntResult) -> Written:
    """Write every created alert, building blocks of sequences included."""
    with path.open("wb", buffering=WRITE_BUFFER) as stream:
        write_alerts(stream, result.alerts)
    return Written(len(result.alerts), alert_count(result.alerts))
