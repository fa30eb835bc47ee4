"""Request-body checks per endpoint: the fields we rely on, with the wire APIs' own rules.

Each validator takes the parsed body and raises InvalidRequest naming the offending `param`;
fields we do not rely on pass through untouched for the upstream to judge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.errors import InvalidRequest

Validator = Callable[[dict[str, Any]], None]

# Deepest nesting of arrays and objects a body may have. orjson writes at most 255 levels; the
# gateway wraps a body in a few more (a record's `request`, a translated tool schema), so the
# limit leaves room for them, and is far above any real request (OpenAI's strict schemas allow
# 10 levels).
MAX_JSON_DEPTH = 128
# Token counts are 32-bit integers in the OpenAI API (and vLLM's): 400 above, never a 429.
MAX_TOKENS_LIMIT = 2**31 - 1


def _require_model(body: dict[str, Any]) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest(
            "you must provide a model parameter (a non-empty string)", param="model"
        )


def _optional(body: dict[str, Any], name: str, types: type | tuple[type, ...], what: str) -> None:
    if name in body and body[name] is not None:
        value = body[name]
        if not isinstance(value, types) or (
            isinstance(value, bool) and bool not in _as_tuple(types)
        ):
            raise InvalidRequest(f"'{name}' must be {what}", param=name)


def _token_count(body: dict[str, Any], name: str) -> None:
    value = body.get(name)
    if value is None:  # absent or null: nothing to check (most requests)
        return
    _optional(body, name, int, "an integer")
    if isinstance(value, int) and not 1 <= value <= MAX_TOKENS_LIMIT:
        raise InvalidRequest(
            f"'{name}' must be between 1 and {MAX_TOKENS_LIMIT}, got {value}", param=name
        )


def too_deep() -> InvalidRequest:
    """The 400 of a body nested past MAX_JSON_DEPTH (also when the parser stopped first)."""
    return InvalidRequest(
        f"request body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep "
        f"(the limit is {MAX_JSON_DEPTH})",
        code="json_too_deep",
    )


def check_depth(body: Any, raw: bytes | None = None) -> None:
    """400 when `body` nests arrays and objects deeper than MAX_JSON_DEPTH. With `raw`, the
    bytes `body` was parsed from, a small body with fewer brackets than the limit is not walked:
    each array or object opens with one, so its depth cannot exceed their count. (A large body
    is walked: the walk costs per array and object, counting costs per byte.)"""
    if (
        raw is not None
        and len(raw) <= _COUNT_BRACKETS_BELOW
        and raw.count(b"{") + raw.count(b"[") <= MAX_JSON_DEPTH
    ):
        return
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise too_deep()
        children = node.values() if isinstance(node, dict) else node
        kinds = set(map(type, children))  # in C: a long array of numbers costs ~10 ns each
        if dict in kinds or list in kinds:
            stack.extend((child, depth + 1) for child in children if type(child) in _NESTED)


_NESTED = (dict, list)
_COUNT_BRACKETS_BELOW = 16384


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _require_messages(body: dict[str, Any]) -> list[Any]:
    messages = body.get("messages")
    if messages is None:
        raise InvalidRequest("missing required parameter: 'messages'", param="messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidRequest(
                f"messages[{index}] must be an object with a string 'role'",
                param=f"messages[{index}]",
            )
        content = message.get("content")
        if content is not None and type(content) is not str:
            _require_objects(content, f"messages[{index}].content", "a string or an array")
        if "tool_calls" in message and message["tool_calls"] is not None:
            _require_objects(message["tool_calls"], f"messages[{index}].tool_calls", "an array")
    return messages


def _require_objects(value: object, param: str, what: str) -> None:
    """`value` is an array of objects (content parts, tool calls, tools): the translators between
    the OpenAI and Anthropic shapes read each entry as one."""
    if not isinstance(value, list):
        raise InvalidRequest(f"'{param}' must be {what} of objects", param=param)
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise InvalidRequest(f"'{param}[{index}]' must be an object", param=f"{param}[{index}]")


def _tools(body: dict[str, Any]) -> None:
    if body.get("tools") is not None:
        _require_objects(body["tools"], "tools", "an array")


def validate_chat(body: dict[str, Any]) -> None:
    _require_model(body)
    _require_messages(body)
    _optional(body, "stream", bool, "a boolean")
    _optional(body, "n", int, "an integer")
    if isinstance(body.get("n"), int) and not 1 <= body["n"] <= 128:
        raise InvalidRequest("'n' must be between 1 and 128", param="n")
    _token_count(body, "max_tokens")
    _token_count(body, "max_completion_tokens")
    _optional(body, "temperature", (int, float), "a number")
    _tools(body)
    _optional(body, "stream_options", dict, "an object")
    _optional(body, "response_format", dict, "an object")
    if body.get("stream_options") is not None and not body.get("stream"):
        raise InvalidRequest(
            "'stream_options' is only allowed when 'stream' is true", param="stream_options"
        )


def validate_messages(body: dict[str, Any]) -> None:
    _require_model(body)
    _require_messages(body)
    if "max_tokens" not in body:
        raise InvalidRequest("max_tokens: field required", param="max_tokens")
    _token_count(body, "max_tokens")
    _optional(body, "stream", bool, "a boolean")
    _optional(body, "system", (str, list), "a string or an array of text blocks")
    _tools(body)


def validate_completions(body: dict[str, Any]) -> None:
    """Legacy text completions: `prompt` is a string, strings, or token arrays."""
    _require_model(body)
    prompt = body.get("prompt")
    if prompt is None:
        raise InvalidRequest("missing required parameter: 'prompt'", param="prompt")
    if not isinstance(prompt, (str, list)):
        raise InvalidRequest("'prompt' must be a string or an array", param="prompt")
    _optional(body, "stream", bool, "a boolean")
    _optional(body, "n", int, "an integer")
    _optional(body, "max_tokens", int, "an integer")
    _optional(body, "stream_options", dict, "an object")
    if body.get("stream_options") is not None and not body.get("stream"):
        raise InvalidRequest(
            "'stream_options' is only allowed when 'stream' is true", param="stream_options"
        )


def validate_count_tokens(body: dict[str, Any]) -> None:
    """`/v1/messages/count_tokens`: a Messages body without `max_tokens`."""
    _require_model(body)
    _require_messages(body)
    _optional(body, "system", (str, list), "a string or an array of text blocks")
    _tools(body)


# OpenAI's limit on the inputs of one embeddings request.
MAX_EMBEDDING_INPUTS = 2048


def validate_embeddings(body: dict[str, Any]) -> None:
    """OpenAI's rules for `input`: a non-empty string, or 1 to 2,048 non-empty strings, or a
    token array, or 1 to 2,048 non-empty token arrays. OpenAI answers anything else 400
    (`'$.input' is invalid`); so does the gateway, naming what is wrong, before a compatible
    server embeds an empty text or the guardrails and the estimate misread a mixed list."""
    _require_model(body)
    value = body.get("input")
    if value is None:
        raise InvalidRequest("missing required parameter: 'input'", param="input")
    if type(value) is str:
        if not value:
            raise _bad_input("an empty string cannot be embedded")
        return
    if not isinstance(value, list) or not value:
        raise _bad_input("it must be a non-empty string or a non-empty array")
    first = type(value[0])
    if first is int:  # one input as token ids, as long as the model takes (not 2,048 inputs)
        if set(map(type, value)) != _INT:
            raise _bad_input("an array of token ids must hold integers only")
        return
    if len(value) > MAX_EMBEDDING_INPUTS:
        raise _bad_input(f"{len(value)} inputs, and an array takes at most {MAX_EMBEDDING_INPUTS}")
    if first is str:
        for index, item in enumerate(value):
            if type(item) is not str or not item:
                raise _bad_input(f"input[{index}] must be a non-empty string, as input[0] is")
    elif first is list:
        # Each array's shape; its ids are the upstream's to judge (a batch holds 10^5 of them,
        # and a Python loop over each would cost the event loop milliseconds).
        for index, item in enumerate(value):
            if type(item) is not list or not item or type(item[0]) is not int:
                raise _bad_input(f"input[{index}] must be a non-empty array of token ids")
    else:
        raise _bad_input(
            "it must be a string, an array of strings, an array of token ids, "
            "or an array of token-id arrays"
        )


_INT = {int}


def _bad_input(message: str) -> InvalidRequest:
    return InvalidRequest(f"'$.input' is invalid: {message}", param="input")


def validate_responses(body: dict[str, Any]) -> None:
    _require_model(body)
    value = body.get("input")
    if value is None:
        raise InvalidRequest("missing required parameter: 'input'", param="input")
    if not isinstance(value, (str, list)):
        raise InvalidRequest("'input' must be a string or an array of items", param="input")
    for index, item in enumerate(value if isinstance(value, list) else ()):
        if not isinstance(item, dict):
            raise InvalidRequest(f"input[{index}] must be an object", param=f"input[{index}]")
    _optional(body, "instructions", str, "a string")
    _optional(body, "stream", bool, "a boolean")
    _optional(body, "store", bool, "a boolean")
    _optional(body, "max_output_tokens", int, "an integer")
    _optional(body, "temperature", (int, float), "a number")
    _tools(body)
    _optional(body, "text", dict, "an object")
    _optional(body, "reasoning", dict, "an object")
    _optional(body, "metadata", dict, "an object")
    _optional(body, "previous_response_id", str, "a string")
