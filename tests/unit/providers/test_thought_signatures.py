"""Gemini's thought signatures on the tool calls sent back, to the upstreams that want them."""

from __future__ import annotations

import copy

from gateway.config.provider_types import ProviderConfig, ProviderType
from gateway.json_types import JSON
from gateway.providers.thought_signatures import (
    SKIP_VALIDATOR,
    wants_thought_signatures,
    with_thought_signatures,
)

GEMINI = "https://generativelanguage.googleapis.com/v1beta/openai"


def provider(kind: ProviderType, base_url: str, setting: bool | None = None) -> ProviderConfig:
    return ProviderConfig(name="p", type=kind, base_url=base_url, thought_signatures=setting)


def test_geminis_api_wants_them_unless_told_otherwise() -> None:
    assert wants_thought_signatures(provider("openai", GEMINI))
    assert not wants_thought_signatures(provider("openai", GEMINI, False))
    assert not wants_thought_signatures(provider("openai", "https://api.openai.com/v1"))
    assert not wants_thought_signatures(provider("openai", "https://api.deepseek.com"))
    assert wants_thought_signatures(provider("openai", "http://litellm:4000/v1", True))


def _call(name: str, signature: str | None = None) -> JSON:
    call: JSON = {"id": name, "type": "function", "function": {"name": name, "arguments": "{}"}}
    if signature is not None:
        call["extra_content"] = {"google": {"thought_signature": signature}}
    return call


def _signatures(message: JSON) -> list[object]:
    return [
        (call.get("extra_content") or {}).get("google", {}).get("thought_signature")
        for call in message.get("tool_calls") or ()
    ]


def test_the_first_call_of_each_unsigned_message_skips_the_check() -> None:
    messages: list[JSON] = [
        {"role": "user", "content": "u"},
        # Parallel calls made elsewhere (a translation, another model): the first one signed.
        {"role": "assistant", "content": None, "tool_calls": [_call("a"), _call("b")]},
        {"role": "tool", "tool_call_id": "a", "content": "t"},
        # Gemini's own signature, kept by the client: as it is.
        {"role": "assistant", "content": None, "tool_calls": [_call("c", "R2VtaW5p"), _call("d")]},
        {"role": "assistant", "content": "text only"},
        {"role": "assistant", "content": None, "tool_calls": []},
        # Other extra content of the call is kept beside the signature.
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{**_call("e"), "extra_content": {"google": {"x": 1}, "other": 2}}],
        },
    ]
    body: JSON = {"model": "m", "messages": messages}
    before = copy.deepcopy(body)
    upstream = dict(body)
    with_thought_signatures(upstream)
    assert body == before  # the client's body, which a fallback sends again, is as it came
    assert [_signatures(m) for m in upstream["messages"]] == [
        [],
        [SKIP_VALIDATOR, None],
        [],
        ["R2VtaW5p", None],
        [],
        [],
        [SKIP_VALIDATOR],
    ]
    assert upstream["messages"][6]["tool_calls"][0]["extra_content"] == {
        "google": {"x": 1, "thought_signature": SKIP_VALIDATOR},
        "other": 2,
    }
    signed = dict(upstream)
    with_thought_signatures(signed)
    assert signed["messages"] is upstream["messages"]  # nothing left to sign: left alone


def test_odd_bodies_are_left_alone() -> None:
    for body in (
        {"prompt": "no messages"},
        {"messages": "not a list"},
        {"messages": [None, {"role": "assistant", "tool_calls": [None]}, "x"]},
        {"messages": [{"role": "assistant", "tool_calls": "x"}]},
    ):
        before = copy.deepcopy(body)
        with_thought_signatures(body)
        assert body == before
