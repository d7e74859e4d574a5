"""The shared matcher against the pinned examples of EQL-SEMANTICS §6-§9 and suite data.

Candidate lists are built by hand (the matcher never sees a query), so each test states exactly
which events matched which stage; expected ids are the ones the spec or the suite pins.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lanner.engine.matcher import (
    Event,
    SequenceMatch,
    SequenceSpec,
    expand_keys,
    match_samples,
    match_sequences,
    ordinal,
    select_results,
)
from tests.conftest import CONFORMANCE, require_shared

MS = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ev(doc: int, ms: int | None = None, key: object = ()) -> Event:
    """An event at `ms` milliseconds (default: its doc id) offering one join key, or none."""
    keys = ((key,),) if key != () else ((),)
    return Event(doc, (doc if ms is None else ms) * MS, None, keys)


def spec(stages: int, missing: Sequence[bool] = (), maxspan_ms: int | None = None,
         until: bool = False) -> SequenceSpec:
    flags = tuple(missing) or (False,) * stages
    return SequenceSpec(stages, flags, None if maxspan_ms is None else maxspan_ms * MS, until)


def ids(matches: Sequence[SequenceMatch]) -> list[list[int]]:
    return [[-1 if e is None else e.doc for e in m.events] for m in matches]


# ---------------------------------------------------------------------------------- ordinal


def test_ordinal_orders_timestamp_then_tiebreaker_with_none_last_then_doc() -> None:
    events = [Event(1, 5, None), Event(2, 5, 9), Event(3, 5, 2), Event(4, 4, None),
              Event(5, 5, None), Event(0, 5, 2)]
    assert [e.doc for e in sorted(events, key=ordinal)] == [4, 0, 3, 2, 1, 5]


def test_tiebreaker_none_sorts_after_a_value_at_the_same_timestamp() -> None:
    untied = Event(1, 7 * MS, None)  # ingested first, but without a tiebreaker value
    tied = Event(2, 7 * MS, 3)
    assert match_sequences(spec(2), [[untied], [tied]]) == []
    assert ids(match_sequences(spec(2), [[tied], [untied]])) == [[2, 1]]


# ------------------------------------------------------------------------------ expand_keys


def test_expand_keys_scalars_lists_and_missing_values() -> None:
    assert expand_keys([], []) == ((),)
    assert expand_keys(["a", 1], [False, False]) == (("a", 1),)
    # doc values: deduplicated, sorted, nulls inside arrays dropped
    assert expand_keys([["b", "a", "b", None]], [False]) == (("a",), ("b",))
    # the cartesian product, in composite-key order
    assert expand_keys([["t4", "t3"], ["i2", "i1"]], [False, False]) == (
        ("t3", "i1"), ("t3", "i2"), ("t4", "i1"), ("t4", "i2"))
    # a missing non-optional key excludes the event, whatever the other keys hold
    for missing in (None, [], [None, None]):
        assert expand_keys(["a", missing], [False, False]) == ()
        assert expand_keys([["a", "b"], missing], [False, True]) == (("a", None), ("b", None))


# -------------------------------------------------------------------------------- sequences


def test_sequence_condition_many_many() -> None:
    """[serial_event_id <= 3] [true] [true] over 1..5 -> [1,2,3] [2,3,4] [3,4,5]."""
    everything = [ev(i) for i in range(1, 6)]
    found = match_sequences(spec(3), [everything[:3], everything, everything])
    assert ids(found) == [[1, 2, 3], [2, 3, 4], [3, 4, 5]]


def test_double_same_sequence() -> None:
    """[id < 5] [id < 5] -> [1,2] [2,3] [3,4]: an event serves two different sequences."""
    below_five = [ev(i) for i in range(1, 5)]
    assert ids(match_sequences(spec(2), [below_five, below_five])) == [[1, 2], [2, 3], [3, 4]]


def test_later_first_stage_event_supersedes_the_pending_one() -> None:
    a1, a2, b3 = ev(1, key="k"), ev(2, key="k"), ev(3, key="k")
    assert ids(match_sequences(spec(2), [[a1, a2], [b3]])) == [[2, 3]]


def test_a_pending_sequence_advances_once() -> None:
    a1, b2, b3 = ev(1, key="k"), ev(2, key="k"), ev(3, key="k")
    assert ids(match_sequences(spec(2), [[a1], [b2, b3]])) == [[1, 2]]


def test_doc_example_attrib_cat_attrib() -> None:
    """The state-machine example of the docs: alice's 1,2,4,9 give [2,4,9] only."""
    attrib = [ev(1, key="alice"), ev(2, key="alice"), ev(3, key="bob"), ev(9, key="alice")]
    cat = [ev(4, key="alice"), ev(5, key="bob"), ev(6, key="alice"), ev(7, key="bob")]
    found = match_sequences(spec(3), [attrib, cat, attrib])
    assert ids(found) == [[2, 4, 9]]
    assert found[0].key == ("alice",)


