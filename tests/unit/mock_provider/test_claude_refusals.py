"""What the mock's newer Claude models refuse, as Anthropic's API answers them."""

from __future__ import annotations

import orjson
import pytest

from gateway.mock_provider.behaviour import RequestError, plan_messages

USER = [{"role": "user", "content": "Tell me about llamas."}]
USER_ONLY = {"max_tokens": 10, "messages": USER}


def test_newer_claude_models_refuse_sampling_settings() -> None:
    # As Anthropic's API answers Claude Opus 4.1, Sonnet / Haiku 4.5 and later.
    both = {"max_tokens": 10, "messages": USER, "temperature": 0.5, "top_p": 0.9}
    with pytest.raises(RequestError, match="cannot both be specified"):
        plan_messages({"model": "claude-sonnet-4-5-20250929", **both})
    assert plan_messages({"model": "claude-sonnet-4-20250514", **both}).choices
    one = {"max_tokens": 10, "messages": USER, "temperature": 0.5}
    assert plan_messages({"model": "claude-opus-4-1", **one}).choices
    # Opus 4.7 and later take none of them.
    with pytest.raises(RequestError, match="`temperature` is deprecated"):
        plan_messages({"model": "claude-opus-4-7", **one})
    with pytest.raises(RequestError, match="`top_k` is deprecated"):
        plan_messages({"model": "claude-fable-5", "top_k": 5, **USER_ONLY})
    assert plan_messages({"model": "claude-opus-4-8", **USER_ONLY}).choices
    manual = {"thinking": {"type": "enabled", "budget_tokens": 2048}, **USER_ONLY}
    with pytest.raises(RequestError, match='"thinking.type.enabled" is not supported'):
        plan_messages({"model": "claude-opus-4-8", **manual})
    assert plan_messages({"model": "claude-opus-4-6", **manual}).choices
    # The models before 4.6 take manual thinking only.
    adaptive = {"thinking": {"type": "adaptive"}, **USER_ONLY}
    for model in ("claude-sonnet-4-5-20250929", "claude-haiku-4-5", "claude-sonnet-4-20250514"):
        with pytest.raises(RequestError, match="adaptive thinking is not supported"):
            plan_messages({"model": model, **adaptive})
        assert plan_messages({"model": model, **manual}).choices
    assert plan_messages({"model": "claude-sonnet-4-6", **adaptive}).choices


def test_every_model_refuses_a_thinking_block_claude_did_not_sign() -> None:
    # Anthropic checks each thinking block sent back against its signature; the mock takes a
    # base64 one (the form of Claude's) as Claude's.
    def sent(signature: str) -> dict[str, object]:
        thought = {"type": "thinking", "thinking": "Hmm.", "signature": signature}
        answer = {"role": "assistant", "content": [thought, {"type": "text", "text": "Hi"}]}
        return {"max_tokens": 10, "messages": [*USER, answer, *USER]}

    for model in ("claude-sonnet-4-5", "claude-opus-4-8", "anything"):
        with pytest.raises(RequestError, match=r"^messages\.1\.content\.0: Invalid `signature`"):
            plan_messages({"model": model, **sent("llm-gateway:chat-reasoning:v1")})
        with pytest.raises(RequestError, match="Invalid `signature` in `thinking` block"):
            plan_messages({"model": model, **sent("")})
        assert plan_messages({"model": model, **sent("RXFvQkNrZ0lBRUFF==")}).choices


def test_a_tool_loop_with_thinking_on_must_start_with_a_thinking_block() -> None:
    call = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}
    thought: dict[str, object] = {"type": "thinking", "thinking": "Call f.", "signature": "c2ln"}

    def loop(
        first: list[dict[str, object]],
        thinking: dict[str, object] | None,
        model: str = "claude-sonnet-4-5",
    ) -> dict[str, object]:
        body: dict[str, object] = {
            "model": model,
            "max_tokens": 2048,
            "messages": [
                *USER,
                {"role": "assistant", "content": [*first, call]},
                {"role": "user", "content": [result]},
            ],
        }
        if thinking is not None:
            body["thinking"] = thinking
        return body

    with pytest.raises(RequestError, match=r"^messages\.1\.content\.0\.type: Expected `thinking`"):
        plan_messages(loop([], {"type": "adaptive"}))
    assert plan_messages(loop([thought], {"type": "enabled", "budget_tokens": 1024})).choices
    assert plan_messages(loop([], None)).choices
    assert plan_messages(loop([], {"type": "disabled"})).choices
    # The Claude 5 models think when a request says nothing of it.
    for model in ("claude-opus-5", "claude-sonnet-5-5", "claude-fable-5-1"):
        with pytest.raises(RequestError, match="Expected `thinking` or `redacted_thinking`"):
            plan_messages(loop([], None, model))
    assert plan_messages(loop([], {"type": "disabled"}, "claude-opus-5")).choices
    assert plan_messages(loop([], {"type": "between_tools"}, "claude-sonnet-5-5")).choices


