"""A Responses API `response` -> a chat completion (a chat client of a deployment with
`api = "responses"`).

The `message` items' text becomes the choice's `content` (a `refusal` part its `refusal`), each
`function_call` item a tool call (`id` = its `call_id`), each `custom_tool_call` a custom tool
call; a `reasoning` item's summary becomes `reasoning_content` (summaries come when the request
asked for them), its `encrypted_content` an entry of `reasoning_details` as OpenRouter carries it
(`chat_reasoning`), which a client that sends the message back sends back, for the model to go
on from its thought (`requests_chat_to_responses`). `finish_reason`: `tool_calls` when it called
tools, `length` for an answer cut at `max_output_tokens`, `content_filter` for one the filter
stopped, else `stop`. An `output_text` part's `url_citation` annotations become the message's
`annotations` (`web_search`). The usage is renamed (`input_tokens` -> `prompt_tokens`, cached and
reasoning details kept).
"""

from __future__ import annotations

from gateway.json_types import JSON
from gateway.providers.anthropic.web_search import SEARCHES_FIELD
from gateway.providers.base import token_count
from gateway.providers.chat_reasoning import encrypted_details, sealed
from gateway.providers.responses.objects import reasoning_parts_text
from gateway.providers.responses.web_search import chat_annotation, search_entry

# `incomplete_details.reason` -> chat's `finish_reason`.
FINISH_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


def chat_usage(usage: object) -> JSON | None:
    """A Responses `usage` as chat's."""
    if not isinstance(usage, dict):
        return None
    prompt = token_count(usage.get("input_tokens"), "input_tokens")
    completion = token_count(usage.get("output_tokens"), "output_tokens")
    input_details = usage.get("input_tokens_details")
    output_details = usage.get("output_tokens_details")
    cached = input_details.get("cached_tokens") if isinstance(input_details, dict) else 0
    reasoning = output_details.get("reasoning_tokens") if isinstance(output_details, dict) else 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": token_count(cached, "cached_tokens")},
        "completion_tokens_details": {
            "reasoning_tokens": token_count(reasoning, "reasoning_tokens")
        },
    }


def chat_tool_call(item: JSON) -> JSON | None:
    """The chat tool call of a `function_call` or `custom_tool_call` item (None for others)."""
    call_id = str(item.get("call_id") or item.get("id") or "")
    if item.get("type") == "function_call":
        function = {"name": str(item.get("name", "")), "arguments": str(item.get("arguments", ""))}
        return {"id": call_id, "type": "function", "function": function}
    if item.get("type") == "custom_tool_call":
        custom = {"name": str(item.get("name", "")), "input": str(item.get("input", ""))}
        return {"id": call_id, "type": "custom", "custom": custom}
    return None


def finish_reason(response: JSON, called: bool) -> str:
    details = response.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    if response.get("status") == "incomplete" and reason in FINISH_REASONS:
        return FINISH_REASONS[str(reason)]
    return "tool_calls" if called else "stop"


def responses_response_to_chat(response: JSON, origin: str = "", searches: bool = False) -> JSON:
    """The chat completion of the Responses answer `response`; its encrypted reasoning sealed
    with `origin` (`chat_reasoning.sealed`), left out without one; with `searches`, its web
    searches as the message's `web_searches` (`web_search`: the Anthropic bridge's)."""
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[JSON] = []
    thoughts: list[str] = []
    encrypted: list[str] = []
    annotations: list[JSON] = []
    searched: list[JSON] = []
    for item in response.get("output") or ():
        if not isinstance(item, dict):
            continue
        if searches and (entry := search_entry(item)) is not None:
            searched.append(entry)
        elif item.get("type") == "reasoning":
            if summary := reasoning_parts_text(item, "summary"):
                thoughts.append(summary)
            data = item.get("encrypted_content")
            if origin and isinstance(data, str) and data:
                encrypted.append(sealed(origin, data))
        elif item.get("type") == "message":
            for part in item.get("content") or ():
                if not isinstance(part, dict):
                    continue
                if isinstance(part.get("text"), str):
                    if part.get("annotations"):
                        offset = sum(map(len, texts))
                        for annotation in part["annotations"]:
                            if (cited := chat_annotation(annotation, offset)) is not None:
                                annotations.append(cited)
                    texts.append(part["text"])
                elif isinstance(part.get("refusal"), str):
                    refusals.append(part["refusal"])
        elif (call := chat_tool_call(item)) is not None:
            calls.append(call)
    message: JSON = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if refusals:
        message["refusal"] = "".join(refusals)
    if annotations:
        message["annotations"] = annotations
    if searched:
        message[SEARCHES_FIELD] = searched
    if thoughts:
        message["reasoning_content"] = "\n\n".join(thoughts)
    if encrypted:
        message["reasoning_details"] = encrypted_details(encrypted)
    if calls:
        message["tool_calls"] = calls
    created = response.get("created_at")
    return {
        "id": f"chatcmpl-{response.get('id', '')}",
        "object": "chat.completion",
        "created": created if isinstance(created, int) else 0,
        "model": str(response.get("model") or ""),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason(response, bool(calls)),
                "logprobs": None,
            }
        ],
        "usage": chat_usage(response.get("usage")),
    }