def test_candidate_order_does_not_matter() -> None:
    first = [ev(3, key="k"), ev(1, key="k")]
    second = [ev(4, key="k"), ev(2, key="k")]
    assert ids(match_sequences(spec(2), [first, second])) == [[1, 2], [3, 4]]


def test_until_between_pending_and_next_event_kills_the_sequence() -> None:
    a, b, c = [ev(1, key="k")], [ev(3, key="k")], [ev(5, key="k")]
    assert match_sequences(spec(2, until=True), [a, b], until=[ev(2, key="k")]) == []
    # between the second and the third stage
    assert match_sequences(spec(3, until=True), [a, b, c], until=[ev(4, key="k")]) == []
    # another key's until does not matter
    assert ids(match_sequences(spec(2, until=True), [a, b], until=[ev(2, key="x")])) == [[1, 3]]


def test_until_after_the_final_event_has_no_effect() -> None:
    found = match_sequences(spec(2, until=True), [[ev(1, key="k")], [ev(3, key="k")]],
                            until=[ev(4, key="k"), ev(9, key="k")])
    assert ids(found) == [[1, 3]]


def test_until_before_the_first_event_has_no_effect() -> None:
    found = match_sequences(spec(2, until=True), [[ev(2, key="k")], [ev(3, key="k")]],
                            until=[ev(1, key="k")])
    assert ids(found) == [[2, 3]]


def test_until_on_the_last_matched_event_itself_kills() -> None:
    """`ordinal(seq.last) <= u`: the event that filled a stage is also an until event."""
    a1 = ev(1, key="k")
    assert match_sequences(spec(2, until=True), [[a1], [ev(2, key="k")]], until=[a1]) == []


def test_an_until_event_can_still_fill_a_stage() -> None:
    """Only until events strictly before the advancing event count, not the event itself."""
    b2 = ev(2, key="k")
    found = match_sequences(spec(2, until=True), [[ev(1, key="k")], [b2]], until=[b2])
    assert ids(found) == [[1, 2]]


def test_until_is_ignored_without_an_until_clause() -> None:
    found = match_sequences(spec(2), [[ev(1)], [ev(3)]], until=[ev(2)])
    assert ids(found) == [[1, 3]]


def test_maxspan_rejects_only_strictly_greater() -> None:
    at_limit = match_sequences(spec(2, maxspan_ms=10), [[ev(1, 0)], [ev(2, 10)]])
    assert ids(at_limit) == [[1, 2]]
    over = [Event(2, 10 * MS + 1)]
    assert match_sequences(spec(2, maxspan_ms=10), [[ev(1, 0)], over]) == []


def test_maxspan_is_measured_from_the_first_event() -> None:
    stages = [[ev(1, 0)], [ev(2, 6)], [ev(3, 11)]]
    assert match_sequences(spec(3, maxspan_ms=10), stages) == []
    assert ids(match_sequences(spec(3, maxspan_ms=11), stages)) == [[1, 2, 3]]


def test_maxspan_counts_from_the_latest_pending_first_event() -> None:
    """A2 superseded A1, so B3 is 7ms after its sequence's start, not 12ms."""
    found = match_sequences(spec(2, maxspan_ms=10), [[ev(1, 0), ev(2, 5)], [ev(3, 12)]])
    assert ids(found) == [[2, 3]]


