"""A record's `attempts` entries: a paused turn's failed continuation is named on the attempt
that answered (scrubbed, as every error an upstream names), and only then."""

from __future__ import annotations

from gateway.pipeline.record_fields import _attempt_entry
from gateway.routing.exchange import Attempt


def scrub(text: str) -> str:
    return text.replace("secret", "****")


def test_a_failed_continuation_is_on_its_attempt_and_absent_otherwise() -> None:
    failed = Attempt("p/m", "m", 200, None, 12.3456, continuation_error="http_529 secret")
    assert _attempt_entry(failed, scrub) == {
        "deployment": "p/m",
        "model": "m",
        "status": 200,
        "error": None,
        "start_ms": 0.0,
        "duration_ms": 12.346,
        "continuation_error": "http_529 ****",
    }
    plain = Attempt("p/m", "m", 500, "http_500", 1.0)
    assert "continuation_error" not in _attempt_entry(plain, scrub)
