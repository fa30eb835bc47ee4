"""The in-memory window's running sum gives the same verdicts as a pass over its buckets."""

from __future__ import annotations

import copy
import math
import random

import pytest

from gateway.state.windows import SlidingWindow, reserve_both, window_verdict


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


@pytest.mark.parametrize("seed", range(5))
def test_reserve_both_is_room_then_add_on_each_window_all_or_nothing(seed: int) -> None:
    """`reserve_both` (the usual plan's acquire) against `room` and `add` on a copy of the two
    windows: the same figures, and the same buckets after; a refusal by either window reserves
    nothing on the other."""
    rng = random.Random(seed)
    requests, tokens_window = SlidingWindow(), SlidingWindow()
    now = 1_000_000.0
    refused_by = set()
    for _ in range(3000):
        now += rng.choice([0.0, 0.01, 0.3, 1.7, 9.0, 61.0])
        tokens = float(rng.randint(0, 60))
        request_limit = float(rng.choice([5, 20, 100]))
        token_limit = float(rng.choice([100, 400, 2000]))
        ref_requests, ref_tokens = copy.deepcopy(requests), copy.deepcopy(tokens_window)
        request_room = ref_requests.room(1, request_limit, now)
        token_room = ref_tokens.room(tokens, token_limit, now)
        got = reserve_both(requests, request_limit, tokens_window, token_limit, tokens, now)
        if request_room is None or token_room is None:
            assert got is None
            refused_by.add("requests" if request_room is None else "tokens")
        else:
            assert got is not None
            assert got[0] == pytest.approx(request_room)
            assert got[1] == pytest.approx(token_room)
            ref_requests.add(math.floor(now), 1, now)
            ref_tokens.add(math.floor(now), tokens, now)
        for window, reference in ((requests, ref_requests), (tokens_window, ref_tokens)):
            # (A refusal by the request window leaves the token window unpruned till next time.)
            window.prune(now)
            reference.prune(now)
            assert window.buckets == reference.buckets
            assert list(window.order) == list(reference.order)
            assert window.total == pytest.approx(reference.total)
    assert refused_by == {"requests", "tokens"}  # both refusals were met
