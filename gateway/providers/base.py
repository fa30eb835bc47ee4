"""What every provider adapter shares: the usage record, the prepared call, the stream converter.

An adapter serves one (client wire format, upstream wire format) pair, as in
envoyproxy/ai-gateway's translators: it builds the upstream request, turns the upstream's JSON
or stream into what the client's SDK expects, and reads the usage on the way.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard, runtime_checkable
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import orjson

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.errors import GatewayError, UpstreamFailed, UpstreamStreamError


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    # Anthropic prompt-cache writes (part of prompt_tokens, priced at their own rate).
    cache_write_tokens: int = 0
    # Of those, the writes to the 1-hour cache (Anthropic bills them at 2 x input, not 1.25 x).
    cache_write_1h_tokens: int = 0
    # OpenAI's audio tokens (part of prompt_tokens and completion_tokens; audio models price
    # them many times above text).
    audio_prompt_tokens: int = 0
    audio_completion_tokens: int = 0
    # Web searches the provider ran for the answer (Claude's `server_tool_use.
    # web_search_requests`, the Responses API's `web_search_call` items): billed per search,
    # apart from the tokens (`web_search_cost_per_1k`).
    web_searches: int = 0
    # The processing tier that served the answer when not the standard one (`service_tiers`):
    # OpenAI's `priority`, `flex`, `ultrafast`, Claude's `fast`; priced by `TierCosts`.
    service_tier: str | None = None
    # True when the numbers came from the upstream, False when estimated with tiktoken.
    reported: bool = False


def client_wants_usage(body: dict[str, Any]) -> bool:
    """Whether an OpenAI-format stream request asks for the usage chunk at its end
    (`stream_options.include_usage`): the gateway always asks the upstream for it, and passes it
    on only to a client that asked."""
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


# Usage counts at or above this are not counts (a float above it loses whole numbers).
MAX_TOKEN_COUNT = 2**53


def token_count(value: object, name: str) -> int:
    """One usage count from an upstream: a whole number with 0 <= n < 2**53 (absent or null: 0);
    anything else (a string, a negative or huge number, a fraction) is UpstreamFailed
    `upstream_malformed`, never trusted into a record, a budget or a metric."""
    if type(value) is int:
        if 0 <= value < MAX_TOKEN_COUNT:  # nearly always: a plain count
            return value
        count = value
    elif value is None:
        return 0
    elif type(value) is float and value.is_integer() and abs(value) < MAX_TOKEN_COUNT:
        count = int(value)
    else:
        raise UpstreamFailed(
            f"upstream reported an invalid usage count {name}={str(value)[:40]!r}",
            code="upstream_malformed",
        )
    if not 0 <= count < MAX_TOKEN_COUNT:
        raise UpstreamFailed(
            f"upstream reported a usage count out of range: {name}={count}",
            code="upstream_malformed",
        )
    return count


def malformed(what: str) -> UpstreamFailed:
    """The error of an upstream answer that does not have the shape its format promises."""
    return UpstreamFailed(
        f"upstream returned a malformed answer: {what}", code="upstream_malformed"
    )


def require_objects(answer: dict[str, Any], name: str) -> None:
    """`answer[name]` must be a list of objects (`choices`, `data`, `content`), else
    UpstreamFailed `upstream_malformed`: `"choices": null` is not a 200 to pass on."""
    items = answer.get(name)
    if type(items) is not list:
        raise malformed(f"'{name}' is not a list of objects")
    for item in items:
        if type(item) is not dict:
            raise malformed(f"'{name}' is not a list of objects")


def stream_cut_short(expected: str) -> UpstreamFailed:
    """The error of an upstream stream that ended without its end (`expected` names it)."""
    return UpstreamFailed(
        f"upstream stream ended without {expected}: the answer may be incomplete",
        code="stream_interrupted",
    )


def error_text(error: object) -> str:
    """The message of an upstream error value (an object with `message`, or a string)."""
    if isinstance(error, dict):
        message = error.get("message")
        return str(message) if message else "unknown"
    return str(error)


@dataclass(frozen=True)
class PreparedCall:
    url: str
    headers: Mapping[str, str]
    body: bytes
    # The gateway continues a turn the upstream paused (Claude's `pause_turn`), for a client
    # whose API cannot (`anthropic.paused_turns`).
    continues_paused_turns: bool = False


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


@runtime_checkable
class WritesText(Protocol):
    """A stream converter that can tell all its upstream's model wrote (thinking, reasoning,
    tool-call arguments, every choice): more than `text`, the answer's text deltas."""

    def written_text(self) -> str:
        """All the model wrote so far, for estimating the completion tokens it is billed."""
        ...


