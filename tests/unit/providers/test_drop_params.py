"""A provider's `drop_params`: fields left out of every body sent to it (a server that refuses
what clients send: "Unrecognized request argument supplied: prompt_cache_key"), whatever the
client's format and the translation; the client's own body untouched."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from gateway.config.provider_types import ProviderConfig, ProviderType
from gateway.config.types import DeploymentConfig
from gateway.providers import adapter_for
from gateway.providers.base import upstream_json

DEPLOYMENT = DeploymentConfig(provider="p", model="m")


def _provider(kind: ProviderType, *dropped: str, responses: bool | None = None) -> ProviderConfig:
    base = "http://h" if kind == "anthropic" else "http://h/v1"
    return ProviderConfig(
        name="p", type=kind, base_url=base, drop_params=dropped, responses=responses
    )


def _sent(kind: str, body: dict[str, Any], provider: ProviderConfig) -> dict[str, Any]:
    before = copy.deepcopy(body)
    adapter = adapter_for(kind, provider, None, body)  # type: ignore[arg-type]
    sent: dict[str, Any] = orjson.loads(adapter.prepare(body, DEPLOYMENT, provider, "k").body)
    assert body == before  # the client's body, nested objects included, as it came
    return sent


def test_a_chat_body_goes_without_the_dropped_fields() -> None:
    body = {
        "model": "pub",
        "messages": [{"role": "user", "content": "hi"}],
        "prompt_cache_key": "thread-1",
        "stream": True,
        "stream_options": {"include_usage": True, "include_obfuscation": False},
    }
    dropped = _provider("openai", "prompt_cache_key", "stream_options.include_obfuscation")
    sent = _sent("chat", body, dropped)
    assert "prompt_cache_key" not in sent
    assert sent["stream_options"] == {"include_usage": True}
    kept = _sent("chat", body, _provider("openai"))
    assert kept["prompt_cache_key"] == "thread-1"


@pytest.mark.parametrize(
    ("kind", "provider", "body", "field"),
    [
        (
            "responses",
            _provider("openai", "client_metadata", responses=True),
            {"model": "m", "input": "hi", "client_metadata": {"x-codex-installation-id": "i"}},
            "client_metadata",
        ),
        (
            "messages",
            _provider("openai", "parallel_tool_calls"),
            {
                "model": "m",
                "max_tokens": 9,
                "messages": [{"role": "user", "content": "hi"}],
                "tools": [{"name": "f", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
            },
            "parallel_tool_calls",
        ),
        (
            "chat",
            _provider("anthropic", "metadata"),
            {"model": "m", "messages": [{"role": "user", "content": "hi"}], "user": "u-1"},
            "metadata",
        ),
    ],
)
def test_every_translation_goes_without_them(
    kind: str, provider: ProviderConfig, body: dict[str, Any], field: str
) -> None:
    assert field in _sent(kind, body, _provider(provider.type, responses=provider.responses))
    assert field not in _sent(kind, body, provider)


def test_a_missing_field_or_a_path_through_a_non_object_changes_nothing() -> None:
    body = {"model": "m", "stream_options": True}
    provider = _provider("openai", "absent", "stream_options.include_usage", "model.x")
    assert orjson.loads(upstream_json(body, provider)) == body
