"""What every provider adapter shares: the usage record, the prepared call, the stream converter.

An adapter serves one (client wire format, upstream wire format) pair, as in
envoyproxy/ai-gateway's translators: it builds the upstream request, turns the upstream's JSON
or stream into what the client's SDK expects, and reads the usage on the way.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import orjson

from gateway.config.types import DeploymentConfig, ProviderConfig
from gateway.errors import GatewayError, UpstreamFailed


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    # Anthropic prompt-cache writes (part of prompt_tokens, priced at their own rate).
    cache_write_tokens: int = 0
    # True when the numbers came from the upstream, False when estimated with tiktoken.
    reported: bool = False


@dataclass(frozen=True)
class PreparedCall:
    url: str
    headers: Mapping[str, str]
    body: bytes


class StreamConverter(Protocol):
    usage: Usage | None

    @property
    def text(self) -> list[str]:
        """The answer's text deltas so far (for token estimates, logged bodies, guardrails)."""
        ...

    def feed(self, chunk: bytes) -> list[bytes]:
        """Upstream body bytes in; bytes to send to the client out (possibly none yet)."""
        ...

    def finish(self) -> list[bytes]:
        """Bytes to send after the upstream stream ended cleanly."""
        ...


class Adapter(Protocol):
    def prepare(
        self,
        body: dict[str, Any],
        deployment: DeploymentConfig,
        provider: ProviderConfig,
        api_key: str | None,
    ) -> PreparedCall: ...

    def convert_json(self, data: bytes) -> tuple[bytes, Usage, dict[str, Any]]:
        """A 2xx upstream body -> (client body, usage, parsed client body for the record)."""
        ...

    def stream(self, body: dict[str, Any]) -> StreamConverter: ...

    def convert_error(
        self, status: int, data: bytes, deployment: DeploymentConfig
    ) -> GatewayError: ...


QueryPairs = tuple[tuple[str, str], ...]


@functools.lru_cache(maxsize=1024)
def endpoint_url(base_url: str, path: str, query: QueryPairs = ()) -> str:
    """`path` appended to the path of `base_url`, its query kept and `query` added (a key in
    both takes `query`'s value). Path and query never mix:
    `https://r/openai/deployments/d?api-version=1` + `/chat/completions` ->
    `https://r/openai/deployments/d/chat/completions?api-version=1`. A few URLs per config:
    cached."""
    parts = urlsplit(base_url)
    joined = parts.path.rstrip("/") + path
    search = parts.query  # kept as written unless `query` changes it
    if query:
        keys = {key for key, _ in query}
        kept = [pair for pair in parse_qsl(search, keep_blank_values=True) if pair[0] not in keys]
        search = urlencode([*kept, *query], quote_via=quote)
    return urlunsplit((parts.scheme, parts.netloc, joined, search, ""))


def parse_upstream_json(
    data: bytes, malformed: str = "upstream returned malformed JSON"
) -> dict[str, Any]:
    """A JSON object from the upstream; anything else is UpstreamFailed(`malformed`)."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamFailed(malformed, code="upstream_malformed") from None
    if not isinstance(parsed, dict):
        raise UpstreamFailed(malformed, code="upstream_malformed")
    return parsed
