"""The failed-attempt log keeps one entry per deployment and bounded cause: an upstream naming a
new error code every time neither grows it nor floods the log, and its line says the code."""

from __future__ import annotations

import logging
import secrets

import pytest

from gateway.clock import FakeClock
from gateway.routing.attempt_log import AttemptLog


def test_ever_new_upstream_codes_are_one_cause(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    attempts = AttemptLog(clock)
    codes = [f"lie_{secrets.token_hex(8)}" for _ in range(1_000)]
    with caplog.at_level(logging.WARNING, logger="gateway.upstream"):
        for code in codes:
            attempts.failed("p/m", code, "req_1", "it broke")
            attempts.failed("p/m", f"http_429 {code}", "req_2", "busy")
        attempts.failed("p/m", "connect", "req_3", "refused")
        assert len(attempts._last) == 3  # other, http_429 other, connect
        assert len(caplog.records) == 3
        assert codes[0] in caplog.records[0].getMessage()
        clock.advance(60)
        attempts.failed("p/m", "lie_again", "req_4", "it broke")
    assert "999 more left out" in caplog.records[-1].getMessage()


def test_an_upstream_message_stays_on_its_log_line(caplog: pytest.LogCaptureFixture) -> None:
    """An upstream's error text is quoted bounded and escaped: its newlines cannot write lines
    of their own into the gateway's text log."""
    detail = "bad\nWARNING gateway: forged line\r\n" + "z " * 50_000
    with caplog.at_level(logging.WARNING, logger="gateway.upstream"):
        AttemptLog(FakeClock()).failed("oai/gpt-4o", "http_500", "req_1", detail)
    (line,) = [record.getMessage() for record in caplog.records]
    assert "\n" not in line and "\r" not in line
    assert "(bad\\nWARNING gateway: forged line\\r\\n" in line
    assert len(line) < 400 and "more characters)" in line
