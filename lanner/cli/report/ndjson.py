"""`.ndjson`: the alerts as Kibana indexes them, one document a line, building blocks included,
so they can be bulk-loaded into `.alerts-security.alerts-default` or read by `jq`."""

from __future__ import annotations

from pathlib import Path

import orjson

from lanner.cli.report.model import HuntResult, Written, alert_count


def write_ndjson(path: Path, result: HuntResult) -> Written:
    """Write every created alert, building blocks of sequences included."""
    with path.open("wb") as stream:
        for alert in result.alerts:
            stream.write(orjson.dumps(alert, option=orjson.OPT_NON_STR_KEYS) + b"\n")
    return Written(len(result.alerts), alert_count(result.alerts))
