"""A chat completion -> a Responses API `response` (for upstreams without Responses).

The first choice's reasoning (`reasoning_content`) becomes a `reasoning` item (Claude's
thinking blocks, when the request asks for the encrypted reasoning, one item each with the
block as its `encrypted_content`: `anthropic.carried_thinking`), its text a
`message` item (its `refusal`, a `refusal` part), each of its
tool calls a `function_call` item (`call_id` = the chat tool call id), or the `custom_tool_call`,
namespaced call or `tool_search_call` the function stands for (`chat_tools`); `finish_reason`
`length` makes the response `incomplete` (`max_output_tokens`), `content_filter` likewise
(`content_filter`); the usage is renamed (`prompt_tokens` -> `input_tokens`, the cached and
reasoning details kept). The request's fields are echoed as OpenAI echoes them.
"""

from __future__ import annotations

from gateway.json_types import JSON
from gateway.providers.anthropic.carried_thinking import claude_entries
from gateway.providers.base import token_count
from gateway.providers.chat_reasoning import reasoning_text
from gateway.providers.responses.chat_tools import call_item, tool_origins
from gateway.providers.responses.objects import (
    asks_encrypted_reasoning,
    carried_thinking_item,
    message_item,
    new_id,
    reasoning_item,
    response_object,
    responses_usage,
)
from gateway.providers.responses.web_search import responses_annotation

INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


def chat_usage_to_responses(usage: object) -> JSON | None:
    if not isinstance(usage, dict):
        return None
    prompt_details = usage.get("prompt_tokens_details")
    completion_details = usage.get("completion_tokens_details")
    return responses_usage(
        token_count(usage.get("prompt_tokens"), "prompt_tokens"),
        token_count(usage.get("completion_tokens"), "completion_tokens"),
        token_count(prompt_details.get("cached_tokens"), "cached_tokens")
        if isinstance(prompt_details, dict)
        else 0,
        token_count(completion_details.get("reasoning_tokens"), "reasoning_tokens")
        if isinstance(completion_details, dict)
        else 0,
    )


def chat_response_to_responses(chat: JSON, request: JSON, response_id: str) -> JSON:
    """The `response` answering `request`, from the upstream's chat completion."""
    choices = chat.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message")
    message = message if isinstance(message, dict) else {}
    output: list[JSON] = []
    carried = claude_entries(message) if asks_encrypted_reasoning(request) else []
    reasoning = reasoning_text(message)
    if carried:  # Claude's thinking blocks, one item each, its text with it
        output += [carried_thinking_item(new_id("rs"), entry) for entry in carried]
    elif reasoning:
        output.append(reasoning_item(new_id("rs"), reasoning))
    content = message.get("content")
    calls = [c for c in message.get("tool_calls") or () if isinstance(c, dict)]
    if isinstance(content, str) and (content or not calls):
        output.append(message_item(new_id("msg"), content))
        cited = [responses_annotation(a) for a in message.get("annotations") or ()]
        output[-1]["content"][0]["annotations"] = [a for a in cited if a is not None]
    if isinstance(message.get("refusal"), str):
        item = message_item(new_id("msg"), "")
        item["content"] = [{"type": "refusal", "refusal": message["refusal"]}]
        output.append(item)
    origins = tool_origins(request) if calls else {}
    for call in calls:
        function = call.get("function") or {}
        name = str(function.get("name", ""))
        call_id = str(call.get("id") or new_id("call"))
        arguments = str(function.get("arguments") or "")
        output.append(call_item(origins.get(name), call_id, name, arguments))
    reason = INCOMPLETE_REASONS.get(str(choice.get("finish_reason")))
    if reason and output:
        output[-1]["status"] = "incomplete"  # the item the stop cut short, as OpenAI marks it
    return response_object(
        request,
        response_id,
        str(chat.get("model") or request.get("model") or ""),
        output,
        chat_usage_to_responses(chat.get("usage")),
        status="incomplete" if reason else "completed",
        incomplete_reason=reason,
    )
