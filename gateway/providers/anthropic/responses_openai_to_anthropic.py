"""OpenAI chat completions -> Anthropic messages (an Anthropic client, an OpenAI upstream).

A pure function over parsed JSON: no I/O.
"""

from __future__ import annotations

from gateway.json_types import JSON
from gateway.providers.anthropic.stop_reasons import matched_stop_sequence, stop_reason
from gateway.providers.anthropic.thinking_blocks import ThinkingDisplay, thinking_block
from gateway.providers.anthropic.tool_calls import tool_use_from_tool_call
from gateway.providers.anthropic.usage import anthropic_usage
from gateway.providers.anthropic.web_search import SEARCHES_FIELD, citation, search_blocks
from gateway.providers.chat_reasoning import encrypted_reasoning, reasoning_text


def openai_response_to_anthropic(
    resp: JSON, model: str, thinking: ThinkingDisplay | None = None
) -> JSON:
    """Translate an OpenAI `chat.completion` into an Anthropic message.

    Reads the first choice: its reasoning becomes a `thinking` block first when the request
    asked to see it (`thinking`: `thinking_blocks`), its web searches (the Anthropic bridge's)
    their blocks (`web_search`), its text (or refusal) a text block (its `url_citation`
    annotations the block's citations), each
    tool call a `tool_use` block whose `input` is the parsed arguments (`{}` when they are not
    a JSON object).
    The id is "msg_" + the OpenAI id; `stop_sequence` is the one `matched_stop_sequence` reads
    (vLLM says which matched; OpenAI does not, and it is then None); an answer with tool calls
    stops for "tool_use" whatever its finish_reason (`stop_reason`). Usage follows
    `anthropic_usage`.
    """
    choices = resp.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    content: list[JSON] = []
    if thinking is not None:
        content += thinking_blocks(reasoning_text(message), encrypted_reasoning(message), thinking)
    for entry in message.get(SEARCHES_FIELD) or ():
        content += search_blocks(entry)
    text = message.get("content")
    if isinstance(text, list):  # some compatible servers return content parts
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
    text = text or message.get("refusal")
    if isinstance(text, str) and text:
        block: JSON = {"type": "text", "text": text}
        cited = [citation(a, text) for a in message.get("annotations") or ()]
        if any(cited):
            block["citations"] = [c for c in cited if c is not None]
        content.append(block)
    calls = [tool_use_from_tool_call(call) for call in message.get("tool_calls") or ()]
    content.extend(calls)
    finish = choice.get("finish_reason")
    sequence = matched_stop_sequence(finish, choice.get("stop_reason"))
    return {
        "id": f"msg_{resp.get('id', '')}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "stop_sequence" if sequence else stop_reason(finish, bool(calls)),
        "stop_sequence": sequence,
        "usage": anthropic_usage(resp.get("usage")),
    }


def thinking_blocks(text: str | None, encrypted: list[str], display: ThinkingDisplay) -> list[JSON]:
    """The thinking blocks of a chat answer's reasoning: its text in the first, each encrypted
    reasoning it kept in a block of its own (none when it has neither)."""
    if text is None and not encrypted:
        return []
    first = thinking_block(text or "", display, encrypted[0] if encrypted else None)
    return [first, *(thinking_block("", display, data) for data in encrypted[1:])]
