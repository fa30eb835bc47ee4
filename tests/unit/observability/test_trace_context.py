"""W3C trace context: a client's traceparent is continued, a bad one starts a new trace."""

from __future__ import annotations

import random

from gateway.observability.trace_context import (
    TraceIds,
    new_ids,
    parent_sampled,
    parse_traceparent,
    record_trace_id,
    traceparent,
    upstream_trace,
)

CLIENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_valid_traceparent_is_continued() -> None:
    ids = new_ids({"traceparent": CLIENT}, random.Random(1))
    assert f"{ids.trace_id:032x}" == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert ids.parent_id == 0x00F067AA0BA902B7 and ids.span_id not in (0, ids.parent_id)


def test_invalid_traceparents_start_a_new_trace() -> None:
    for bad in (
        None,
        "",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff: invalid
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper-case hex
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
        CLIENT + "-what",  # version 00 has exactly four fields
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01what",  # no "-" after them
        f"{CLIENT},{CLIENT}",  # two traceparent headers (joined as they arrive)
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero parent
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short
    ):
        assert parse_traceparent(bad) is None
    ids = new_ids({"traceparent": "garbage"}, random.Random(1))
    assert ids.parent_id is None and ids.trace_id != 0


def test_the_header_sent_upstream() -> None:
    assert traceparent(0xABC, 0x12) == "00-00000000000000000000000000000abc-0000000000000012-01"
    assert parse_traceparent(traceparent(7, 9)) == (7, 9)


def test_the_record_names_the_trace() -> None:
    traced = TraceIds(0xABC, 0x12, None)
    assert record_trace_id(traced, {"traceparent": CLIENT}) == f"{0xABC:032x}"
    # Not traced here: the client's trace still links the record to the client's spans.
    assert record_trace_id(None, {"traceparent": CLIENT}) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert record_trace_id(None, {"traceparent": "garbage"}) is None
    assert record_trace_id(None, {}) is None


def test_a_later_version_is_read_as_far_as_version_00_goes() -> None:
    # W3C: a higher version may add fields after a "-"; a version-00 reader takes the first four.
    later = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-comes-next"
    assert parse_traceparent(later) == (0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7)
    assert parent_sampled(later) is False
    # Passed on upstream in version 00, its flags kept.
    passed = upstream_trace(None, {"traceparent": later})
    assert passed is not None
    assert passed.headers(None) == {"traceparent": CLIENT[:-2] + "00"}


def test_the_upstream_gets_the_clients_tracestate_with_the_attempts_traceparent() -> None:
    traced = upstream_trace(
        TraceIds(0xABC, 0x12, 0x34),
        {"traceparent": CLIENT, "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"},
    )
    assert traced is not None and traced.new_span_id(random.Random(1)) is not None
    assert traced.headers(0x99) == {
        "traceparent": traceparent(0xABC, 0x99),
        "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
    }


def test_a_trace_not_recorded_here_is_passed_on_as_the_client_sent_it() -> None:
    # The client's unsampled trace (or any valid one while tracing is off): the upstream sees
    # the client's span as its parent and the client's decision not to record.
    unsampled = CLIENT[:-2] + "00"
    passed = upstream_trace(None, {"traceparent": unsampled, "tracestate": "a=1"})
    assert passed is not None and passed.new_span_id(random.Random(1)) is None
    assert passed.headers(None) == {"traceparent": unsampled, "tracestate": "a=1"}
    assert upstream_trace(None, {}) is None
    assert upstream_trace(None, {"traceparent": "garbage", "tracestate": "a=1"}) is None


def test_a_tracestate_beyond_w3c_bounds_is_dropped() -> None:
    def state(value: str) -> str | None:
        passed = upstream_trace(None, {"traceparent": CLIENT, "tracestate": value})
        assert passed is not None
        return passed.headers(None).get("tracestate")

    assert state(",".join(f"k{i}=v" for i in range(32))) is not None
    assert state(",".join(f"k{i}=v" for i in range(33))) is None
    assert state("a=caf\u00e9") is None
    assert state(" , ") is None
    # A traced request whose client sent a bad traceparent passes no tracestate (W3C: a
    # tracestate is read only with a valid traceparent).
    traced = upstream_trace(TraceIds(1, 2, None), {"traceparent": "bad", "tracestate": "a=1"})
    assert traced is not None and traced.headers(3) == {"traceparent": traceparent(1, 3)}
