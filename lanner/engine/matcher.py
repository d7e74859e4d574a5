"""The sequence, sample and missing-event matcher that every backend shares.

Backends evaluate each stage's filter and hand over candidate events; everything that makes a
sequence or a sample (ordering, join keys, maxspan, until, missing events, result selection)
happens here, so DuckDB and any later backend give Elasticsearch's answers by construction.
The contract is §6-§9 of ../shared/spec/EQL-SEMANTICS.md.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from lanner.cache import gc_paused

T = TypeVar("T")

_NS_PER_MS = 1_000_000
_UNTIL = 1  # stream tag of until events: sorts after every stage tag (-stage) of the same event


class Event(NamedTuple):
    """A candidate event as a backend hands it over."""

    doc: int  # identity and ingest order: the implicit last tiebreaker
    timestamp: int  # nanoseconds since the epoch (millisecond data is ms * 1_000_000)
    tiebreaker: object | None = None  # value of the tiebreaker field; None sorts AFTER any value
    keys: tuple[tuple, ...] = ((),)  # this stage's join-key tuples (expand_keys); () => excluded


def ordinal(event: Event) -> tuple:
    """Sort key (timestamp, tiebreaker with None last, doc): Elasticsearch's event order (§6).

    The `is None` flag decides before the tiebreaker values are compared, so None never meets
    a value in a comparison.
    """
    return (event.timestamp, event.tiebreaker is None, event.tiebreaker, event.doc)


def expand_keys(values: Sequence[object], optional: Sequence[bool]) -> tuple[tuple, ...]:
    """Join-key tuples of one event for one stage (§8.2).

    Each value may be a scalar, None or a list; lists are de-duplicated and sorted (ES reads
    doc values), None entries inside lists dropped; an empty/all-null list counts as missing;
    a missing non-optional key => () (event excluded); a missing optional key => component
    None; the result is the cartesian product, in sorted order (None is only ever a
    component's sole value, so the product order is the composite-key order).
    """
    components: list[list[object]] = []
    for value, is_optional in zip(values, optional, strict=True):
        if isinstance(value, list | tuple):
            present: list[object] = sorted({item for item in value if item is not None})
        else:
            present = [] if value is None else [value]
        if not present:
            if not is_optional:
                return ()
            present = [None]
        components.append(present)
    return tuple(itertools.product(*components))


def _component_order(value: object) -> tuple:
    """Ascending composite-key order of one component: None first, then numbers, then strings.

    Python compares str by code point, which is the UTF-8 byte order Elasticsearch uses for
    keywords ("GTA" < "doom"), so strings need no encoding.
    """
    if value is None:
        return (0,)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, value)


def key_order(key: tuple) -> tuple:
    """Sort key of a join-key tuple: components compared in order, each by _component_order."""
    return tuple(_component_order(component) for component in key)


# ------------------------------------------------------------------------------------------
# Sequences (§8)


@dataclass(frozen=True)
class SequenceSpec:
    stages: int  # number of stages AFTER expanding `with runs=N` (the planner expands)
    missing: tuple[bool, ...]  # per stage: is it a `![...]` missing-event stage
    maxspan: int | None  # nanoseconds, or None
    has_until: bool


@dataclass(frozen=True)
class SequenceMatch:
    key: tuple  # the join key
    events: tuple[Event | None, ...]  # one per stage, in order; None = a missing-event placeholder


@gc_paused(kept=False)
def match_sequences(
    spec: SequenceSpec, candidates: Sequence[Sequence[Event]], until: Sequence[Event] = ()
) -> list[SequenceMatch]:
    """Every completed sequence, in ES result order (ordinal of the last positive event, then
    key), before size and pipes.

    candidates[i] = events matching stage i, in any order; for a missing stage, the events
    matching that stage's filter. `until` = events matching the until filter, with the until
    stage's own key tuples. Candidates that arrive in ordinal order sort in linear time.
    """
    if len(spec.missing) != spec.stages or len(candidates) != spec.stages:
        raise ValueError("a sequence needs one candidate list and one missing flag per stage")
    positive = [stage for stage in range(spec.stages) if not spec.missing[stage]]
    if not positive:
        raise ValueError("a sequence needs at least one positive stage")
    completed = _match_positive(spec, candidates, until, positive)
    if len(positive) == spec.stages:
        return [SequenceMatch(key, events) for key, events in completed]
    check = _MissingCheck(spec, candidates, positive)
    return [
        SequenceMatch(key, check.placed(events))
        for key, events in completed
        if check.accepts(key, events)
    ]


def _match_positive(
    spec: SequenceSpec,
    candidates: Sequence[Sequence[Event]],
    until: Sequence[Event],
    positive: list[int],
) -> list[tuple[tuple, tuple[Event, ...]]]:
    """(key, positive events) of every completed sequence, in result order.

    This is §8.3's stream formulation. A stage keeps ONE pending sequence per key: advancing
    always takes the latest pending sequence of the previous stage and drops it together with
    all older ones, so older ones could never be used again. The stages of one event run from
    the last to the first, so the pending sequence taken for stage s was always extended by an
    earlier event (the strict `<`): an event never fills two stages of one sequence.
    """
    first, last = positive[0], positive[-1]
    previous = {stage: before for before, stage in itertools.pairwise(positive)}

    # One entry per (event, role), sorted by the event's ordinal (spelled out as in ordinal(),
    # which sorts much faster than a key function), then its stages from the last to the first,
    # then its until role. From here on an entry's index in the stream stands for the ordinal.
    stream = [
        (e.timestamp, e.tiebreaker is None, e.tiebreaker, e.doc, -stage, e)
        for stage in positive
        for e in candidates[stage]
        if e.keys
    ]
    if spec.has_until:
        stream.extend(
            (e.timestamp, e.tiebreaker is None, e.tiebreaker, e.doc, _UNTIL, e)
            for e in until
            if e.keys
        )
    stream.sort()

    # per positive stage, per key: (start timestamp, stream index of the last matched event,
    # the events so far) of the one pending sequence
    pending: dict[int, dict[tuple, tuple[int, int, tuple[Event, ...]]]] = {
        stage: {} for stage in positive
    }
    # per key: stream index of the latest until event. It is recorded after the stages of its
    # own event ran (it sorts after them), so it counts only for later events, and it kills a
    # sequence whose last event is that same event (`ordinal(seq.last) <= u`).
    latest_until: dict[tuple, int] = {}
    completed: list[tuple[tuple, tuple[Event, ...]]] = []
    maxspan = spec.maxspan
    for position, entry in enumerate(stream):
        tag, event = entry[4], entry[5]
        keys = event.keys
        if tag == _UNTIL:
            for key in keys:
                latest_until[key] = position
            continue
        stage = -tag
        if stage == last and len(keys) > 1:
            # sequences ending at the same event come out ordered by key
            keys = tuple(sorted(keys, key=key_order))
        if stage == first:
            if stage == last:
                completed.extend((key, (event,)) for key in keys)
            else:
                opened = pending[stage]
                for key in keys:
                    opened[key] = (event.timestamp, position, (event,))
            continue
        waiting = pending[previous[stage]]
        advanced = pending[stage]
        for key in keys:
            sequence = waiting.pop(key, None)
            if sequence is None:
                continue
            start, last_position, events = sequence
            if maxspan is not None and event.timestamp - start > maxspan:
                continue
            if latest_until.get(key, -1) >= last_position:
                continue
            if stage == last:
                completed.append((key, (*events, event)))
            else:
                advanced[key] = (start, position, (*events, event))
    return completed


class _MissingCheck:
    """§8.4: the post-check of positive sequences against their `![...]` stages.

    Elasticsearch queries each missing stage with millisecond `gt`/`lt` timestamp ranges around
    the positive events, so ranges compare timestamps truncated to milliseconds; the maxspan
    comparisons of the acceptance rule use the full timestamps, as ES' Timestamp.delta does.
    """

    def __init__(
        self, spec: SequenceSpec, candidates: Sequence[Sequence[Event]], positive: list[int]
    ) -> None:
        self.spec = spec
        self.positive = positive
        # per missing stage, per key: the sorted timestamps of the events matching its filter
        self.times: dict[int, dict[tuple, list[int]]] = {}
        for stage in range(spec.stages):
            if spec.missing[stage]:
                index: dict[tuple, list[int]] = {}
                for event in candidates[stage]:
                    for key in event.keys:
                        index.setdefault(key, []).append(event.timestamp)
                for times in index.values():
                    times.sort()
                self.times[stage] = index
        self.leading = [stage for stage in self.times if stage < positive[0]]
        self.trailing = [stage for stage in self.times if stage > positive[-1]]
        # middle stage -> (index of the positive event before it, index of the one after it)
        self.middle = {
            stage: (slot, slot + 1)
            for slot, (before, after) in enumerate(itertools.pairwise(positive))
            for stage in range(before + 1, after)
        }

    def accepts(self, key: tuple, events: tuple[Event, ...]) -> bool:
        for stage, (before, after) in self.middle.items():
            times = self.times[stage].get(key, ())
            low = bisect_left(times, (events[before].timestamp // _NS_PER_MS + 1) * _NS_PER_MS)
            high = bisect_left(times, events[after].timestamp // _NS_PER_MS * _NS_PER_MS)
            if low < high:
                return False
        start, end = events[0].timestamp, events[-1].timestamp
        last_leading = None
        for stage in self.leading:
            times = self.times[stage].get(key, ())
            i = bisect_left(times, start // _NS_PER_MS * _NS_PER_MS)
            if i and (last_leading is None or times[i - 1] > last_leading):
                last_leading = times[i - 1]
        first_trailing = None
        for stage in self.trailing:
            times = self.times[stage].get(key, ())
            i = bisect_left(times, (end // _NS_PER_MS + 1) * _NS_PER_MS)
            if i < len(times) and (first_trailing is None or times[i] < first_trailing):
                first_trailing = times[i]
        leads, trails = self.spec.missing[0], self.spec.missing[-1]
        # Elasticsearch's rule (TumblingWindow.doCheckMissingEvents) with its redundant terms
        # folded: a side without a matching event always accepts (_exceeds(None, ...) is True)
        if leads and trails:
            return self._exceeds(last_leading, first_trailing)
        if leads:
            return self._exceeds(last_leading, end)
        if trails:
            return self._exceeds(start, first_trailing)
        return True

    def _exceeds(self, earlier: int | None, later: int | None) -> bool:
        if earlier is None or later is None:
            return True
        return self.spec.maxspan is not None and later - earlier > self.spec.maxspan

    def placed(self, events: tuple[Event, ...]) -> tuple[Event | None, ...]:
        """The positive events at their stages, None placeholders at the missing ones."""
        placed: list[Event | None] = [None] * self.spec.stages
        for stage, event in zip(self.positive, events, strict=True):
            placed[stage] = event
        return tuple(placed)


# ------------------------------------------------------------------------------------------
# Samples (§9)


@dataclass(frozen=True)
class SampleMatch:
    key: tuple
    events: tuple[Event, ...]  # one per filter, in filter order


@gc_paused(kept=False)
def match_samples(
    candidates: Sequence[Sequence[Event]], max_samples_per_key: int = 1, limit: int | None = None
) -> list[SampleMatch]:
    """Samples in ascending composite-key order, up to `max_samples_per_key` per key, at most
    `limit` in all (§9).

    As Elasticsearch's SampleIterator: for each key present in every filter, each filter offers
    its first `filters + max_samples_per_key - 1` events (ingest order; ES asks each filter for
    that many hits), enough for that many samples of distinct events; backtracking then picks
    one distinct event per filter, in lexicographic order of the candidates.
    """
    if max_samples_per_key < 1:
        raise ValueError("max_samples_per_key must be at least 1")
    if not candidates or (limit is not None and limit <= 0):
        return []
    wanted = len(candidates) + max_samples_per_key - 1
    offers: list[dict[tuple, list[Event]]] = []
    for events in candidates:
        by_key: dict[tuple, list[Event]] = {}
        for event in sorted(events, key=lambda e: e.doc):
            for key in event.keys:
                offered = by_key.setdefault(key, [])
                if len(offered) < wanted:
                    offered.append(event)
        offers.append(by_key)
    shared = set(offers[0]).intersection(*offers[1:])

    samples: list[SampleMatch] = []
    for key in sorted(shared, key=key_order):
        for events in _distinct_picks([offer[key] for offer in offers], max_samples_per_key):
            samples.append(SampleMatch(key, events))
            if len(samples) == limit:
                return samples
    return samples


def _distinct_picks(offers: list[list[Event]], wanted: int) -> list[tuple[Event, ...]]:
    """Up to `wanted` tuples with one event per offer list, no event twice in a tuple."""
    found: list[tuple[Event, ...]] = []
    chosen: list[Event] = []
    used: set[int] = set()

    def extend(depth: int) -> None:
        for event in offers[depth]:
            if event.doc in used:
                continue
            chosen.append(event)
            used.add(event.doc)
            if depth == len(offers) - 1:
                found.append(tuple(chosen))
            else:
                extend(depth + 1)
            chosen.pop()
            used.discard(event.doc)
            if len(found) == wanted:
                return

    extend(0)
    return found


# ------------------------------------------------------------------------------------------
# Size, result_position and pipes (§7)


def select_results(
    results: Sequence[T],
    size: int,
    result_position: str = "tail",
    pipes: Sequence[tuple[str, int]] = (),
) -> list[T]:
    """Cap ordered results the way Elasticsearch plans it (LogicalPlanBuilder.visitStatement).

    Without pipes, `size` keeps the first (head) or last (tail, the default) results. With
    pipes, ES inserts the size limit right before the first pipe, in that pipe's direction
    (result_position no longer matters), then the pipes slice left to right:
    `| head 4 | tail 2` keeps elements 3-4. The output stays in ascending order.
    """
    selected = list(results)
    first_direction = pipes[0][0] if pipes else result_position
    for direction, count in [(first_direction, size), *pipes]:
        selected = _take(selected, direction, count)
    return selected


def _take(items: list[T], direction: str, count: int) -> list[T]:
    if direction == "head":
        return items[: max(count, 0)]
    if direction == "tail":
        return items[max(len(items) - count, 0) :] if count > 0 else []
    raise ValueError(f"unknown result direction {direction!r}: expected head or tail")
