"""`POST /v1/responses/input_tokens` (the openai SDK's `responses.input_tokens.count`): how
many input tokens a Responses request would take, without running it.

An upstream with the Responses API counts it itself (`INPUT_TOKENS_OPERATION`, passed
through); the body it gets holds only the fields the count takes (`count_body`: a client that
sends its whole request, `stream`, `store` and `max_output_tokens` included, is not refused
for them). For the others (chat completions only, Anthropic, the in-process mock) the gateway
estimates (`estimated_input_tokens`): the request as the chat completions request it becomes
(`requests_responses_to_chat`, so the instructions, the tool calls and their outputs count as
the model would see them), counted with tiktoken, tool definitions included.
"""

from __future__ import annotations

import orjson

from gateway import tokens
from gateway.json_types import JSON
from gateway.providers.responses.requests_responses_to_chat import responses_request_to_chat

INPUT_TOKENS_OPERATION = "responses/input_tokens"
# What OpenAI's count takes (`InputTokenCountParams`).
COUNTED_FIELDS = frozenset(
    {
        "conversation",
        "input",
        "instructions",
        "model",
        "parallel_tool_calls",
        "personality",
        "previous_response_id",
        "reasoning",
        "text",
        "tool_choice",
        "tools",
        "truncation",
    }
)


def count_body(body: JSON) -> JSON:
    """`body` with only the fields a count takes."""
    return {name: value for name, value in body.items() if name in COUNTED_FIELDS}


def estimated_input_tokens(body: JSON) -> int:
    """tiktoken's count of what `body` would send a chat completions upstream (raises
    TranslationError for what it cannot send, as the request itself would)."""
    chat = responses_request_to_chat(count_body(body), str(body.get("model") or ""))
    count = tokens.count_messages(chat["messages"])
    if chat.get("tools"):
        count += tokens.count_text(orjson.dumps(chat["tools"]).decode())
    return count


def input_tokens_answer(count: int) -> JSON:
    """OpenAI's answer: `{"object": "response.input_tokens", "input_tokens": N}`."""
    return {"object": "response.input_tokens", "input_tokens": count}
