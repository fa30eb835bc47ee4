"""Error bodies reshaped for the other format, and the exceptions the translators raise."""

from __future__ import annotations

import pytest

from gateway.providers.anthropic.errors import (
    anthropic_error_to_openai,
    openai_error_to_anthropic,
)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (422, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (503, "api_error"),
        (529, "overloaded_error"),
    ],
)
def test_error_types_by_status(status: int, kind: str) -> None:
    openai_body = {"error": {"message": "nope", "type": "x", "param": None, "code": None}}
    assert openai_error_to_anthropic(status, openai_body, "fallback") == {
        "type": "error",
        "error": {"type": kind, "message": "nope"},
    }
    anthropic_body = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    assert anthropic_error_to_openai(status, anthropic_body, "fallback") == {
        "error": {"message": "busy", "type": kind, "param": None, "code": "overloaded_error"}
    }


def test_error_message_fallbacks() -> None:
    assert (
        openai_error_to_anthropic(502, None, "upstream down")["error"]["message"] == "upstream down"
    )
    assert openai_error_to_anthropic(400, {"error": "bad"}, "f")["error"]["message"] == "bad"
    assert anthropic_error_to_openai(500, {"message": "boom"}, "f") == {
        "error": {"message": "boom", "type": "api_error", "param": None, "code": None}
    }
