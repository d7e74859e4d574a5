"""`.layer.json`: an ATT&CK Navigator layer scoring each technique by its alerts, to open at
https://mitre-attack.github.io/attack-navigator/ (Open Existing Layer, Upload from local)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from lanner.cli.report.model import HuntResult, Written, technique_counts

LAYER_VERSIONS = {"attack": "17", "navigator": "5.1.0", "layer": "4.5"}


def navigator_layer(result: HuntResult, name: str = "Lanner hunt") -> dict[str, Any]:
    """The layer document: one entry per (technique, tactic), score = alerts, comment = rules."""
    counts = technique_counts(result.alerts)
    with_subtechniques = {count.technique_id.split(".")[0] for count in counts
                          if "." in count.technique_id}
    techniques = [{
        "techniqueID": count.technique_id,
        "tactic": count.tactic_name.lower().replace(" ", "-"),
        "score": count.alerts,
        "color": "",
        "comment": "; ".join(count.rules),
        "enabled": True,
        "metadata": [{"name": "rule", "value": rule} for rule in count.rules],
        "links": [],
        "showSubtechniques": count.technique_id in with_subtechniques,
    } for count in counts]
    most = max((count.alerts for count in counts), default=1)
    return {
        "name": name,
        "versions": LAYER_VERSIONS,
        "domain": "enterprise-attack",
        "description": f"Alerts of a Lanner hunt started {result.started_at:%Y-%m-%d %H:%M} UTC"
                       f" over {result.events:,} events: score = alerts per technique.",
        "sorting": 3,  # by score, descending
        "layout": {"layout": "side", "showID": True, "showName": True},
        "hideDisabled": False,
        "techniques": techniques,
        "gradient": {"colors": ["#fff7bcff", "#fe9929ff", "#cc4c02ff"], "minValue": 0,
                     "maxValue": most},
        "legendItems": [],
        "metadata": [],
        "showTacticRowBackground": False,
        "selectTechniquesAcrossTactics": False,
    }


def write_layer(path: Path, result: HuntResult) -> Written:
    """Write the layer; says how many technique entries it scores."""
    layer = navigator_layer(result)
    path.write_bytes(orjson.dumps(layer, option=orjson.OPT_INDENT_2))
    count = len(layer["techniques"])
    return Written(count, f"{count} technique(s) scored by alerts")
