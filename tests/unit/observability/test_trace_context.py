"""W3C trace context: a client's traceparent is continued, a bad one starts a new trace."""

from __future__ import annotations

import random

from gateway.observability.trace_context import (
    TraceIds,
    new_ids,
    parse_traceparent,
    record_trace_id,
    traceparent,
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
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # unknown version
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
