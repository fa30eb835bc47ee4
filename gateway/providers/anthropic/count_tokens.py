"""Anthropic client -> Anthropic upstream for `POST /v1/messages/count_tokens`, passed through.

Counting tokens generates nothing and costs nothing, so the usage it reports is zero: the
`input_tokens` of the answer are the client's information, not tokens the key spent.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import InvalidRequest
from gateway.providers.anthropic.adapters import (
    AnthropicMessagesAdapter,
    AnthropicStreamPassthrough,
)
from gateway.providers.base import Usage, parse_upstream_json


class AnthropicCountTokensAdapter(AnthropicMessagesAdapter):
    """The body passes with only `model` replaced (as on `/v1/messages`); the answer comes back
    as it is."""

    path = "/v1/messages/count_tokens"

    def convert_json(self, data: bytes) -> tuple[bytes, Usage, dict[str, Any]]:
        return data, Usage(reported=True), parse_upstream_json(data)

    def stream(self, body: dict[str, Any]) -> AnthropicStreamPassthrough:
        raise InvalidRequest("token counting does not stream")
