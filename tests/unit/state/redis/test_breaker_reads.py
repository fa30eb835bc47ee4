"""The breaker reads that travel with an acquire (gateway/state/redis/breaker_reads.py)."""

from __future__ import annotations

import pytest

from gateway.state import StateUnavailable
from gateway.state.breaker_state import BreakerState
from gateway.state.redis import breaker_reads
from gateway.state.redis.breaker_reads import BreakerReads, breaker_views
from gateway.state.redis.keys import KeyNames
from gateway.state.redis.wire import Reply, encode

CLOSED = BreakerState("closed", 0, 0.0)


def test_a_read_is_the_encoded_hmget_of_the_deployments_breaker_made_once() -> None:
    names = KeyNames("gw")
    reads = BreakerReads(names)
    command = reads.read("a")
    assert command == encode(["HMGET", names.breaker_key("a"), "f", "w", "ou", "pu"])
    assert reads.read("a") is command
    assert reads.read("b") != command


def test_the_cached_reads_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(breaker_reads, "PIECES_MAX", 2)
    reads = BreakerReads(KeyNames("gw"))
    for name in ("a", "b", "c"):
        reads.read(name)
    assert len(reads._reads) == 1


def test_breakers_with_nothing_recorded_are_closed() -> None:
    nothing: list[Reply] = [None, None, None, None]
    assert breaker_views(["a", "b"], [nothing, list(nothing)], 100.0) == {
        "a": CLOSED,
        "b": CLOSED,
    }


def test_a_recorded_breaker_among_closed_ones_gets_its_own_view() -> None:
    nothing: list[Reply] = [None, None, None, None]
    open_: list[Reply] = [b"95 96 97", b"60", b"130", None]
    views = breaker_views(["a", "b", "c"], [nothing, open_, nothing], 100.0)
    assert views["a"] == CLOSED and views["c"] == CLOSED
    assert views["b"] == BreakerState("open", 3, 30.0)
    failures: list[Reply] = [b"99", b"60", None, None]
    assert breaker_views(["a"], [failures], 100.0) == {"a": BreakerState("closed", 1, 0.0)}


def test_a_reply_that_is_no_hmget_reply_is_refused() -> None:
    with pytest.raises(StateUnavailable):
        breaker_views(["a", "b"], [[None, None, None, None], b"oops"], 100.0)
