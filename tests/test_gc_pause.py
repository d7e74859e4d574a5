"""lanner.cache.gc_paused: what a pause leaves behind for the cyclic garbage collector."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from lanner.cache import gc_paused


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_pause_for_kept_results_freezes_them_and_enables_the_gc_again() -> None:
    with gc_paused():
        assert not gc.isenabled()
        kept = [{"event": {"id": str(number)}} for number in range(1000)]
    assert gc.isenabled()
    # The 2,000 dicts and the list are out of the collector's generations: its next
    # collection does not walk them.
    assert gc.get_freeze_count() >= len(kept) * 2


def test_a_pause_for_passing_objects_freezes_nothing() -> None:
    with gc_paused(kept=False):
        made = [[number] for number in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    assert len(made) == 1000


def test_a_nested_pause_leaves_the_gc_to_the_outer_one() -> None:
    with gc_paused():
        with gc_paused(kept=False):
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_pause_of_a_disabled_gc_leaves_it_disabled() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
        assert gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_frozen_results_are_still_freed_when_dropped() -> None:
    class Kept:
        pass

    with gc_paused():
        kept = Kept()
    gone = weakref.ref(kept)
    del kept
    assert gone() is None