def test_multi_valued_keys_give_one_sequence_per_shared_value_ordered_by_key() -> None:
    """sequence by tags [REQUEST][file] (extra.data): keyed tag1, tag3, tag4, all ending at 23."""
    def tagged(doc: int, ms: int, tags: object) -> Event:
        return Event(doc, ms * MS, doc, expand_keys([tags], [False]))

    requests = [tagged(1, 1, ["tag1", "tag2"]), tagged(4, 10, ["tag3", "tag4"])]
    files = [tagged(22, 11, []), tagged(23, 12, ["tag4", "tag1", "tag3"])]
    found = match_sequences(spec(2), [requests, files])
    assert ids(found) == [[1, 23], [4, 23], [4, 23]]
    assert [m.key for m in found] == [("tag1",), ("tag3",), ("tag4",)]


def test_sequences_ending_at_one_event_are_ordered_by_key_whatever_the_key_order() -> None:
    keys = (("tag4",), (None,), ("tag1",))  # as a backend might list them
    found = match_sequences(spec(2), [[Event(1, MS, None, keys)], [Event(2, 2 * MS, None, keys)]])
    assert [m.key for m in found] == [(None,), ("tag1",), ("tag4",)]


def test_optional_key_none_joins_none() -> None:
    """sequence by ?optional_tags [process][process] (extra.data) -> [11, 12] keyed null."""
    def process(doc: int, ms: int, tags: object) -> Event:
        return Event(doc, ms * MS, doc, expand_keys([tags], [True]))

    processes = [process(10, 1, ["tag1", None, None]), process(11, 1, [None]),
                 process(12, 2, None), process(18, 7, "tag10")]
    found = match_sequences(spec(2), [processes, processes])
    assert ids(found) == [[11, 12]]
    assert found[0].key == (None,)


def test_non_optional_missing_key_excludes_the_event() -> None:
    a1 = Event(1, 1 * MS, None, expand_keys(["x"], [False]))
    a2 = Event(2, 2 * MS, None, expand_keys([None], [False]))  # would supersede a1 if it joined
    b3 = Event(3, 3 * MS, None, expand_keys(["x"], [False]))
    b4 = Event(4, 4 * MS, None, expand_keys([None], [False]))
    assert a2.keys == ()
    assert ids(match_sequences(spec(2), [[a1, a2], [b3, b4]])) == [[1, 3]]


def test_completed_sequences_are_ordered_by_their_last_event() -> None:
    first = [ev(1, key="a"), ev(2, key="b")]
    second = [ev(5, key="a"), ev(4, key="b")]
    assert ids(match_sequences(spec(2), [first, second])) == [[2, 4], [1, 5]]


def test_contract_violations_are_rejected() -> None:
    with pytest.raises(ValueError, match="one candidate list"):
        match_sequences(spec(3), [[], []])
    with pytest.raises(ValueError, match="positive stage"):
        match_sequences(spec(2, missing=(True, True), maxspan_ms=1), [[], []])


# --------------------------------------------------------------------------- missing events


def test_missing_leading_stage() -> None:
    """![M] [A] with maxspan 10ms: reject only if the last M before A lies within maxspan of A."""
    s = spec(2, missing=(True, False), maxspan_ms=10)
    assert ids(match_sequences(s, [[ev(1, 0)], [ev(2, 10)]])) == []
    assert ids(match_sequences(s, [[ev(1, 0)], [ev(2, 11)]])) == [[-1, 2]]
    assert ids(match_sequences(s, [[], [ev(2, 10)]])) == [[-1, 2]]
    # an M at A's millisecond is not before it
    assert ids(match_sequences(s, [[ev(1, 10)], [ev(2, 10)]])) == [[-1, 2]]


def test_missing_leading_stage_measures_to_the_last_positive_event() -> None:
    s = spec(3, missing=(True, False, False), maxspan_ms=10)
    stages = [[ev(1, 0)], [ev(2, 5)], [ev(3, 12)]]  # 5ms before the first, 12ms before the last
    assert ids(match_sequences(s, stages)) == [[-1, 2, 3]]


