"""The in-process concurrency slots: counted without a walk over every slot, yet a slot whose
hold has ended never counts."""

from __future__ import annotations

from gateway.state.memory_slots import Slots


def test_live_counts_slots_until_their_hold_ends() -> None:
    slots = Slots()
    slots.take("a", 100.0)
    slots.take("b", 50.0)
    slots.take("c", 200.0)
    assert slots.live(49.9) == 3
    assert slots.live(50.0) == 2  # "b" ended at 50
    assert slots.earliest == 100.0  # the next end, found by the walk
    assert slots.live(150.0) == 1
    assert slots.live(200.0) == 0 and len(slots) == 0


def test_a_freed_slot_stops_counting_at_once_and_the_earliest_end_stays_a_bound() -> None:
    slots = Slots()
    slots.take("a", 10.0)
    slots.take("b", 20.0)
    slots.free("a")
    slots.free("missing")  # freeing twice, or a slot never taken, is harmless
    assert slots.live(5.0) == 1
    assert slots.earliest == 10.0  # a freed slot's end may remain: only a lower bound
    assert slots.live(15.0) == 1  # the walk finds nothing ended and moves the bound on
    assert slots.earliest == 20.0
    assert slots.live(20.0) == 0


def test_a_slot_taken_with_an_earlier_end_lowers_the_bound() -> None:
    slots = Slots()
    slots.take("a", 100.0)
    assert slots.live(1.0) == 1
    slots.take("b", 5.0)
    assert slots.live(6.0) == 1


def test_take_within_takes_a_slot_only_while_fewer_than_the_limit_are_live() -> None:
    slots = Slots()
    assert slots.take_within(1, 100.0, 2, now=0.0)
    assert slots.take_within(2, 50.0, 2, now=0.0)
    assert not slots.take_within(3, 100.0, 2, now=10.0)  # both live: nothing taken
    assert len(slots) == 2
    assert slots.take_within(3, 120.0, 2, now=50.0)  # slot 2's hold ended at 50: dropped
    assert sorted(slots.ends) == [1, 3]
    assert slots.live(110.0) == 1  # slot 1 ended at 100; slot 3 still held
