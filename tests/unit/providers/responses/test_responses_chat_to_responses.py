"""Chat completions -> Responses API response objects."""

from __future__ import annotations

from typing import Any

from gateway.providers.responses.responses_chat_to_responses import chat_response_to_responses

USAGE = {
    "prompt_tokens": 10,
    "completion_tokens": 4,
    "total_tokens": 14,
    "prompt_tokens_details": {"cached_tokens": 3},
    "completion_tokens_details": {"reasoning_tokens": 1},
}


def chat(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "model": "up-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": USAGE,
    }


def test_text_answer_with_usage_and_echoed_request() -> None:
    request = {"model": "pub", "input": "hi", "instructions": "brief", "metadata": {"a": "b"}}
    response = chat_response_to_responses(
        chat({"role": "assistant", "content": "Hello"}), request, "resp_1"
    )
    assert response["id"] == "resp_1" and response["object"] == "response"
    assert response["status"] == "completed" and response["model"] == "up-model"
    assert response["instructions"] == "brief" and response["metadata"] == {"a": "b"}
    [item] = response["output"]
    assert item["type"] == "message" and item["role"] == "assistant"
    assert item["content"] == [{"type": "output_text", "text": "Hello", "annotations": []}]
    assert response["usage"] == {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 3},
        "output_tokens": 4,
        "output_tokens_details": {"reasoning_tokens": 1},
        "total_tokens": 14,
    }


def test_tool_calls_become_function_call_items() -> None:
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
        {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]
    message = {"role": "assistant", "content": None, "tool_calls": calls}
    response = chat_response_to_responses(chat(message, "tool_calls"), {}, "resp_1")
    assert [(i["type"], i["call_id"], i["name"], i["arguments"]) for i in response["output"]] == [
        ("function_call", "call_1", "f", '{"a":1}'),
        ("function_call", "call_2", "g", "{}"),
    ]


def test_calls_of_custom_and_namespaced_tools_come_back_as_those_tools_calls() -> None:
    request = {
        "tools": [
            {"type": "custom", "name": "apply_patch"},
            {
                "type": "namespace",
                "name": "mcp__docs__",
                "tools": [{"type": "function", "name": "f"}],
            },
        ]
    }
    calls = [
        {"id": "call_1", "function": {"name": "apply_patch", "arguments": '{"input":"P"}'}},
        {"id": "call_2", "function": {"name": "mcp__docs__f", "arguments": "{}"}},
    ]
    message = {"role": "assistant", "content": None, "tool_calls": calls}
    output = chat_response_to_responses(chat(message, "tool_calls"), request, "resp_1")["output"]
    assert [{k: v for k, v in item.items() if k != "id"} for item in output] == [
        {
            "type": "custom_tool_call",
            "status": "completed",
            "call_id": "call_1",
            "name": "apply_patch",
            "input": "P",
        },
        {
            "type": "function_call",
            "status": "completed",
            "call_id": "call_2",
            "name": "f",
            "arguments": "{}",
            "namespace": "mcp__docs__",
        },
    ]


def test_a_chat_servers_reasoning_is_a_reasoning_item_before_the_answer() -> None:
    # DeepSeek and vLLM before 0.10 say `reasoning_content`; vLLM since and OpenRouter `reasoning`.
    for field in ("reasoning_content", "reasoning"):
        message = {"role": "assistant", "content": "Sunny.", field: "Look it up."}
        output = chat_response_to_responses(chat(message), {}, "resp_1")["output"]
        assert [item["type"] for item in output] == ["reasoning", "message"]
        assert output[0]["id"].startswith("rs_") and output[0]["summary"] == []
        assert output[0]["content"] == [{"type": "reasoning_text", "text": "Look it up."}]


def test_length_is_incomplete() -> None:
    response = chat_response_to_responses(
        chat({"role": "assistant", "content": "Hel"}, "length"), {}, "resp_1"
    )
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response["output"][-1]["status"] == "incomplete"  # the item the stop cut


def test_a_finished_answer_has_completed_items() -> None:
    response = chat_response_to_responses(
        chat({"role": "assistant", "content": "Hello"}, "stop"), {}, "resp_1"
    )
    assert [item["status"] for item in response["output"]] == ["completed"]