def test_several_missing_stages_on_one_side_take_the_nearest_event() -> None:
    leading = spec(3, missing=(True, True, False), maxspan_ms=10)
    assert match_sequences(leading, [[ev(1, 0)], [ev(2, 15)], [ev(3, 20)]]) == []
    trailing = spec(3, missing=(False, True, True), maxspan_ms=10)
    assert match_sequences(trailing, [[ev(1, 0)], [ev(2, 30)], [ev(3, 5)]]) == []
    assert ids(match_sequences(trailing, [[ev(1, 0)], [ev(2, 30)], [ev(3, 11)]])) == [
        [1, -1, -1]]


def test_missing_trailing_stage() -> None:
    """[A] ![M]: reject only if the first M after A lies within maxspan of the first event."""
    s = spec(2, missing=(False, True), maxspan_ms=10)
    assert ids(match_sequences(s, [[ev(1, 0)], [ev(2, 10)]])) == []
    assert ids(match_sequences(s, [[ev(1, 0)], [ev(2, 11)]])) == [[1, -1]]
    assert ids(match_sequences(s, [[ev(1, 0)], []])) == [[1, -1]]


def test_missing_trailing_stage_measures_from_the_first_positive_event() -> None:
    s = spec(3, missing=(False, False, True), maxspan_ms=10)
    stages = [[ev(1, 0)], [ev(2, 8)], [ev(3, 11)]]  # 3ms after the last, 11ms after the first
    assert ids(match_sequences(s, stages)) == [[1, 2, -1]]