def test_an_effort_level_a_model_lacks_is_refused() -> None:
    def asked(model: str, effort: str) -> dict[str, object]:
        return {"model": model, "output_config": {"effort": effort}, **USER_ONLY}

    with pytest.raises(RequestError, match="does not support effort level 'xhigh'"):
        plan_messages(asked("claude-sonnet-4-6", "xhigh"))
    with pytest.raises(RequestError, match="does not support effort level 'max'"):
        plan_messages(asked("claude-opus-4-5-20251101", "max"))
    with pytest.raises(RequestError, match="does not support the effort parameter"):
        plan_messages(asked("claude-sonnet-4-5", "high"))
    for model, effort in (
        ("claude-sonnet-4-6", "max"),
        ("claude-opus-4-5-20251101", "high"),
        ("claude-opus-4-8", "xhigh"),
        ("claude-3-5-haiku-20241022", "high"),  # the mock knows no more of Claude 3
    ):
        assert plan_messages(asked(model, effort)).choices


def test_the_claude_5_models_refuse_thinking_off_as_anthropic_does() -> None:
    def off(model: str, kind: str, effort: str | None = None) -> dict[str, object]:
        body: dict[str, object] = {"model": model, "thinking": {"type": kind}, **USER_ONLY}
        if effort is not None:
            body["output_config"] = {"effort": effort}
        return body

    for model in ("claude-opus-5-5", "claude-fable-5", "claude-fable-5-1", "claude-mythos-5"):
        with pytest.raises(RequestError, match='"thinking.type.disabled" is not supported'):
            plan_messages(off(model, "disabled"))
    with pytest.raises(RequestError, match='Use "thinking.type.between_tools"'):
        plan_messages(off("claude-sonnet-5-5", "disabled"))
    with pytest.raises(RequestError, match="Input tag 'between_tools'"):
        plan_messages(off("claude-opus-5", "between_tools"))
    for model, kind in (("claude-opus-5", "disabled"), ("claude-sonnet-5-5", "between_tools")):
        with pytest.raises(RequestError, match="not supported at effort 'xhigh'"):
            plan_messages(off(model, kind, "xhigh"))
        assert plan_messages(off(model, kind, "high")).choices
    assert plan_messages(off("claude-opus-4-8", "disabled", "max")).choices
    assert plan_messages(off("claude-sonnet-5", "disabled", "max")).choices


def test_the_claude_5_5_models_refuse_forced_tool_use() -> None:
    tools = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    for choice in ({"type": "any"}, {"type": "tool", "name": "get_weather"}):
        body = {"tools": tools, "tool_choice": choice, **USER_ONLY}
        for model in ("claude-opus-5-5", "claude-sonnet-5-5", "claude-fable-5-1"):
            with pytest.raises(RequestError, match="forced tool use is not supported"):
                plan_messages({"model": model, **body})
        for model in ("claude-opus-5", "claude-fable-5", "claude-opus-4-8"):
            assert plan_messages({"model": model, **body}).choices[0].tool_call
    auto = {"tools": tools, "tool_choice": {"type": "auto"}, **USER_ONLY}
    assert plan_messages({"model": "claude-opus-5-5", **auto}).choices[0].tool_call


def test_claudes_json_format_answers_its_schema_and_refuses_an_open_object() -> None:
    def formatted(schema: dict[str, object]) -> dict[str, object]:
        config = {"format": {"type": "json_schema", "schema": schema}}
        return {"model": "claude-opus-5-5", "output_config": config, **USER_ONLY}

    closed: dict[str, object] = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    text = plan_messages(formatted(closed)).choices[0].text
    assert text is not None and orjson.loads(text) == {"city": "test"}
    nested = {**closed, "properties": {"stop": {"type": "object", "properties": {}}}}
    schemas: list[dict[str, object]] = [{"type": "object"}, nested]
    for schema in schemas:
        with pytest.raises(RequestError, match="'additionalProperties' must be explicitly set"):
            plan_messages(formatted(schema))
