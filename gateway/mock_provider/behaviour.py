"""What the mock provider answers: pure functions from a parsed request to a reply plan.

A `Plan` says what the fake model "generated" (text or a tool call per choice, token counts,
finish reason); `gateway.mock_provider.render` turns a plan into OpenAI or Anthropic wire
objects. Nothing here does I/O, and the same request always gets the same plan.

The text of an ordinary model name is one of a fixed set of 20-word sentences, picked by a
stable hash of the model name and the last message, so a typical stream has 20 content chunks.
Token counts of those sentences are computed once.
"""

from __future__ import annotations

import functools
import re
import zlib
from dataclasses import dataclass
from typing import Any

import orjson

from gateway import tokens
from gateway.mock_provider.claude_refusals import claude_refusal
from gateway.mock_provider.conversation import (
    anthropic_tool_result,
    last_text,
    last_user_text,
    openai_tool_result,
)
from gateway.mock_provider.paused_turns import paused_search
from gateway.mock_provider.schema import arguments_from_schema
from gateway.mock_provider.thinking_answers import answer_thinking
from gateway.mock_provider.web_search import is_search_tool, offers_search

SENTENCE_WORDS = 20
_VARIANTS = 64
_WORDS = (
    "the quick mock model answers every question with calm and steady words while tests "
    "run fast on a small local machine that never sleeps because load goes up then down "
    "again each time some client sends another request through this friendly gateway path "
    "so all numbers stay exact"
)
_VOCABULARY = tuple(_WORDS.split())
# Stream pieces: a word with the whitespace after it, or leading whitespace on its own.
_PIECE = re.compile(r"\S+\s*|\s+")
# Streamed tool call arguments: cut after each ',' and ':' of the (compact) JSON text.
_ARGUMENT_PIECE = re.compile(r"[^,:]+[,:]?|[,:]")

FINISH_TO_STOP_REASON = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
# The `service_tier` an OpenAI answer names for the one asked (Fast mode answers `priority`).
_OPENAI_TIERS: dict[str, str] = {
    "fast": "priority", "priority": "priority", "flex": "flex", "ultrafast": "ultrafast",
}  # fmt: skip


