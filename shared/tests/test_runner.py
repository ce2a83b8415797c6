"""shared.runner.settle_heap: what startup built leaves the collector's generations; startup's garbage does not."""

import gc
import weakref

import pytest

from shared.runner import settle_heap


class _Node:
    def __init__(self):
        self.other = None


@pytest.fixture
def unfrozen():
    yield
    gc.unfreeze()       # the test process goes on collecting as before


def test_settling_the_heap_freezes_what_startup_keeps_and_collects_its_garbage_first(unfrozen):
    kept = [_Node() for _ in range(3)]
    a, b = _Node(), _Node()
    a.other, b.other = b, a                 # a cycle nothing refers to: garbage, reclaimable only by the collector
    dead = weakref.ref(a)
    del a, b
    before = gc.get_freeze_count()
    frozen = settle_heap()
    assert dead() is None                   # collected, not kept for the life of the process
    # what it reports is what it froze; a frozen object that dies later leaves the count (other threads of the
    # test process free some at any time), so the count is compared with where it started, not with itself
    assert frozen > before and gc.get_freeze_count() > before
    tracked = {id(o) for o in gc.get_objects()}
    assert not any(id(k) in tracked for k in kept)      # out of every generation: a full collection skips them
    served = [_Node()]
    assert id(served[0]) in {id(o) for o in gc.get_objects()}   # what serving makes is collected as usual
    gc.collect()
    assert all(isinstance(k, _Node) for k in kept)
