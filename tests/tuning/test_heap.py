"""Garbage collection between trials: cheap collections that still free new cycles."""

from __future__ import annotations

import gc
import weakref

import pytest

from tuning import heap


@pytest.fixture(autouse=True)
def _unfrozen():
    if gc.get_freeze_count():
        pytest.skip("the heap was frozen before the test")
    yield
    heap.thaw()
    gc.unfreeze()


class _Node:
    pass


def test_collect_freezes_the_survivors_and_thaw_returns_them():
    heap.collect()
    assert gc.get_freeze_count() > 0
    heap.thaw()
    assert gc.get_freeze_count() == 0


def test_cycles_made_after_the_freeze_are_still_collected():
    heap.collect()
    node = _Node()
    node.self = node
    alive = weakref.ref(node)
    del node
    heap.collect()
    assert alive() is None


def test_a_heap_unfrozen_by_someone_else_is_frozen_again(monkeypatch):
    monkeypatch.setattr(heap, "_frozen_here", True)  # frozen here, then gc.unfreeze() elsewhere
    node = _Node()
    heap.collect()
    assert not any(obj is node for obj in gc.get_objects())  # in the permanent generation


def test_a_heap_frozen_by_someone_else_stays_frozen():
    gc.freeze()
    frozen = gc.get_freeze_count()
    heap.collect()
    heap.thaw()
    # Unfreezing would empty the permanent generation; frozen objects that other
    # threads free meanwhile make it shrink a little, so compare loosely.
    assert gc.get_freeze_count() > frozen // 2


def test_an_adopted_heap_is_frozen_again_on_top_of_the_parents_freeze(monkeypatch):
    # Module flags start as in a freshly forked worker.
    monkeypatch.setattr(heap, "_adopted", False)
    monkeypatch.setattr(heap, "_frozen_here", False)
    gc.freeze()  # what a zygote leaves its forked children
    survivor = _Node()

    def frozen() -> bool:  # gc.get_objects() leaves out the permanent generation
        return not any(obj is survivor for obj in gc.get_objects())

    heap.collect()
    assert not frozen()  # not adopted: left alone
    heap.adopt()
    heap.collect()
    assert frozen()


def test_a_search_freezes_the_heap_and_leaves_it_as_it_was():
    heap.thaw()
    gc.unfreeze()
    with heap.frozen_while_searching():
        assert gc.get_freeze_count() > 0
        heap.collect()  # a trial's build in this process freezes on top
    assert gc.get_freeze_count() == 0
    gc.freeze()  # someone else's freeze afterwards is still theirs
    frozen = gc.get_freeze_count()
    heap.collect()
    heap.thaw()
    assert gc.get_freeze_count() > frozen // 2
    gc.unfreeze()
