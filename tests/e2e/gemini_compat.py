"""Gemini 3 through Google's OpenAI-compatible API, as `compat_upstream` answers it: a tool call
carries its thought signature (`extra_content.google.thought_signature`), JSON and streamed; an
assistant message whose first tool call comes back without one is Gemini's 400, in Google's
error list; the value Google documents for calls the model did not make is taken."""

from __future__ import annotations

from typing import Any

SIGNATURE = "R2VtaW5pIHNpZ25lZCB0aGlz"
SKIP_VALIDATOR = "skip_thought_signature_validator"
MODEL = "gemini-3-pro-preview"


def missing_signature(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Gemini's 400 for the first assistant tool call without a signature, or None."""
    for message in body.get("messages") or ():
        calls = message.get("tool_calls") if message.get("role") == "assistant" else None
        if not calls:
            continue
        first = calls[0]
        signature = ((first.get("extra_content") or {}).get("google") or {}).get(
            "thought_signature"
        )
        if signature in (SIGNATURE, SKIP_VALIDATOR):
            continue
        name = (first.get("function") or {}).get("name")
        text = (
            "Function call is missing a thought_signature in functionCall parts. This is "
            "required for tools to work correctly, and missing thought_signature may lead to "
            f"degraded model performance. Additional data, function call `default_api:{name}` "
            ", position 2. Please refer to https://ai.google.dev/gemini-api/docs/thought-"
            "signatures for more details."
        )
        return [{"error": {"code": 400, "message": text, "status": "INVALID_ARGUMENT"}}]
    return None


def calls_a_tool(body: dict[str, Any]) -> bool:
    """Whether Gemini answers with a tool call: it has tools and was not just sent results."""
    messages = body.get("messages") or [{}]
    return bool(body.get("tools")) and messages[-1].get("role") != "tool"


def tool_call(body: dict[str, Any]) -> dict[str, Any]:
    """The signed call of the first tool offered."""
    name = body["tools"][0]["function"]["name"]
    return {
        "id": "function-call-1",
        "type": "function",
        "function": {"name": name, "arguments": "{}"},
        "extra_content": {"google": {"thought_signature": SIGNATURE}},
    }


def tool_answer(body: dict[str, Any]) -> dict[str, Any]:
    message = {"role": "assistant", "content": None, "tool_calls": [tool_call(body)]}
    return {
        "id": "gemini-1",
        "object": "chat.completion",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
    }


def tool_stream_deltas(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Gemini streams a call whole, in one delta."""
    return [{"role": "assistant", "tool_calls": [{"index": 0, **tool_call(body)}]}]
