"""An allowed acquire's results left unparsed (`acquire_call.UnparsedResults`): the rate headers
read two windows' figures alone, and say byte for byte what the parsed results say; `results`
still gives every check's result to any other reader."""

from __future__ import annotations

from collections.abc import Callable

from gateway.limits.held import Held
from gateway.limits.plan import rate_headers
from gateway.limits.sorting import sort_checks
from gateway.state import AcquireResult, LimitCheck, MemoryState, Reservation
from gateway.state.redis.acquire_call import UnparsedResults, check_results
from gateway.state.redis.backend import RedisState

CHECKS = (
    LimitCheck("key", "k", "concurrent", 4, 1),
    LimitCheck("key", "k", "tpm", 1000, 30),
    LimitCheck("key", "k", "rpm", 50, 1),
)
# "1" (all allowed), then "allowed remaining reset" per check, as lua/acquire.lua replies.
FIELDS = b"1 1 3 0 1 970 12.3456 1 49 -0.5".split()


def searched_headers(acquired: AcquireResult) -> list[tuple[bytes, bytes]]:
    return [(k.encode(), v.encode()) for k, v in rate_headers(acquired.results).items()]


def held_of(acquired: AcquireResult) -> Held:
    reservation = acquired.reservation
    assert reservation is not None
    return Held(reservation, MemoryState(), acquired, None, sort_checks(reservation.checks))


def test_figures_are_those_of_the_parsed_results() -> None:
    unparsed = UnparsedResults(CHECKS, FIELDS)
    for at, result in enumerate(unparsed()):
        assert unparsed.figures(at) == (result.check.limit, result.remaining, result.reset_s)
    assert unparsed() == check_results(CHECKS, FIELDS)


def test_headers_from_unparsed_figures_are_those_of_the_parsed_results() -> None:
    reservation = Reservation("t", CHECKS, 0.0)
    unparsed = AcquireResult(True, UnparsedResults(CHECKS, FIELDS), reservation)
    parsed = AcquireResult(True, check_results(CHECKS, FIELDS), reservation)
    held = held_of(unparsed)
    assert held.sorting.window_pair == (2, 1)
    lines = held.rate_header_lines()
    assert lines == held_of(parsed).rate_header_lines() == searched_headers(parsed)
    assert dict(lines)[b"x-ratelimit-reset-tokens"] == b"12.346s"
    assert unparsed.results == parsed.results  # every result, for any other reader


async def test_headers_of_a_redis_acquire_are_those_of_its_results(
    make_redis_state: Callable[[], RedisState],
) -> None:
    state = make_redis_state()
    for now in (1_768_435_200.25, 1_768_435_201.5, 1_768_435_230.0):
        acquired = await state.acquire(CHECKS, now)
        assert acquired.allowed and callable(acquired.parts)
        lines = held_of(acquired).rate_header_lines()
        assert lines == searched_headers(acquired)


def test_results_made_by_any_other_function_still_give_the_headers() -> None:
    """`AcquireResult.parts` may be any function that makes the results (a test double, another
    backend): the headers then read them all, as before."""
    reservation = Reservation("t", CHECKS, 0.0)
    parsed = check_results(CHECKS, FIELDS)
    made_later = AcquireResult(True, lambda: parsed, reservation)
    lines = held_of(made_later).rate_header_lines()
    assert lines == searched_headers(AcquireResult(True, parsed, reservation))
