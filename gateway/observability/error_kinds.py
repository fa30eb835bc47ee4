"""The `kind` label of `gateway_upstream_errors_total`: an attempt's error as a bounded label.

An attempt's error (the record's `attempts[].error`) is the gateway's own name for what failed
(`connect`, `http_503`, `stream_interrupted`, ...) or, for an error an upstream reported after
its 200 (a stream's error event, a Responses `response.failed`), the code or type that upstream
sent. An upstream is free to send any code: a broken one, or a proxy in front of it, can send a
new one every time, and each would become a series Prometheus keeps for months and the
gateway's memory holds for its life. So the label is the error when it is one of the names
below, `http_<status>` for an HTTP error status (400 to 599), and `other` for anything else;
the record keeps the error as it was (capped at 256 characters where it is read,
gateway/providers/upstream_errors.py).
"""

from __future__ import annotations

OTHER = "other"

# What the gateway itself names a failed attempt (docs/metrics.md lists them).
GATEWAY_KINDS = frozenset(
    {
        # The transport (gateway/upstream/base.py `UpstreamError.kind`) and the attempt's time.
        "connect",
        "tls",
        "redirect",
        "too_large",
        "protocol",
        "first_token_timeout",
        "idle_timeout",
        "timeout",
        "token",
        # The gateway's error codes an attempt can end with (gateway/errors.py).
        "upstream_error",
        "upstream_timeout",
        "upstream_malformed",
        "upstream_auth_error",
        "upstream_response_too_large",
        "upstream_redirect",
        "upstream_tls_error",
        "stream_interrupted",
        "usage_scan_timeout",
        "content_policy_violation",
        "rate_limit_exceeded",
        "internal_error",
    }
)

# The codes and types the providers' docs name for an error reported after the 200 (OpenAI's
# error codes and types, the Responses API's `response.failed` codes, Anthropic's error types,
# and the OpenAI codes the gateway gives Anthropic's busy types).
PROVIDER_KINDS = frozenset(
    {
        # OpenAI
        "server_error",
        "api_error",
        "invalid_request_error",
        "rate_limit_exceeded",
        "insufficient_quota",
        "context_length_exceeded",
        "invalid_prompt",
        "model_not_found",
        "invalid_api_key",
        "vector_store_timeout",
        "invalid_image",
        "invalid_image_format",
        "invalid_base64_image",
        "invalid_image_url",
        "image_too_large",
        "image_too_small",
        "image_parse_error",
        "image_content_policy_violation",
        "invalid_image_mode",
        "image_file_too_large",
        "unsupported_image_media_type",
        "empty_image_file",
        "failed_to_download_image",
        "image_file_not_found",
        # Anthropic, and the OpenAI codes of its busy types
        "authentication_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "overloaded_error",
        "billing_error",
        "timeout_error",
        "overloaded",
    }
)

KNOWN_KINDS = GATEWAY_KINDS | PROVIDER_KINDS


def error_kind_label(error: str) -> str:
    """The label of an attempt's error: itself when it is a known kind or `http_<status>` with
    an error status (400 to 599), else `other`."""
    if error in KNOWN_KINDS:
        return error
    status = error[5:]
    if error.startswith("http_") and status.isascii() and status.isdigit():
        if len(status) == 3 and "400" <= status <= "599":
            return error
    return OTHER