class RequestError(Exception):
    """The request is invalid; the transport answers 400 in the wire format's error shape."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as OpenAI sends it
    input: dict[str, Any]  # the same, parsed, as Anthropic sends it


@dataclass(frozen=True, slots=True)
class Choice:
    text: str | None  # None for a tool call
    # What a stream sends, in order: words of the text, or pieces of the tool call arguments.
    pieces: tuple[str, ...]
    tool_call: ToolCall | None
    finish: str  # "stop" | "length" | "tool_calls" (OpenAI names; see FINISH_TO_STOP_REASON)
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Plan:
    model: str
    choices: tuple[Choice, ...]
    prompt_tokens: int
    stream: bool
    include_usage: bool
    # An Anthropic answer that searched the web first: the query (`web_search`).
    search: str | None = None
    # A search's turn Claude paused: how many searches it made before (`paused_turns`).
    paused: int | None = None
    # The processing tier asked for, as the answer names it: OpenAI's `priority` (asked as
    # `fast` or `priority`), `flex`, `ultrafast`; Claude's fast mode, `fast`.
    tier: str | None = None
    # An Anthropic answer's thinking block, first: its text and signature (`thinking_answers`).
    thinking: tuple[str, str] | None = None

    @property
    def completion_tokens(self) -> int:
        return sum(choice.completion_tokens for choice in self.choices)


def split_pieces(text: str) -> tuple[str, ...]:
    """One piece per word, trailing whitespace attached; the pieces join back to `text`."""
    return tuple(_PIECE.findall(text))


# ---------------------------------------------------------------------------------------------
# The fixed sentences


@dataclass(frozen=True, slots=True)
class _Sentence:
    pieces: tuple[str, ...]
    text: str
    tokens: int


def _sentence_words(variant: int) -> list[str]:
    # A small linear congruential walk over the vocabulary: stable across processes and versions.
    state = variant * 2654435761 + 97
    words = []
    for _ in range(SENTENCE_WORDS):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        words.append(_VOCABULARY[(state >> 8) % len(_VOCABULARY)])
    words[0] = words[0].capitalize()
    words[-1] += "."
    return words


@functools.cache
def _sentence(variant: int) -> _Sentence:
    words = _sentence_words(variant)
    pieces = tuple(word + " " for word in words[:-1]) + (words[-1],)
    text = "".join(pieces)
    return _Sentence(pieces, text, tokens.count_text(text))


@functools.cache
def _sentence_prefix_tokens(variant: int) -> tuple[int, ...]:
    """Tokens of the sentence cut after k words (trailing space dropped), k = 0..20."""
    pieces = _sentence(variant).pieces
    return tuple(tokens.count_text(_join_cut(pieces[:k])) for k in range(len(pieces) + 1))


def _join_cut(pieces: tuple[str, ...]) -> str:
    return "".join(pieces).rstrip()


def _cut(pieces: tuple[str, ...], k: int) -> tuple[str, ...]:
    """The first k pieces, the last one without its trailing whitespace (a truncated text)."""
    if k == len(pieces):
        return pieces
    if k == 0:
        return ()
    last = pieces[k - 1].rstrip()
    return pieces[: k - 1] + (last,) if last else pieces[: k - 1]


def _fit(pieces: tuple[str, ...], max_tokens: int) -> int:
    """The most leading pieces whose text fits in max_tokens (binary search: counts only grow)."""
    low, high = 0, len(pieces)
    while low < high:
        mid = (low + high + 1) // 2
        if tokens.count_text(_join_cut(pieces[:mid])) <= max_tokens:
            low = mid
        else:
            high = mid - 1
    return low


def _text_choice(text: str, max_tokens: int | None) -> Choice:
    count = tokens.count_text(text)
    if max_tokens is None or count <= max_tokens:
        return Choice(text, split_pieces(text), None, "stop", count)
    pieces = split_pieces(text)
    kept = _cut(pieces, _fit(pieces, max_tokens))
    cut_text = "".join(kept)
    return Choice(cut_text, kept, None, "length", tokens.count_text(cut_text))


def _sentence_choice(variant: int, max_tokens: int | None) -> Choice:
    sentence = _sentence(variant)
    if max_tokens is None or sentence.tokens <= max_tokens:
        return Choice(sentence.text, sentence.pieces, None, "stop", sentence.tokens)
    prefix = _sentence_prefix_tokens(variant)
    k = max(i for i, count in enumerate(prefix) if count <= max_tokens)
    kept = _cut(sentence.pieces, k)
    return Choice("".join(kept), kept, None, "length", prefix[k])


def _json_choice(choice: Choice, response_format: Any, max_tokens: int | None) -> Choice:
    """`response_format` json_object / json_schema: the text becomes a valid JSON document."""
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        document = orjson.dumps(arguments_from_schema(schema)).decode()
    elif kind == "json_object":
        inner = choice.text or ""
        if max_tokens is not None:
            # Leave room for the wrapper so the whole document stays within max_tokens.
            room = max(0, max_tokens - _json_wrapper_tokens())
            if tokens.count_text(inner) > room:
                inner = "".join(_cut(split_pieces(inner), _fit(split_pieces(inner), room)))
        document = orjson.dumps({"answer": inner}).decode()
    else:
        return choice
    pieces, count = split_pieces(document), tokens.count_text(document)
    return Choice(document, pieces, None, choice.finish, count)


@functools.cache
def _json_wrapper_tokens() -> int:
    return tokens.count_text('{"answer":""}')


def _tool_call(name: str, schema: Any, call_id: str) -> Choice:
    arguments = arguments_from_schema(schema)
    text = orjson.dumps(arguments).decode()
    count = tokens.count_text(name) + tokens.count_text(text)
    pieces = tuple(_ARGUMENT_PIECE.findall(text))
    return Choice(None, pieces, ToolCall(call_id, name, text, arguments), "tool_calls", count)


def _openai_tool(body: dict[str, Any]) -> tuple[str, Any] | None:
    """(name, parameters) of the tool to call, or None to answer with text."""
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if not isinstance(tools, list) or not tools or choice == "none":
        return None
    functions = [
        t["function"] for t in tools if isinstance(t, dict) and isinstance(t.get("function"), dict)
    ]
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        wanted = choice["function"].get("name")
        for function in functions:
            if function.get("name") == wanted:
                return str(wanted), function.get("parameters")
        raise RequestError(f"tool_choice names an unknown function: {wanted!r}", "tool_choice")
    if not functions or not isinstance(functions[0].get("name"), str):
        return None
    return functions[0]["name"], functions[0].get("parameters")


def _anthropic_tool(body: dict[str, Any]) -> tuple[str, Any] | None:
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if not isinstance(tools, list) or not tools:
        return None
    if isinstance(choice, dict) and choice.get("type") == "none":
        return None
    named = [
        t
        for t in tools
        if isinstance(t, dict) and isinstance(t.get("name"), str) and not is_search_tool(t)
    ]
    if isinstance(choice, dict) and choice.get("type") == "tool":
        wanted = choice.get("name")
        for tool in named:
            if tool["name"] == wanted:
                return str(wanted), tool.get("input_schema")
        raise RequestError(f"tool_choice names an unknown tool: {wanted!r}", "tool_choice")
    if not named:
        return None
    return named[0]["name"], named[0].get("input_schema")


def _max_tokens(body: dict[str, Any], *names: str) -> int | None:
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise RequestError(f"{name} must be a positive integer", name)
        return value
    return None


def _common(body: Any) -> tuple[str, list[Any]]:
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("model is required", "model")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise RequestError("messages must be a list", "messages")
    return model, messages


# ---------------------------------------------------------------------------------------------
# Planning


def _choices(
    model: str,
    messages: list[Any],
    n: int,
    max_tokens: int | None,
    tool: tuple[str, Any] | None,
    tool_result: str | None,
    id_prefix: str,
) -> tuple[Choice, ...]:
    seed = zlib.crc32(f"{model}\x00{last_text(messages)}".encode())
    if model == "echo":
        return (_text_choice(last_user_text(messages), max_tokens),) * n
    if tool_result is not None:
        return (_text_choice(f"Tool result: {tool_result}", max_tokens),) * n
    if tool is not None:
        return tuple(_tool_call(tool[0], tool[1], f"{id_prefix}{seed:08x}{i:x}") for i in range(n))
    return tuple(_sentence_choice((seed + i) % _VARIANTS, max_tokens) for i in range(n))


def plan_chat(body: Any) -> Plan:
    """Plan the answer to an OpenAI `POST /v1/chat/completions` body."""
    model, messages = _common(body)
    n = body.get("n")
    if n is None:
        n = 1
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 128:
        raise RequestError("n must be an integer from 1 to 128", "n")
    max_tokens = _max_tokens(body, "max_completion_tokens", "max_tokens")
    tool_result = openai_tool_result(messages)
    tool = None if tool_result is not None else _openai_tool(body)
    choices = _choices(model, messages, n, max_tokens, tool, tool_result, "call_mock")
    response_format = body.get("response_format")
    if response_format is not None and model != "echo":
        choices = tuple(
            c if c.tool_call else _json_choice(c, response_format, max_tokens) for c in choices
        )
    stream = body.get("stream") is True
    options = body.get("stream_options")
    include_usage = stream and isinstance(options, dict) and options.get("include_usage") is True
    asked = body.get("service_tier")
    tier = _OPENAI_TIERS.get(asked) if isinstance(asked, str) else None
    prompt = tokens.count_messages(messages)
    return Plan(model, choices, prompt, stream, include_usage, tier=tier)


def plan_messages(body: Any) -> Plan:
    """Plan the answer to an Anthropic `POST /v1/messages` body."""
    model, messages = _common(body)
    refusal = claude_refusal(model, body)
    if refusal is not None:
        raise RequestError(refusal)
    max_tokens = _max_tokens(body, "max_tokens")
    tool_result = anthropic_tool_result(messages)
    tool = None if tool_result is not None else _anthropic_tool(body)
    choices = _choices(model, messages, 1, max_tokens, tool, tool_result, "toolu_mock")
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if isinstance(fmt, dict) and choices[0].tool_call is None and model != "echo":
        # Claude's JSON output format: the answer's text is a document of its schema.
        asked = {"type": fmt.get("type"), "json_schema": {"schema": fmt.get("schema")}}
        choices = (_json_choice(choices[0], asked, max_tokens),)
    prompt = tokens.count_messages(messages, body.get("system"))
    searched = choices[0].tool_call is None and offers_search(body.get("tools"))
    query = last_user_text(messages) if searched else None
    paused = paused_search(query, messages) if query is not None else None
    tier = "fast" if body.get("speed") == "fast" else None
    thought = answer_thinking(model, body) if query is None else None
    stream = body.get("stream") is True
    return Plan(model, choices, prompt, stream, False, query, paused, tier, thought)


def count_message_tokens(body: Any) -> int:
    """Anthropic `POST /v1/messages/count_tokens`."""
    _, messages = _common(body)
    return tokens.count_messages(messages, body.get("system"))