@runtime_checkable
class ReportsFinish(Protocol):
    """A stream converter that can tell why the answer ended, as its client was told: OpenAI's
    `finish_reason`, Anthropic's `stop_reason`, a Responses `status` (for the record)."""

    @property
    def finish_reason(self) -> str | None:
        """Why the answer ended; None until the stream said it."""
        ...


_REPORTS_FINISH: dict[type, bool] = {}


def reports_finish(converter: object) -> TypeGuard[ReportsFinish]:
    """Whether `converter` is a `ReportsFinish`, known once per class: a protocol's `isinstance`
    looks its members up every time (about 7 us on Python 3.11; asked once per stream)."""
    kind = type(converter)
    known = _REPORTS_FINISH.get(kind)
    if known is None:
        known = _REPORTS_FINISH[kind] = isinstance(converter, ReportsFinish)
    return known


class WrappingConverter:
    """The part every converter wrapping another shares: what it wraps (`inner`, which
    `innermost` follows) and the usage, which is the wrapped converter's. A subclass sets
    `_inner` and adds what it changes (`CheckedStream`, `GuardedConverter`, ...)."""

    _inner: StreamConverter

    @property
    def inner(self) -> StreamConverter:
        """The converter this one wraps."""
        return self._inner

    @property
    def usage(self) -> Usage | None:
        return self._inner.usage

    @usage.setter
    def usage(self, value: Usage | None) -> None:
        self._inner.usage = value


def innermost(converter: StreamConverter) -> StreamConverter:
    """The adapter's own converter under the wrappers that add to it (`WrappingConverter`s:
    `CheckedStream`, an output guardrail's `GuardedConverter`): where what a converter offers
    beside the protocol (a `finish_reason`, a final `response`) is."""
    while isinstance(converter, WrappingConverter):
        converter = converter.inner
    return converter


class RelaysFailure:
    """A stream converter whose upstream can end its stream with its own failure event, which
    the client gets as it is (the Responses API's `response.failed`: a final event the SDKs
    read as the response, not as a break to replace with the gateway's error event). `failure`
    is that error once it came: the stream failed, as one that broke mid-way does, for the
    record, the metrics and the deployment's health."""

    failure: UpstreamStreamError | None = None


def relayed_failure(converter: StreamConverter) -> UpstreamStreamError | None:
    """The failure the upstream's stream ended with and the client got as it is, if any."""
    inner = innermost(converter)
    return inner.failure if isinstance(inner, RelaysFailure) else None


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


def upstream_json(upstream: dict[str, Any], provider: ProviderConfig) -> bytes:
    """The body sent to `provider`: `upstream` without the provider's `drop_params` (a field
    the server refuses, "Unrecognized request argument supplied: prompt_cache_key"; dotted for
    one inside an object, `stream_options.include_usage`), as JSON."""
    for name in provider.drop_params:
        upstream = _without(upstream, name.split("."))
    return orjson.dumps(upstream)


def _without(body: dict[str, Any], path: list[str]) -> dict[str, Any]:
    """`body` without the field at `path`: a copy of each object on the way (it may be the
    client's own), `body` itself when there is no such field."""
    first, rest = path[0], path[1:]
    if first not in body:
        return body
    if not rest:
        return {name: value for name, value in body.items() if name != first}
    inner = body[first]
    if not isinstance(inner, dict):
        return body
    changed = _without(inner, rest)
    return body if changed is inner else {**body, first: changed}


@functools.lru_cache(maxsize=64)
def base_url_host(base_url: str) -> str | None:
    """The host of a provider's `base_url`, by which some upstreams are known (DeepSeek's,
    Gemini's, OpenAI's own API). Asked on requests: each URL is parsed once."""
    return urlsplit(base_url).hostname


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
