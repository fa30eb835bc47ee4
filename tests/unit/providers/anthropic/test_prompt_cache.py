"""An OpenAI client's prompt caching on a Claude deployment: Claude's automatic caching when the
request asks for its prompt cache, within Claude's rules on breakpoints."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.json_types import JSON
from gateway.providers.anthropic.adapters import OpenAIClientToAnthropic
from gateway.providers.anthropic.prompt_cache import asks_prompt_cache, with_automatic_cache
from gateway.providers.responses.adapters import ResponsesToAnthropic

FIVE_MINUTES = {"type": "ephemeral"}
AN_HOUR = {"type": "ephemeral", "ttl": "1h"}


def _marked(*controls: JSON) -> JSON:
    """A Messages request whose user message has one text block per breakpoint."""
    blocks = [
        {"type": "text", "text": f"part {i}", "cache_control": c} for i, c in enumerate(controls)
    ]
    return {"messages": [{"role": "user", "content": blocks or "hi"}]}


@pytest.mark.parametrize(
    ("client", "asks"),
    [
        ({"prompt_cache_key": "session-1"}, True),
        ({"prompt_cache_retention": "24h"}, True),
        ({"prompt_cache_retention": "in_memory"}, True),
        ({"prompt_cache_key": ""}, False),
        ({"prompt_cache_key": 7}, False),
        ({"prompt_cache_retention": "forever"}, False),
        ({}, False),
    ],
)
def test_a_request_asks_for_its_prompt_cache_by_openais_fields(client: JSON, asks: bool) -> None:
    assert asks_prompt_cache(client) is asks


@pytest.mark.parametrize(
    ("client", "control"),
    [
        ({"prompt_cache_key": "s"}, FIVE_MINUTES),
        ({"prompt_cache_key": "s", "prompt_cache_retention": "in_memory"}, FIVE_MINUTES),
        ({"prompt_cache_retention": "24h"}, AN_HOUR),
        ({}, None),
    ],
)
def test_claudes_automatic_caching_when_asked(client: JSON, control: JSON | None) -> None:
    upstream = _marked()
    with_automatic_cache(upstream, client)
    assert upstream.get("cache_control") == control


@pytest.mark.parametrize(
    ("controls", "retention", "added"),
    [
        ((FIVE_MINUTES,) * 3, "in_memory", FIVE_MINUTES),
        ((FIVE_MINUTES,) * 4, "in_memory", None),  # no room for a fifth
        ((AN_HOUR, AN_HOUR), "24h", AN_HOUR),
        ((AN_HOUR, FIVE_MINUTES), "24h", None),  # an hour after five minutes: refused
        ((AN_HOUR,), "in_memory", FIVE_MINUTES),  # five minutes after an hour: fine
    ],
)
def test_the_requests_own_breakpoints_leave_room_or_not(
    controls: tuple[JSON, ...], retention: str, added: JSON | None
) -> None:
    upstream = _marked(*controls)
    with_automatic_cache(upstream, {"prompt_cache_key": "s", "prompt_cache_retention": retention})
    assert upstream.get("cache_control") == added


def test_a_top_level_cache_control_already_there_stays() -> None:
    upstream = {**_marked(), "cache_control": AN_HOUR}
    with_automatic_cache(upstream, {"prompt_cache_key": "s"})
    assert upstream["cache_control"] == AN_HOUR


def _sent(adapter: Any, body: JSON) -> JSON:
    provider = ProviderConfig(name="claude", type="anthropic", base_url="https://claude.invalid")
    deployment = DeploymentConfig(provider="claude", model="claude-sonnet-4-5")
    return dict(orjson.loads(adapter.prepare(body, deployment, provider, "k").body))


def test_chat_and_responses_clients_of_claude_get_it() -> None:
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert _sent(OpenAIClientToAnthropic(), {**chat, "prompt_cache_key": "s"})["cache_control"] == (
        FIVE_MINUTES
    )
    assert "cache_control" not in _sent(OpenAIClientToAnthropic(), chat)
    codex = {"model": "m", "input": "hi", "prompt_cache_key": "019a-session", "store": False}
    sent = _sent(ResponsesToAnthropic(codex), codex)
    assert sent["cache_control"] == FIVE_MINUTES and "prompt_cache_key" not in sent
