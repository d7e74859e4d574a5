"""Raw Windows event logs (EVTX) as the ECS documents Elastic's Windows integrations index."""

from lanner.store.evtx.cmdline import split_command_line, split_on_unquoted_whitespace
from lanner.store.evtx.reader import evtx_to_ecs, read_evtx
from lanner.store.evtx.winlog import CHANNEL_DATASETS, index_of

__all__ = [
    "CHANNEL_DATASETS",
    "evtx_to_ecs",
    "index_of",
    "read_evtx",
    "split_command_line",
    "split_on_unquoted_whitespace",
]
