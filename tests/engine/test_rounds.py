"""The two rounds of a filter_many: which filters pass first, and which are still needed once
the first round tells which searches cannot match."""

from __future__ import annotations

from dataclasses import dataclass, field

from lanner.engine.backends.base import Together
from lanner.engine.backends.rounds import PassRounds


@dataclass(eq=False)
class Filter:
    """A compiled filter as the rounds see it: the jobs it answers, its SQL."""

    positions: list[int]
    condition: str = field(default="x")


def test_the_first_round_holds_event_filters_and_the_longest_required_stage() -> None:
    event = Filter([0])
    selective = Filter([1], "process.name IN ('a', 'b') AND process.args_count > 3")
    broad = Filter([2], "true")
    negated = Filter([3], "network where true")  # a missing stage: never required
    rounds = PassRounds([Together((1, 2, 3), (1, 2))])
    first, second = rounds.split([event, selective, broad, negated])
    assert first == [event, selective]
    assert second == [broad, negated]
    rounds.learn([1])  # the selective stage found nothing: the search cannot match
    assert not rounds.needed(broad.positions)
    assert not rounds.needed(negated.positions)
    assert rounds.needed(event.positions)


def test_a_required_stage_already_passing_first_probes_its_search() -> None:
    shared = Filter([0, 1], "short")  # an event query's filter, and a stage of the sequence
    longer = Filter([2], "a much longer condition than the other")
    first, second = PassRounds([Together((1, 2), (1, 2))]).split([shared, longer])
    assert first == [shared]
    assert second == [longer]


def test_a_filter_two_searches_share_is_needed_while_one_can_match() -> None:
    shared = Filter([1, 4])
    rounds = PassRounds([Together((1, 2), (1, 2)), Together((4, 5), (4, 5))])
    rounds.learn([2])
    assert rounds.needed(shared.positions)
    rounds.learn([5])
    assert not rounds.needed(shared.positions)


def test_dead_searches_filters_are_in_neither_round() -> None:
    rounds = PassRounds([Together((0, 1), (0, 1)), Together((2, 3), ())])
    rounds.learn([0])  # screened out, say
    unneeded, sample = Filter([1]), Filter([2])
    first, second = rounds.split([unneeded, sample, Filter([3])])
    assert unneeded not in first + second
    assert sample in first  # a search with no required stage is not held back
