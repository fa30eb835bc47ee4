"""The in-memory window's running sum gives the same verdicts as a pass over its buckets."""

from __future__ import annotations

import copy
import math
import random

import pytest

from gateway.state.windows import SlidingWindow, window_verdict


@pytest.mark.parametrize("seed", range(5))
def test_running_sum_verdicts_equal_a_full_pass(seed: int) -> None:
    rng = random.Random(seed)
    window = SlidingWindow()
    now = 1_000_000.0
    for _ in range(3000):
        now += rng.choice([0.0, 0.01, 0.3, 1.7, 9.0, 61.0])
        pending = rng.choice([0.0, 0.0, 5.0])
        amount = float(rng.randint(0, 40))
        limit = float(rng.choice([50, 200, 1000]))
        reference = copy.deepcopy(window)
        expected = window_verdict(reference.live(now), pending, amount, limit, now)
        assert window.verdict(pending, amount, limit, now) == pytest.approx(expected)
        assert window.total == pytest.approx(sum(a for a, _ in window.buckets.values()))
        assert list(window.order) == sorted(window.buckets)  # oldest first, nothing missing
        if expected[0]:
            window.add(math.floor(now), amount, now)
        if window.buckets and rng.random() < 0.3:
            second = rng.choice(list(window.buckets))
            window.adjust(second, float(rng.randint(-30, 10)))


def test_buckets_leave_the_window_after_60_s() -> None:
    window = SlidingWindow()
    window.add(100, 7.0, 100.5)
    assert window.verdict(0.0, 3.0, 10.0, 160.4)[0]  # still counted: 7 + 3 <= 10
    assert not window.verdict(0.0, 4.0, 10.0, 160.4)[0]
    assert window.verdict(0.0, 10.0, 10.0, 160.5) == (True, 0.0, 60.0)  # gone at exactly 60 s
    assert window.total == 0.0 and not window.buckets
