"""The rendered prompt in each endpoint's body, its params, and the client's part for the log."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.prompt_types import PromptVersion
from gateway.errors import InvalidRequest
from gateway.prompts.apply import PromptUse, apply, client_part
from gateway.prompts.render import render
from tests.unit.prompts.registry import registry

USE = PromptUse("support-bot", 2, None, "h", {"product": "Acme", "plan": "pro"})


def rendered(tmp_path: Path, number: int = 2) -> tuple[list[dict[str, str]], PromptVersion]:
    version = registry(tmp_path)["support-bot"].versions[number]
    return render("support-bot", version, dict(list(USE.variables.items())[:number])), version


def test_chat_prepends_and_strips_the_prompt_field(tmp_path: Path) -> None:
    messages, version = rendered(tmp_path)
    body = {
        "model": "m",
        "prompt": {"id": "support-bot"},
        "messages": [{"role": "user", "content": "hi"}],
    }
    out, use = apply(body, "chat", messages, USE, version)
    assert "prompt" not in out and "prompt" in body
    assert out["messages"] == [*messages, {"role": "user", "content": "hi"}]
    assert out["temperature"] == 0.5 and use.prepended == 2
    assert client_part(out, "chat", use)["messages"] == body["messages"]


def test_messages_put_system_into_system_blocks(tmp_path: Path) -> None:
    messages, version = rendered(tmp_path)
    body = {"model": "m", "system": "Own rules.", "messages": [{"role": "user", "content": "hi"}]}
    out, use = apply(body, "messages", messages, USE, version)
    assert out["system"] == [
        {"type": "text", "text": "You are Acme's support. Be brief."},
        {"type": "text", "text": "Own rules."},
    ]
    assert out["messages"][0] == {"role": "user", "content": "My plan is pro."}
    logged = client_part(out, "messages", use)
    assert logged["system"] == "Own rules." and logged["messages"] == body["messages"]


def test_a_token_count_gets_the_messages_layout_without_params(tmp_path: Path) -> None:
    messages, version = rendered(tmp_path)
    body = {
        "model": "m",
        "prompt": {"id": "support-bot"},
        "messages": [{"role": "user", "content": "hi"}],
    }
    out, _ = apply(body, "count_tokens", messages, USE, version)
    as_message, _ = apply(body, "messages", messages, USE, version)
    assert out["system"] == as_message["system"] and out["messages"] == as_message["messages"]
    assert "temperature" in as_message and "temperature" not in out and "prompt" not in out


def test_responses_input_string_becomes_items(tmp_path: Path) -> None:
    messages, version = rendered(tmp_path)
    out, use = apply({"model": "m", "input": "hi"}, "responses", messages, USE, version)
    assert out["input"][-1] == {"role": "user", "content": "hi"} and use.prepended == 2
    assert client_part(out, "responses", use)["input"] == [{"role": "user", "content": "hi"}]


def test_params_locked_unless_allowed(tmp_path: Path) -> None:
    messages, version = rendered(tmp_path, 1)
    body = {"model": "m", "messages": [], "temperature": 0.9}
    with pytest.raises(InvalidRequest) as caught:
        apply(body, "chat", messages, USE, version)
    assert caught.value.code == "prompt_param_locked" and caught.value.param == "temperature"
    same = apply({**body, "temperature": 0.2}, "chat", messages, USE, version)[0]
    assert same["temperature"] == 0.2
    messages, version = rendered(tmp_path, 2)  # allow_override = ["temperature"]
    assert apply(body, "chat", messages, USE, version)[0]["temperature"] == 0.9


def test_embeddings_refuse_prompts(tmp_path: Path) -> None:
    messages, version = rendered(tmp_path)
    with pytest.raises(InvalidRequest):
        apply({"model": "m", "input": "x"}, "embeddings", messages, USE, version)