def test_missing_middle_stage_is_strictly_between_in_milliseconds() -> None:
    s = spec(3, missing=(False, True, False), maxspan_ms=100)
    a, b = [ev(1, 10)], [ev(3, 20)]
    assert match_sequences(s, [a, [ev(2, 15)], b]) == []
    assert ids(match_sequences(s, [a, [ev(2, 10)], b])) == [[1, -1, 3]]
    assert ids(match_sequences(s, [a, [ev(2, 20)], b])) == [[1, -1, 3]]
    assert ids(match_sequences(s, [a, [ev(2, 30)], b])) == [[1, -1, 3]]
    # 10.5ms truncates to A's millisecond: not strictly after it
    assert ids(match_sequences(s, [a, [Event(2, 10 * MS + MS // 2)], b])) == [[1, -1, 3]]
    assert match_sequences(s, [a, [Event(2, 11 * MS)], b]) == []


def test_missing_stages_at_both_ends() -> None:
    """![M] [A] ![M]: kept when either side has no M, or the nearest Ms are > maxspan apart."""
    s = spec(3, missing=(True, False, True), maxspan_ms=10)
    a = [ev(5, 20)]
    assert ids(match_sequences(s, [[ev(1, 15)], a, [ev(9, 25)]])) == []
    assert ids(match_sequences(s, [[ev(1, 14)], a, [ev(9, 25)]])) == [[-1, 5, -1]]
    # a missing side accepts, however close the other side is (Elasticsearch's rule)
    assert ids(match_sequences(s, [[], a, [ev(9, 21)]])) == [[-1, 5, -1]]
    assert ids(match_sequences(s, [[ev(1, 19)], a, []])) == [[-1, 5, -1]]
    # the leading side takes the LAST M before A, the trailing side the FIRST after it
    both = [[ev(1, 0), ev(2, 14)], a, [ev(9, 25), ev(8, 40)]]
    assert ids(match_sequences(s, both)) == [[-1, 5, -1]]
    both = [[ev(1, 0), ev(2, 15)], a, [ev(9, 25), ev(8, 40)]]
    assert ids(match_sequences(s, both)) == []


def test_missing_events_join_on_the_sequence_key() -> None:
    s = spec(3, missing=(False, True, False), maxspan_ms=100)
    a, b = [ev(1, 10, key="k")], [ev(3, 20, key="k")]
    assert ids(match_sequences(s, [a, [ev(2, 15, key="other")], b])) == [[1, -1, 3]]
    assert match_sequences(s, [a, [ev(2, 15, key="k")], b]) == []


def _suite_events(category: str) -> list[dict[str, Any]]:
    """missing-events.data documents of one category (their `sequence` ids are unique there)."""
    require_shared()
    text = (CONFORMANCE / "data" / "missing-events.data").read_text()
    docs = json.loads("\n".join(line for line in text.splitlines()
                                if not line.lstrip().startswith("//")))
    return [doc for doc in docs if doc["event_type"] == category]


def _nanos(timestamp: str) -> int:
    """Epoch-millis strings ("1") or ISO dates, as the suite's `date` mapping reads them."""
    if re.fullmatch(r"\d+", timestamp):
        return int(timestamp) * MS
    return (datetime.fromisoformat(timestamp) - EPOCH) // timedelta(milliseconds=1) * MS


def tag(value: str) -> Callable[[dict[str, Any]], bool]:
    return lambda doc: doc["tag"] == value


# (filter, missing, key fields) per stage, after `with runs` expansion
Stage = tuple[Callable[[dict[str, Any]], bool], bool, tuple[str, ...]]
N, M = tag("normal"), tag("missing")


def _late_missing(doc: dict[str, Any]) -> bool:
    return doc["tag"] == "missing" and doc["sequence"] > 10


SUITE_CASES: dict[str, tuple[str, int, list[Stage], tuple[tuple[str, int], ...], list[int]]] = {
    "missingInBetween_noMatches": (
        "test1", 1000, [(N, False, ()), (tag("nonexisting"), True, ()), (N, False, ())], (),
        [1, -1, 2, 2, -1, 4]),
    "missingInBetween_noMatches_head": (
        "test1", 1000, [(N, False, ()), (tag("nonexisting"), True, ()), (N, False, ())],
        (("head", 1),), [1, -1, 2]),
    "missingInBetween_noMatches_tail": (
        "test1", 1000, [(N, False, ()), (tag("nonexisting"), True, ()), (N, False, ())],
        (("tail", 1),), [2, -1, 4]),
    "missingInBetween_match": (
        "test1", 1000, [(N, False, ()), (M, True, ()), (N, False, ())], (), [1, -1, 2]),
    "positivePlusMissing": ("test1", 1000, [(N, False, ()), (M, True, ())], (), [4, -1]),
    "skipFirstMatchAndPickSecondCandidate": (
        "test2", 1000, [(N, False, ()), (N, False, ()), (M, True, ()), (N, False, ())], (),
        [2, 4, -1, 5]),
    "leadingSimple": (
        "test3", 180_000, [(M, True, ()), (N, False, ())], (), [-1, 2, -1, 5, -1, 6]),
    "leadingAndTrailingExcluded1": (
        "test3", 19 * 60_000, [(M, True, ()), (N, False, ()), (M, True, ())], (),
        [-1, 2, -1, -1, 4, -1, -1, 5, -1, -1, 6, -1]),
    "leadingAndTrailingExcluded2": (
        "test3", 21 * 60_000, [(M, True, ()), (N, False, ()), (M, True, ())], (),
        [-1, 4, -1, -1, 5, -1, -1, 6, -1]),
    "multipleMissing1": (
        "test4", 1000, [(tag("A"), False, ()), (tag("B"), False, ()), (tag("M1"), True, ()),
                        (tag("C"), False, ()), (tag("M2"), True, ()), (tag("D"), False, ())],
        (), [13, 14, -1, 16, -1, 17]),
    "multipleMissing2": (
        "test4", 1000, [(tag("A"), False, ()), (tag("B"), False, ()), (tag("M1"), True, ()),
                        (tag("C"), False, ()), (tag("D"), False, ())],
        (), [13, 14, -1, 16, 17]),
    "multipleMissing3": (
        "test4", 1000, [(tag("A"), False, ()), (tag("B"), False, ()), (tag("C"), False, ()),
                        (tag("M2"), True, ()), (tag("D"), False, ())],
        (), [13, 14, 16, -1, 17]),
    "multipleMissing4": (
        "test4", 1000, [(tag("A"), False, ()), (tag("B"), False, ()), (tag("M1"), True, ()),
                        (tag("C"), False, ()), (tag("M2"), True, ()), (tag("D"), False, ()),
                        (tag("M4"), True, ())],
        (), []),
    "multipleMissing5": (
        "test4", 1000, [(tag("A"), False, ()), (tag("B"), False, ()), (tag("none"), True, ()),
                        (tag("C"), False, ()), (tag("none"), True, ()), (tag("D"), False, ())],
        (), [1, 2, -1, 5, -1, 7, 13, 14, -1, 16, -1, 17]),
    "multipleMissing6": (
        "test4", 1000, [(tag("A"), False, ()), (tag("B"), False, ()), (tag("C"), False, ()),
                        (tag("M2"), True, ()), (tag("D"), False, ()), (tag("none"), True, ())],
        (), [13, 14, 16, -1, 17, -1]),
    "multipleMissing7": (
        "test4", 1000, [(tag("none"), True, ()), (tag("A"), False, ()), (tag("B"), False, ()),
                        (tag("C"), False, ()), (tag("M2"), True, ()), (tag("D"), False, ())],
        (), [-1, 13, 14, 16, -1, 17]),
    "withByKey1": (
        "test5", 1000, [(N, False, ("k1",)), (N, False, ("k1",)), (M, True, ("k1",)),
                        (N, False, ("k1",))],
        (), [2, 4, -1, 5, 4, 5, -1, 6]),
    "withByKey2": (  # the same keys given per stage: identical to a sequence-level `by`
        "test5", 1000, [(N, False, ("k1",)), (N, False, ("k1",)), (M, True, ("k1",)),
                        (N, False, ("k1",))],
        (), [2, 4, -1, 5, 4, 5, -1, 6]),
    "withByKey3": (
        "test5", 1000, [(N, False, ("k1",)), (N, False, ("k1",)), (M, True, ("k2",)),
                        (N, False, ("k1",))],
        (), [2, 4, -1, 5, 4, 5, -1, 6, 5, 6, -1, 8, 9, 10, -1, 12]),
    "withByKey4": (
        "test5", 1000, [(N, False, ("k2",)), (N, False, ("k2",)), (M, True, ("k2",)),
                        (N, False, ("k2",))],
        (), [2, 4, -1, 5, 4, 5, -1, 6, 5, 6, -1, 8, 9, 10, -1, 12]),
    "withByKey5": (
        "test5", 1000, [(N, False, ("k1", "k2")), (N, False, ("k1", "k2")),
                        (M, True, ("k1", "k2")), (N, False, ("k1", "k2"))],
        (), [2, 4, -1, 5, 4, 5, -1, 6, 5, 6, -1, 8, 9, 10, -1, 12]),
    "withByKey6": (
        "test5", 1000, [(N, False, ("k1", "k2")), (N, False, ("k1", "k2")),
                        (_late_missing, True, ("k1", "k2")), (N, False, ("k1", "k2"))],
        (), [1, 2, -1, 4, 2, 4, -1, 5, 4, 5, -1, 6, 5, 6, -1, 8, 9, 10, -1, 12]),
    "withByKey_tail": (
        "test5", 1000, [(N, False, ("k1", "k2")), (N, False, ("k1", "k2")),
                        (_late_missing, True, ("k1", "k2")), (N, False, ("k1", "k2"))],
        (("tail", 2),), [5, 6, -1, 8, 9, 10, -1, 12]),
    "withByKey_head": (
        "test5", 1000, [(N, False, ("k1", "k2")), (N, False, ("k1", "k2")),
                        (M, True, ("k1", "k2")), (N, False, ("k1", "k2"))],
        (("head", 2),), [2, 4, -1, 5, 4, 5, -1, 6]),
    "withByKey_runs": (
        "test5", 1000, [(N, False, ("k1", "k2")), (N, False, ("k1", "k2")),
                        (M, True, ("k1", "k2")), (N, False, ("k1", "k2"))],
        (), [2, 4, -1, 5, 4, 5, -1, 6, 5, 6, -1, 8, 9, 10, -1, 12]),
    "withByKey_runsOnMissing": (
        "test5", 1000, [(N, False, ("k1", "k2")), (N, False, ("k1", "k2")),
                        (M, True, ("k1", "k2")), (M, True, ("k1", "k2")),
                        (N, False, ("k1", "k2"))],
        (), [2, 4, -1, -1, 5, 4, 5, -1, -1, 6, 5, 6, -1, -1, 8, 9, 10, -1, -1, 12]),
}


@pytest.mark.parametrize("name", list(SUITE_CASES))
def test_missing_events_suite_case(name: str) -> None:
    """test_missing_events.toml cases, their stage filters evaluated here on the suite data."""
    category, maxspan_ms, stages, pipes, expected = SUITE_CASES[name]
    docs = _suite_events(category)
    candidates = [
        [Event(doc["sequence"], _nanos(doc["@timestamp"]), doc["sequence"],
               expand_keys([doc.get(field) for field in keys], [False] * len(keys)))
         for doc in docs if matches(doc)]
        for matches, _, keys in stages
    ]
    s = SequenceSpec(len(stages), tuple(missing for _, missing, _ in stages), maxspan_ms * MS,
                     False)
    found = select_results(match_sequences(s, candidates), size=50, pipes=pipes)
    assert [i for sequence in ids(found) for i in sequence] == expected


def test_missing_events_suite_join_keys() -> None:
    """withByKey3: sequence keys come from the positive stages (k1), not the missing one."""
    docs = _suite_events("test5")
    normal = [Event(d["sequence"], _nanos(d["@timestamp"]), d["sequence"], ((d["k1"],),))
              for d in docs if d["tag"] == "normal"]
    missing = [Event(d["sequence"], _nanos(d["@timestamp"]), d["sequence"], ((d["k2"],),))
               for d in docs if d["tag"] == "missing"]
    found = match_sequences(SequenceSpec(4, (False, False, True, False), 1000 * MS, False),
                            [normal, normal, missing, normal])
    assert [m.key for m in found] == [("foo",), ("foo",), ("foo",), ("baz",)]


# ---------------------------------------------------------------------------------- samples


def keyed(doc: int, *key: object) -> Event:
    return Event(doc, 0, None, (key,))


def test_samples_enumerate_keys_present_in_every_filter_nulls_first_bytes_order() -> None:
    first = [keyed(1, "doom", "win10"), keyed(2, "GTA", None), keyed(3, "doom", None),
             keyed(4, "CS", "x")]
    second = [keyed(5, "doom", "win10"), keyed(6, "doom", None), keyed(7, "GTA", None)]
    found = match_samples([first, second])
    assert [m.key for m in found] == [("GTA", None), ("doom", None), ("doom", "win10")]
    assert [[e.doc for e in m.events] for m in found] == [[2, 7], [3, 6], [1, 5]]


def test_sample_numeric_keys_sort_numerically_after_null() -> None:
    filters = [[keyed(1, 10), keyed(2, 9), keyed(3, None)], [keyed(4, None), keyed(5, 9),
                                                             keyed(6, 10)]]
    assert [m.key for m in match_samples(filters)] == [(None,), (9,), (10,)]


def test_sample_events_are_distinct() -> None:
    both = keyed(1, "k")
    assert match_samples([[both], [both]]) == []
    found = match_samples([[both, keyed(2, "k")], [both]])
    assert [[e.doc for e in m.events] for m in found] == [[2, 1]]


def test_max_samples_per_key_in_backtracking_order() -> None:
    first = [keyed(1, "k"), keyed(2, "k"), keyed(3, "k")]
    second = [keyed(1, "k"), keyed(4, "k")]
    picks = [[e.doc for e in m.events] for m in match_samples([first, second], 2)]
    assert picks == [[1, 4], [2, 1]]
    picks = [[e.doc for e in m.events] for m in match_samples([first, second], 3)]
    assert picks == [[1, 4], [2, 1], [2, 4]]
    picks = [[e.doc for e in m.events] for m in match_samples([first, second], 1)]
    assert picks == [[1, 4]]


def test_sample_candidates_are_taken_in_ingest_order() -> None:
    found = match_samples([[keyed(9, "k"), keyed(3, "k")], [keyed(7, "k"), keyed(5, "k")]])
    assert [e.doc for e in found[0].events] == [3, 5]


def test_sample_limit_stops_enumeration() -> None:
    filters = [[keyed(1, "a"), keyed(2, "b"), keyed(3, "c")],
               [keyed(4, "a"), keyed(5, "b"), keyed(6, "c")]]
    assert [m.key for m in match_samples(filters, limit=2)] == [("a",), ("b",)]
    assert match_samples(filters, limit=0) == []
    assert len(match_samples(filters)) == 3
    with pytest.raises(ValueError, match="at least 1"):
        match_samples(filters, max_samples_per_key=0)


def test_the_gc_is_restored_after_matching() -> None:
    assert gc.isenabled()
    match_samples([[keyed(1, "a")], [keyed(2, "a")]])
    match_sequences(spec(2), [[ev(1)], [ev(2)]])
    assert gc.isenabled()


def _sample_docs() -> list[dict[str, Any]]:
    """sample1, sample2, sample3 documents in index order (ES searches them as one target)."""
    require_shared()
    docs: list[dict[str, Any]] = []
    for name in ("sample1", "sample2", "sample3"):
        docs.extend(json.loads((CONFORMANCE / "data" / f"{name}.data").read_text()))
    return docs


def _sample_candidates(host_optional: bool, alert_ids: set[int] | None) -> list[list[Event]]:
    """`sample by [?]host, ?os [success where true] [alert where ...]` over the sample indices.

    Event.doc is the position in _sample_docs() (the ingest order); tests map it to the `id`.
    """
    docs = _sample_docs()

    def event(position: int) -> Event:
        doc = docs[position]
        return Event(position, 0, None,
                     expand_keys([doc.get("host"), doc.get("os")], [host_optional, True]))

    success = [event(i) for i, d in enumerate(docs) if d["event_type"] == "success"]
    alerts = [event(i) for i, d in enumerate(docs) if d["event_type"] == "alert"
              and (alert_ids is None or d["id"] in alert_ids)]
    return [success, alerts]


def test_sample_suite_one_key_optional_2() -> None:
    """test_sample.toml oneKeyOptional_2 (and size2): [29,24, 28,21, 18,11]."""
    docs = _sample_docs()
    candidates = _sample_candidates(False, {21, 24, 11})
    found = match_samples(candidates, limit=50)
    assert [docs[e.doc]["id"] for m in found for e in m.events] == [29, 24, 28, 21, 18, 11]
    assert [m.key for m in found] == [("GTA", None), ("doom", None), ("doom", "win10")]
    limited = match_samples(candidates, limit=2)
    assert [docs[e.doc]["id"] for m in limited for e in m.events] == [29, 24, 28, 21]


def test_sample_suite_all_keys_optional() -> None:
    """test_sample.toml allKeysOptional: one of the two accepted answers."""
    docs = _sample_docs()
    found = match_samples(_sample_candidates(True, None), limit=50)
    assert [docs[e.doc]["id"] for m in found for e in m.events] == [29, 24, 28, 21, 18, 11]


# --------------------------------------------------------------------------- select_results


def test_select_results_default_size_is_the_last_ten_ascending() -> None:
    assert select_results(range(1, 16), size=10) == list(range(6, 16))
    assert select_results(range(1, 16), size=10, result_position="head") == list(range(1, 11))


def test_select_results_pipes_compose_left_to_right() -> None:
    items = list(range(1, 9))
    assert select_results(items, size=50, pipes=[("head", 4), ("tail", 2)]) == [3, 4]
    assert select_results(items, size=50, pipes=[("tail", 2), ("head", 1)]) == [7]


def test_select_results_size_applies_before_the_first_pipe_in_its_direction() -> None:
    items = list(range(1, 21))
    # Head(size) | head 4 | tail 2, whatever result_position says
    assert select_results(items, size=3, result_position="tail",
                          pipes=[("head", 4), ("tail", 2)]) == [2, 3]
    # Tail(size) | tail 5 | head 2
    assert select_results(items, size=3, result_position="head",
                          pipes=[("tail", 5), ("head", 2)]) == [18, 19]
    assert select_results(items, size=10, pipes=[("head", 15)]) == list(range(1, 11))


def test_select_results_zero_and_short_inputs() -> None:
    assert select_results([1, 2, 3], size=0) == []
    assert select_results([1, 2, 3], size=10, pipes=[("tail", 0)]) == []
    assert select_results([1, 2, 3], size=10, pipes=[("tail", 5)]) == [1, 2, 3]
    with pytest.raises(ValueError, match="head or tail"):
        select_results([1], size=1, pipes=[("sort", 1)])
