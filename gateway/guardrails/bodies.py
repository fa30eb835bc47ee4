"""Where the text is in a request or an answer, in both wire formats.

A slot is (container, key): `container[key]` is a string the guardrails may read and replace.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gateway.providers.responses.compaction import summary_view

Slot = tuple[Any, Any]
# Joins the texts of different messages for one scan; no detector matches across it (a
# private-use character between newlines: normalisation keeps it, no pattern takes it).
SEPARATOR = "\n\ue000\n"


def _content_slots(message: object, key: str = "content") -> Iterator[Slot]:
    """A message content: a string, or a list of parts / blocks (text, tool_result, an
    Anthropic document whose source is text: plain `data`, or `content` blocks)."""
    if not isinstance(message, dict):
        return
    content = message.get(key)
    if isinstance(content, str):
        yield message, key
    elif isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str):
                yield part, "text"
            elif part.get("type") == "refusal" and isinstance(part.get("refusal"), str):
                yield part, "refusal"
            elif part.get("type") == "tool_result":
                yield from _content_slots(part)
            elif part.get("type") == "document" and isinstance(part.get("source"), dict):
                source = part["source"]
                if source.get("type") == "text" and isinstance(source.get("data"), str):
                    yield source, "data"
                elif source.get("type") == "content":
                    yield from _content_slots(source)


# Anthropic blocks whose `input` the model wrote: a client tool's call, a server tool's (a web
# search's query), an MCP server's tool's.
_TOOL_USES = ("tool_use", "server_tool_use", "mcp_tool_use")


def _call_slots(message: object) -> Iterator[Slot]:
    """The tool calls of a message: a chat message's `tool_calls[].function.arguments` (and
    legacy `function_call`), the strings of an Anthropic `tool_use` block's `input` (and of a
    `server_tool_use` or `mcp_tool_use` block's), a Responses
    API `function_call` item's `arguments`; the free-text `input` of a custom tool call (chat
    `tool_calls[].custom`, a Responses `custom_tool_call` item). Arguments sent as JSON rather
    than as a string (some OpenAI-compatible servers take them) are read string by string."""
    if not isinstance(message, dict):
        return
    calls = message.get("tool_calls")
    customs = (
        [c.get("custom") for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []
    )
    if message.get("type") == "custom_tool_call":
        customs.append(message)
    for custom in customs:
        if isinstance(custom, dict) and isinstance(custom.get("input"), str):
            yield custom, "input"
    holders = (
        [c.get("function") for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []
    )
    holders.append(message.get("function_call"))
    if message.get("type") == "function_call":
        holders.append(message)
    for holder in holders:
        if isinstance(holder, dict) and isinstance(holder.get("arguments"), str):
            yield holder, "arguments"
        elif isinstance(holder, dict):
            yield from string_slots(holder.get("arguments"))
    content = message.get("content")
    for block in content if isinstance(content, list) else ():
        if isinstance(block, dict) and block.get("type") in _TOOL_USES:
            yield from string_slots(block.get("input"))


# A chat message's texts beside its content: its refusal, and where OpenAI-compatible servers
# put its reasoning (vLLM, DeepSeek, Ollama and others send `reasoning_content`; some
# `reasoning`).
SIDE_FIELDS = ("refusal", "reasoning_content", "reasoning")


def _side_slots(message: object) -> Iterator[Slot]:
    """A message's refusal and reasoning texts: a chat message's `refusal`, `reasoning_content`,
    `reasoning` and `reasoning_details` texts, the `thinking` of each Anthropic thinking block
    (a `redacted_thinking` block is opaque), the `summary` parts of a Responses API `reasoning`
    item (its `content` parts are text parts)."""
    if not isinstance(message, dict):
        return
    for name in SIDE_FIELDS:
        if isinstance(message.get(name), str):
            yield message, name
    yield from detail_slots(message.get("reasoning_details"))
    content = message.get("content")
    for block in content if isinstance(content, list) else ():
        if isinstance(block, dict) and block.get("type") == "thinking":
            if isinstance(block.get("thinking"), str):
                yield block, "thinking"
    summary = message.get("summary") if message.get("type") == "reasoning" else None
    for part in summary if isinstance(summary, list) else ():
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            yield part, "text"


def detail_slots(details: object) -> Iterator[Slot]:
    """The reasoning texts of a chat message's (or delta's) `reasoning_details`: each
    `reasoning.text` entry's `text` (a Claude thinking block the gateway carries, OpenRouter's
    form); encrypted entries are opaque."""
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, dict) and detail.get("type") == "reasoning.text":
            if isinstance(detail.get("text"), str):
                yield detail, "text"


# The strings of a citation or a search result a model's answer carries, as a client reads them.
CITED = ("title", "url", "cited_text", "document_title")


def citation_slots(value: object) -> Iterator[Slot]:
    """The titles, URLs and cited texts anywhere in citations or search results: OpenAI
    `annotations[].url_citation`, Responses `annotations[]`, Anthropic `citations[]` (and a
    `citations_delta`'s `citation`), a `web_search_tool_result` block's results."""
    if isinstance(value, list):
        for item in value:
            yield from citation_slots(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in CITED and isinstance(item, str):
                yield value, key
            elif isinstance(item, (dict, list)):
                yield from citation_slots(item)


def _cited_slots(message: object) -> Iterator[Slot]:
    """An answer message's citations: a chat message's `annotations`, a Responses message
    part's, an Anthropic text block's `citations`, a `web_search_tool_result` block's results."""
    if not isinstance(message, dict):
        return
    yield from citation_slots(message.get("annotations"))
    content = message.get("content")
    for block in content if isinstance(content, list) else ():
        if isinstance(block, dict):
            yield from citation_slots(block.get("annotations"))
            yield from citation_slots(block.get("citations"))
            if block.get("type") == "web_search_tool_result":
                yield from citation_slots(block.get("content"))


def message_groups(message: object) -> list[list[Slot]]:
    """A message's groups: its content parts as one text (read as the model reads them), its
    refusal, each reasoning text and each tool-call string on its own (separate fields: no
    value runs from one into another)."""
    groups = [list(_content_slots(message))]
    groups += [[slot] for slot in _side_slots(message)]
    groups += [[slot] for slot in _call_slots(message)]
    return [group for group in groups if group]


def _response_input_groups(body: dict[str, Any]) -> list[list[Slot]]:
    """Responses API: `instructions`, `input` (a string, or message items and tool outputs),
    each item a group."""
    groups: list[list[Slot]] = []
    if isinstance(body.get("instructions"), str):
        groups.append([(body, "instructions")])
    value = body.get("input")
    if isinstance(value, str):
        return [*groups, [(body, "input")]]
    for item in value if isinstance(value, list) else ():
        if not isinstance(item, dict):
            continue
        if item.get("type") in ("function_call_output", "custom_tool_call_output"):
            # a string, or text parts
            groups.append(list(_content_slots(item, "output")))
        elif item.get("type") == "compaction":
            # The gateway's summary reaches the model as a user message (encoded, it would
            # pass unread); OpenAI's own is encrypted, read by OpenAI only.
            groups.append(list(summary_slots(item)))
        else:
            groups += message_groups(item)
    return [group for group in groups if group]


def unread_output_param(body: dict[str, Any], kind: str) -> str | None:
    """The parameter that asks for an answer output guardrails cannot rewrite, or None: token
    log probabilities (each token's text, and its alternatives, spell out the answer: a value
    the guardrails take out of the text would still be there), or spoken audio (the sound says
    what its transcript says). Chat `logprobs` / `top_logprobs` / `modalities` / `audio`, a
    legacy completion's `logprobs`, a Responses request's `top_logprobs` or `include` of
    `message.output_text.logprobs`."""
    if kind == "responses":
        include = body.get("include")
        if isinstance(include, list) and "message.output_text.logprobs" in include:
            return "include"
        return "top_logprobs" if body.get("top_logprobs") else None
    if kind == "completions":
        return "logprobs" if body.get("logprobs") is not None else None
    if kind != "chat":
        return None
    if body.get("logprobs"):
        return "logprobs"
    if body.get("top_logprobs"):
        return "top_logprobs"
    modalities = body.get("modalities")
    if isinstance(modalities, list) and "audio" in modalities:
        return "modalities"
    return "audio" if body.get("audio") is not None else None


def token_ids_param(body: dict[str, Any], kind: str) -> str | None:
    """The parameter of an embeddings `input` / completions `prompt` given as token ids (or
    anything else that is not text), which no guardrail can read; None when it is text."""
    if kind not in ("embeddings", "completions"):
        return None
    name = "input" if kind == "embeddings" else "prompt"
    value = body.get(name)
    if value is None or isinstance(value, str):
        return None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return None
    return name


def input_groups(body: dict[str, Any], kind: str) -> list[list[Slot]]:
    """Every text the client sends, by message: the parts of one message (text parts, tool
    results) form one group, read as one text (a model reads them as one); the system prompt,
    each embeddings input or completion prompt, Responses instructions and each input item are
    groups of their own."""
    if kind == "responses":
        return _response_input_groups(body)
    if kind == "embeddings" or kind == "completions":
        name = "input" if kind == "embeddings" else "prompt"
        value = body.get(name)
        if isinstance(value, str):
            return [[(body, name)]]
        if isinstance(value, list):
            return [[(value, i)] for i, item in enumerate(value) if isinstance(item, str)]
        return []
    groups = [list(_content_slots(body, "system"))]
    for message in body.get("messages") or ():
        groups += message_groups(message)
    return [group for group in groups if group]


def output_groups(data: object, wire: str) -> list[list[Slot]]:
    """The answer's text by message: each OpenAI `choices[].message.content` (a legacy
    completion's `choices[].text`), all of Anthropic's `content[].text` blocks as one, each
    Responses API `output[]` message; each reasoning text (`reasoning_content`, thinking
    blocks, reasoning items), each tool call's arguments, each citation's title, URL and
    cited text and the summary of each gateway `compaction` item on their own."""
    if not isinstance(data, dict):
        return []
    if data.get("object") in ("response", "response.compaction"):
        return [
            group
            for item in data.get("output") or ()
            if isinstance(item, dict)
            and item.get("type") in ("message", "function_call", "custom_tool_call", "reasoning")
            for group in _answer_groups(item)
        ] + [[slot] for slot in summary_slots(data.get("output"))]
    if wire == "anthropic":
        return _answer_groups(data)
    groups: list[list[Slot]] = []
    for choice in data.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict):
            groups += _answer_groups(message)
        elif isinstance(choice, dict) and isinstance(choice.get("text"), str):
            groups.append([(choice, "text")])
    return groups


def _answer_groups(message: object) -> list[list[Slot]]:
    """An answer message's groups, and each string of its citations on its own."""
    return message_groups(message) + [[slot] for slot in _cited_slots(message)]


def summary_slots(value: object) -> Iterator[Slot]:
    """The summary of each gateway `compaction` item in `value` (an item, or a list of them),
    decoded: read and replaced through its view (`compaction.SummaryView`)."""
    for item in value if isinstance(value, list) else [value]:
        view = summary_view(item)
        if view is not None:
            yield view, "summary"


def string_slots(value: object) -> Iterator[Slot]:
    """Every string anywhere inside a JSON value (for putting placeholders back in tool calls)."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        if isinstance(item, str):
            yield value, key
        else:
            yield from string_slots(item)
