"""Which index a document without `_index` belongs to, told from its own fields.

Elastic's ingest writes Elastic Agent data to data streams (`data_stream.*`), Beats to
`<beat>-<version>` indices and Endgame to `endgame-*`; rules select their data by those index
patterns. A document exported without its `_index` is given the index it would have had, so
that index patterns such as `logs-endpoint.events.process-*` or `winlogbeat-*` select it.
"""

from __future__ import annotations

from collections.abc import Callable

# The fields the decision reads, so that a columnar reader can fetch just these.
INDEX_FIELDS = ("data_stream.type", "data_stream.dataset", "data_stream.namespace",
                "agent.type", "agent.version", "event.module", "event.dataset", "event.category",
                "event.kind")

# Elastic Defend's data stream for each event category, for endpoint documents that carry
# neither `data_stream.*` nor `event.dataset` (older agents, hand-made exports).
ENDPOINT_STREAMS = {"process": "process", "file": "file", "network": "network",
                    "registry": "registry", "library": "library", "driver": "library",
                    "authentication": "security", "session": "security", "iam": "security",
                    "api": "api"}

BEATS = frozenset({"winlogbeat", "auditbeat", "filebeat", "packetbeat", "metricbeat",
                   "heartbeat", "functionbeat"})


def derive_index(get: Callable[[str], object]) -> str | None:
    """The index of a document whose field values `get(name)` returns; None if untold.

    In order: the data stream (`logs-endpoint.events.process-default`); a Beat's own index
    (`winlogbeat-8.17.0`); Endgame (`endgame-<version>`); an Elastic Agent integration's
    data stream from `event.dataset` when the document lost its `data_stream` fields, or, for
    Elastic Defend, from its event category.
    """
    kind, dataset, namespace = (_text(get(name)) for name in INDEX_FIELDS[:3])
    if kind and dataset and namespace:
        return f"{kind}-{dataset}-{namespace}"
    agent, version = _text(get("agent.type")), _text(get("agent.version"))
    module, event_dataset = _text(get("event.module")), _text(get("event.dataset"))
    if agent in BEATS:
        return f"{agent}-{version or 'unknown'}"
    if agent == "endgame" or module == "endgame":
        return f"endgame-{version or 'unknown'}"
    if event_dataset and (agent in {"endpoint", "elastic-agent"} or module):
        return f"logs-{event_dataset}-default"
    if agent == "endpoint":
        if _text(get("event.kind")) == "alert":
            return "logs-endpoint.alerts-default"
        stream = ENDPOINT_STREAMS.get(_text(get("event.category")) or "")
        if stream:
            return f"logs-endpoint.events.{stream}-default"
    return None


def _text(value: object) -> str | None:
    if isinstance(value, list):  # a multi-valued field: its first value, as ES scripts see it
        value = value[0] if value else None
    return value if isinstance(value, str) and value else None
