"""Anthropic messages -> OpenAI chat completions (an OpenAI client, an Anthropic upstream).

A pure function over parsed JSON: no I/O. The clock is read only for OpenAI's `created` field,
and callers may pass it in.
"""

from __future__ import annotations

import time

import orjson

from gateway.json_types import JSON
from gateway.providers.anthropic.carried_thinking import thinking_detail
from gateway.providers.anthropic.stop_reasons import finish_reason
from gateway.providers.anthropic.structured_output import STRUCTURED_TOOL
from gateway.providers.anthropic.tool_calls import tool_call_from_tool_use
from gateway.providers.anthropic.usage import openai_usage
from gateway.providers.anthropic.web_search import chat_annotations


def anthropic_response_to_openai(
    resp: JSON,
    model: str,
    *,
    created: int | None = None,
    structured: bool = False,
    origin: str = "",
) -> JSON:
    """Translate an Anthropic message into an OpenAI `chat.completion`.

    Text blocks are joined into `message.content` (None when there is none); `tool_use` blocks
    become `tool_calls` with compact JSON `arguments`; thinking blocks become
    `reasoning_details` entries sealed with the deployment's `origin` (none without one), their
    shown text `reasoning_content` (`carried_thinking`); a web search's blocks are dropped, its
    citations are `annotations` (`web_search`). The id is
    "chatcmpl-" + the Anthropic id, `model` is the argument, `created` defaults to now.
    `structured`: the request asked for a structured output through `STRUCTURED_TOOL`, whose
    input is then the text (compact JSON), and the answer stops as a text answer does.
    """
    texts: list[str] = []
    calls: list[JSON] = []
    annotations: list[JSON] = []
    thoughts: list[str] = []
    details: list[JSON] = []
    for block in resp.get("content") or ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "thinking" or kind == "redacted_thinking":
            detail = thinking_detail(block, origin, len(details))
            if detail is not None:
                details.append(detail)
            if kind == "thinking" and isinstance(block.get("thinking"), str) and block["thinking"]:
                thoughts.append(block["thinking"])
        elif kind == "text":
            if block.get("citations"):
                annotations += chat_annotations(block, sum(map(len, texts)))
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use" and structured and block.get("name") == STRUCTURED_TOOL:
            texts.append(orjson.dumps(block.get("input") or {}).decode())
        elif kind == "tool_use":
            calls.append(tool_call_from_tool_use(block))
    finish = finish_reason(resp.get("stop_reason"))
    if structured and finish == "tool_calls" and not calls:
        finish = "stop"
    message: JSON = {
        "role": "assistant",
        "content": "".join(texts) if texts else None,
        "refusal": None,
    }
    if thoughts:
        message["reasoning_content"] = "\n\n".join(thoughts)
    if details:
        message["reasoning_details"] = details
    if calls:
        message["tool_calls"] = calls
    if annotations:
        message["annotations"] = annotations
    return {
        "id": f"chatcmpl-{resp.get('id', '')}",
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": openai_usage(resp.get("usage")),
    }
