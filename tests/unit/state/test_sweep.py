"""Sweep: idle entries go a batch at a time, busy ones are looked at again a period later, and
an entry replaced under its key is judged by its own log line only."""

from __future__ import annotations

from gateway.state.sweep import Sweep


def test_only_entries_a_period_old_are_looked_at() -> None:
    table = {"old": 1, "new": 2}
    sweep: Sweep[str, int] = Sweep(every_s=60)
    sweep.made(0.0, "old", 1)
    sweep.made(30.0, "new", 2)
    looked: list[int] = []

    def look(value: int) -> bool:
        looked.append(value)
        return True

    assert not sweep.sweep(table, 59.0, look)
    assert looked == [] and table == {"old": 1, "new": 2}
    assert not sweep.sweep(table, 60.0, look)
    assert looked == [1] and table == {"new": 2}


def test_a_busy_entry_is_looked_at_again_a_period_later() -> None:
    table = {"busy": 1}
    sweep: Sweep[str, int] = Sweep(every_s=60)
    sweep.made(0.0, "busy", 1)
    assert not sweep.sweep(table, 61.0, lambda v: False)  # kept, logged again at 61
    assert not sweep.sweep(table, 120.0, lambda v: True)  # not due before 121
    assert table == {"busy": 1}
    assert not sweep.sweep(table, 121.0, lambda v: True)
    assert table == {}


def test_one_sweep_looks_at_a_batch_at_most_and_says_more_are_due() -> None:
    table = {n: n for n in range(25)}
    sweep: Sweep[int, int] = Sweep(every_s=10, batch=10)
    for n in range(25):
        sweep.made(float(n) / 100, n, n)
    assert sweep.sweep(table, 20.0, lambda v: True)
    assert len(table) == 15
    assert sweep.sweep(table, 20.0, lambda v: True)
    assert not sweep.sweep(table, 20.0, lambda v: True)
    assert table == {} and len(sweep) == 0


def test_an_entry_replaced_under_its_key_keeps_only_its_own_line() -> None:
    first, second = [1], [2]
    table = {"k": second}
    sweep: Sweep[str, list[int]] = Sweep(every_s=10)
    sweep.made(0.0, "k", first)  # dropped since, then made again under the same key
    sweep.made(5.0, "k", second)
    looked: list[list[int]] = []

    def look(value: list[int]) -> bool:
        looked.append(value)
        return True

    assert not sweep.sweep(table, 10.0, look)
    assert looked == [] and table == {"k": second}  # the first line is not the entry's
    assert not sweep.sweep(table, 15.0, look)
    assert looked == [second] and table == {}
