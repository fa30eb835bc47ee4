"""`restore` in a JSON answer: placeholders back in every string; inside tool-call arguments,
which are JSON text, a value goes back JSON-escaped so the arguments still parse."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.guardrails.base import Placeholders
from gateway.pipeline.guard import _restore


def test_a_value_goes_back_escaped_into_arguments_and_as_is_into_text() -> None:
    placeholders = Placeholders()
    value = 'O"Brien\\Ltd'
    token = placeholders.placeholder("COMPANY", value)
    call: dict[str, Any] = {
        "id": "c",
        "type": "function",
        "function": {"name": "f", "arguments": ""},
    }
    call["function"]["arguments"] = orjson.dumps({"name": token}).decode()
    data: dict[str, Any] = {
        "choices": [{"message": {"content": f"Filed for {token}.", "tool_calls": [call]}}]
    }
    assert _restore(data, placeholders)
    message = data["choices"][0]["message"]
    assert message["content"] == f"Filed for {value}."
    assert orjson.loads(message["tool_calls"][0]["function"]["arguments"]) == {"name": value}
