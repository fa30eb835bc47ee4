"""What only OpenAI's own API gets of an Anthropic request, chat completions or through the
Responses API: its `metadata.user_id` (Claude Code's names its session) as `prompt_cache_key`,
its `speed: "fast"` (Claude Code's `/fast`) as `service_tier: "priority"`; other
OpenAI-compatible servers, which may refuse a field they do not know, never get them."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentApi, DeploymentConfig
from gateway.providers import adapter_for

SESSION = "user_" + "ab" * 32 + "_account_0000_session_1111"
BODY = {
    "model": "m",
    "max_tokens": 10,
    "metadata": {"user_id": SESSION},
    "speed": "fast",
    "messages": [{"role": "user", "content": "hi"}],
}


def _sent(base_url: str, api: DeploymentApi) -> dict[str, object]:
    provider = ProviderConfig(name="p", type="openai", base_url=base_url, responses=True)
    deployment = DeploymentConfig(provider="p", model="gpt-5", api=api)
    adapter = adapter_for("messages", provider, None, BODY, api, "gpt-5")
    sent: dict[str, object] = orjson.loads(adapter.prepare(BODY, deployment, provider, "k").body)
    return sent


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_openais_api_gets_the_session_as_its_cache_key_and_fast_as_priority(
    api: DeploymentApi,
) -> None:
    sent = _sent("https://api.openai.com/v1", api)
    key = hashlib.sha256(SESSION.encode()).hexdigest()  # 64 characters at most, as `user`
    assert sent["prompt_cache_key"] == key and sent["user"] == key
    assert sent["service_tier"] == "priority"


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_another_server_gets_neither(api: DeploymentApi) -> None:
    sent = _sent("http://vllm.internal/v1", api)
    assert "prompt_cache_key" not in sent and "service_tier" not in sent
