"""A `[[providers]]` table: where an upstream is, how to reach it and what it speaks. Part of the
one schema in `types.py`, kept in its own module as `state_types.py` is."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from gateway.config.entra_types import EntraConfig, ProviderAuth
from gateway.config.schema import NON_EMPTY, NonEmptyStr, PositiveInt, StringTable, toml

ProviderType = Literal["openai", "anthropic", "azure", "mock"]
# Which upstream client serves a provider (gateway/upstream/transports.py).
Transport = Literal["auto", "httpx", "http1"]
# Who compacts a conversation for a provider with the Responses API (responses-api.md).
CompactionBy = Literal["upstream", "gateway"]


@dataclass(frozen=True)
class NetworkConfig:
    """How a provider's upstream client reaches it (docs/configuration.md, "Provider network
    options"); written in the `[[providers]]` table. Providers with equal ones share a client."""

    transport: Transport = "auto"
    http2: bool = False
    # None: the HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY variables when `trust_env`.
    proxy: NonEmptyStr | None = field(default=None, repr=False)  # may carry credentials
    # The environment variable holding the proxy's password (`proxy` then names the user only).
    proxy_password_env: NonEmptyStr | None = None
    trust_env: bool = True
    # Relative in the TOML to the config file's directory; absolute once loaded.
    # PEM CAs trusted in addition to the system's.
    ca_file: Annotated[Path, NON_EMPTY] | None = None
    # mTLS: the client certificate (PEM) and its key (when not in the certificate file).
    client_cert: Annotated[Path, NON_EMPTY] | None = None
    client_key: Annotated[Path, NON_EMPTY] | None = None
    # Beyond it (decoded bytes), the answer fails with 502 `upstream_response_too_large`.
    max_response_bytes: PositiveInt = 64 * 1024 * 1024


@dataclass(frozen=True)
class ProviderConfig:
    name: NonEmptyStr
    type: ProviderType
    # May be empty for type 'mock' (the in-process mock provider).
    base_url: str = ""
    api_key_env: NonEmptyStr | None = None
    # Anthropic-only: value of the anthropic-version header sent upstream.
    anthropic_version: NonEmptyStr = "2023-06-01"
    # OpenAI, Azure and mock types: the upstream serves the Responses API, so `/v1/responses`
    # passes through, not translated (unset: only https://api.openai.com; responses-api.md).
    responses: bool | None = None
    # OpenAI and Azure types: streams ask for the usage chunk (`stream_options.include_usage`).
    # False for a server that refuses `stream_options` (older Azure api-versions): never sent,
    # and a stream's usage is counted with tiktoken.
    stream_usage: bool = True
    # OpenAI and Azure types: assistant messages carry the model's reasoning back as
    # `reasoning_content` (unset: api.deepseek.com, whose thinking mode requires it).
    reasoning_content: bool | None = None
    # OpenAI and Azure types: tool calls sent back carry Gemini's thought signature (a client's,
    # else the one that skips the check; unset: generativelanguage.googleapis.com).
    thought_signatures: bool | None = None
    # Azure-only: the deployment in the URL (default: the deployment's `model`), `api-version`.
    deployment: NonEmptyStr | None = None
    api_version: NonEmptyStr | None = None
    auth: ProviderAuth = "api_key"
    entra: EntraConfig = field(default_factory=EntraConfig, metadata=toml(flatten=True))
    # Sent with every request to this provider (over the adapter's own headers, names lower-cased)
    # and added to every URL's query.
    headers: StringTable = field(default_factory=StringTable, repr=False)
    query: StringTable = field(default_factory=StringTable, repr=False)
    # Headers whose values are secrets (an API gateway's subscription key): header name ->
    # the environment variable holding its value (read and scrubbed as `api_key_env` is).
    headers_env: StringTable = field(default_factory=StringTable)
    # A provider with the Responses API: who compacts (`/v1/responses/compact`, a
    # `compaction_trigger` input); unset: the upstream for OpenAI's API and Azure, else the gateway.
    compaction: CompactionBy | None = None
    # Fields left out of every body sent to this provider (`a.b`: one inside an object), for a
    # server that refuses what clients send ("Unrecognized request argument supplied: x").
    drop_params: tuple[str, ...] = ()
    # `anthropic-beta` values never sent to this provider (an Anthropic-compatible server that
    # refuses them in words the gateway does not read; `routing.learned_betas` reads Anthropic's).
    drop_betas: tuple[str, ...] = ()
    network: NetworkConfig = field(default_factory=NetworkConfig, metadata=toml(flatten=True))
