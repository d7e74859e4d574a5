"""The two rounds of passes of a `filter_many`: the filters that decide whether the stages of
a sequence or sample can still match first, the rest only for those that can.

In a hunt with every rule, most sequences cannot match: one of their stages finds nothing (146
of the 153 sequence and sample searches over the 1M-event benchmark). Their other stages used
to be evaluated all the same, and the broad ones (`any where true` by `host.id`, 884k events of
1M) are what those searches would have returned the most of. So a round first evaluates every
filter an event query needs and, of each search whose stages are needed only together, one
required stage (the longest condition: a broad stage, short to write, is the likeliest to
match); the other stages go to a second round, only for the searches still alive. A search is
dead once a required stage is known to find nothing (from the screen, a first-round pass, or a
failed compilation, whose error the search reports whatever the others find).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from lanner.engine.backends.base import Together


class _Filter(Protocol):
    """What the rounds read of a compiled filter: the jobs it answers and its SQL."""

    @property
    def positions(self) -> list[int]: ...

    @property
    def condition(self) -> str: ...


_F = TypeVar("_F", bound=_Filter)


class PassRounds:
    """The searches of a round whose jobs are needed only together, and which are dead."""

    def __init__(self, together: Sequence[Together]) -> None:
        self._groups = [group for group in together if group.required]
        self._of_job: dict[int, list[int]] = {}  # job -> the groups holding it
        for number, group in enumerate(self._groups):
            for job in group.jobs:
                self._of_job.setdefault(job, []).append(number)
        self._dead: set[int] = set()

    def learn(self, settled: Iterable[int]) -> None:
        """These jobs found nothing (or failed): the searches requiring one cannot match."""
        for job in settled:
            for number in self._of_job.get(job, ()):
                if job in self._groups[number].required:
                    self._dead.add(number)

    def needed(self, positions: Iterable[int]) -> bool:
        """Whether a filter answering these jobs must still be evaluated: one of them belongs
        to an event query, or to a search that can still match."""
        return any(job not in self._of_job
                   or any(number not in self._dead for number in self._of_job[job])
                   for job in positions)

    def split(self, filters: Sequence[_F]) -> tuple[list[_F], list[_F]]:
        """(the first round, the second): the filters needed by a job outside every group,
        and one required filter of each live group that has none among those; the rest
        later. Filters of dead groups only are in neither."""
        of_job = {job: number for number, found in enumerate(filters)
                  for job in found.positions}
        first = {number for number, found in enumerate(filters)
                 if any(job not in self._of_job for job in found.positions)}
        for number, group in enumerate(self._groups):
            if number in self._dead:
                continue
            required = [of_job[job] for job in group.required if job in of_job]
            if required and not first.intersection(required):
                first.add(max(required, key=lambda chosen: len(filters[chosen].condition)))
        return ([found for number, found in enumerate(filters) if number in first],
                [found for number, found in enumerate(filters)
                 if number not in first and self.needed(found.positions)])
