"""Anthropic client -> Anthropic upstream for `POST /v1/messages/count_tokens`, passed through.

Counting tokens generates nothing and costs nothing, so the usage it reports is zero: the
`input_tokens` of the answer are the client's information, not tokens the key spent.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.config.types import DeploymentConfig, ProviderConfig
from gateway.errors import GatewayError, InvalidRequest
from gateway.providers.anthropic.adapters import anthropic_headers
from gateway.providers.base import (
    PreparedCall,
    StreamConverter,
    Usage,
    endpoint_url,
    parse_upstream_json,
)
from gateway.providers.upstream_errors import error_from_upstream


class AnthropicCountTokensAdapter:
    """The body passes with only `model` replaced; the answer comes back as it is."""

    def __init__(self, passthrough_headers: dict[str, str] | None = None) -> None:
        self._extra = passthrough_headers

    def prepare(
        self,
        body: dict[str, Any],
        deployment: DeploymentConfig,
        provider: ProviderConfig,
        api_key: str | None,
    ) -> PreparedCall:
        upstream = dict(body)
        upstream["model"] = deployment.model
        url = endpoint_url(provider.base_url, "/v1/messages/count_tokens", provider.query.pairs)
        headers = anthropic_headers(api_key, provider, self._extra)
        return PreparedCall(url, headers, orjson.dumps(upstream))

    def convert_json(self, data: bytes) -> tuple[bytes, Usage, dict[str, Any]]:
        return data, Usage(reported=True), parse_upstream_json(data)

    def stream(self, body: dict[str, Any]) -> StreamConverter:
        raise InvalidRequest("token counting does not stream")

    def convert_error(self, status: int, data: bytes, deployment: DeploymentConfig) -> GatewayError:
        return error_from_upstream(status, data, deployment)
