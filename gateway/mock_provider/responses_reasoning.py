"""The mock's reasoning models on its Responses API, as OpenAI's answer them: a request that asks
for the encrypted reasoning (`include: ["reasoning.encrypted_content"]`) of a model that reasons
(the `gpt-5`, `gpt-6`, `o1`, `o3` and `o4` names and the codex models) gets a `reasoning` item
first, with its `encrypted_content` (and a summary when `reasoning.summary` asks for one); another
model asked for it answers 400 "Encrypted content is not supported with this model."; a reasoning
model asked on chat completions for fewer than `THINKING_ROOM` tokens answers OpenAI's 400 "Could
not finish the message because max_tokens or model output limit was reached", a Responses
`max_output_tokens` below 16 its 400 "integer below minimum value"; gpt-5.6 asked on chat
completions with function tools and a reasoning effort answers OpenAI's 400 "Function tools with
reasoning_effort are not supported ... Please use /v1/responses instead." (the gpt-6 models: "... To
use function tools, use /v1/responses or set reasoning_effort to 'none'.");
an input `reasoning` item whose `encrypted_content` this mock did not make answers 400 as
OpenAI does for another organisation's or a changed one ("The encrypted content for item ...
could not be verified."). `POST /v1/responses/compact` answers as OpenAI's compaction does:
the input's user messages, then one `compaction` item, whose encrypted state a later request
may hold in its input (taken when the mock made it, refused as OpenAI refuses another's); a
`/v1/responses` input ending with `compaction_trigger` answers that one item alone."""

from __future__ import annotations

import base64
import binascii
import zlib

from gateway import tokens
from gateway.json_types import JSON
from gateway.mock_provider.behaviour import RequestError
from gateway.providers.responses.objects import responses_usage, user_message_item
from gateway.providers.responses.responses_only import responses_only_model

_REASONING_PREFIXES = ("gpt-5", "gpt-6", "o1", "o3", "o4")
_SAMPLING = ("temperature", "top_p")
_MADE_HERE = b"mock-reasoning:"
_COMPACTED = b"mock-compaction:"
ENCRYPTED_INCLUDE = "reasoning.encrypted_content"
SUMMARY = "The user asked a question; I worked out the answer."


def reasons(model: str) -> bool:
    """Whether the mock treats `model` as a reasoning model."""
    return model.startswith(_REASONING_PREFIXES) or "codex" in model


def check_reasoning(body: JSON, model: str) -> None:
    """Raise the 400 OpenAI answers for what `body` asks of reasoning, if any: a sampling
    setting for a model served by the Responses API only (the codex and pro models, which
    always reason), encrypted reasoning asked of a model without it, or sent back from
    elsewhere."""
    if responses_only_model(model):
        for name in _SAMPLING:
            if body.get(name) is not None:
                raise RequestError(
                    f"Unsupported parameter: '{name}' is not supported with this model.",
                    name,
                    "unsupported_parameter",
                )
    include = body.get("include")
    if isinstance(include, list) and ENCRYPTED_INCLUDE in include and not reasons(model):
        raise RequestError("Encrypted content is not supported with this model.", "include")
    items = body.get("input")
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict) or item.get("type") != "reasoning":
            continue
        encrypted = item.get("encrypted_content")
        if encrypted is not None and not _made_here(encrypted):
            raise RequestError(
                f"The encrypted content for item {item.get('id') or 'rs_?'} could not be "
                "verified. Reason: Encrypted content could not be decrypted or parsed."
            )


# Below this many completion tokens the mock's reasoning models have no room to think and
# answer on chat completions, and refuse as OpenAI's do.
THINKING_ROOM = 16
OUT_OF_TOKENS = (
    "Could not finish the message because max_tokens or model output limit was reached. "
    "Please try again with higher max_tokens."
)


MAX_TOKENS_REFUSED = (
    "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
    "'max_completion_tokens' instead."
)


def check_token_limit_field(body: object) -> None:
    """Raise OpenAI's 400 for a chat request to a reasoning model that names `max_tokens`,
    which those models refuse for `max_completion_tokens`."""
    if isinstance(body, dict) and "max_tokens" in body and reasons(str(body.get("model") or "")):
        raise RequestError(MAX_TOKENS_REFUSED, "max_tokens", "unsupported_parameter")


def check_thinking_room(body: object) -> None:
    """Raise OpenAI's 400 for a chat request to a reasoning model whose limit leaves it no room
    to think and answer (Claude Code checks a model with `max_tokens: 1`)."""
    if not isinstance(body, dict) or not reasons(str(body.get("model") or "")):
        return
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if isinstance(limit, int) and not isinstance(limit, bool) and limit < THINKING_ROOM:
        raise RequestError(OUT_OF_TOKENS)


# The models that take function tools with reasoning on the Responses API only.
TOOLS_WITH_REASONING_THERE_ONLY = ("gpt-5.6", "gpt-6")


def check_tools_with_reasoning(body: object) -> None:
    """Raise OpenAI's 400 for a chat request to a model that takes function tools with
    reasoning on the Responses API only (gpt-5.6), when it offers tools and asks for
    reasoning."""
    if not isinstance(body, dict) or not body.get("tools"):
        return
    model = str(body.get("model") or "")
    effort = body.get("reasoning_effort")
    if model.startswith(TOOLS_WITH_REASONING_THERE_ONLY) and effort not in (None, "none"):
        advice = (
            "To use function tools, use /v1/responses or set reasoning_effort to 'none'."
            if model.startswith("gpt-6")
            else "Please use /v1/responses instead."
        )
        raise RequestError(
            f"Function tools with reasoning_effort are not supported for {model} in "
            f"/v1/chat/completions. {advice}",
            "reasoning_effort",
        )


def check_output_limit(body: JSON) -> None:
    """Raise OpenAI's 400 for a Responses `max_output_tokens` below its least, 16."""
    limit = body.get("max_output_tokens")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit < 16:
        raise RequestError(
            "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, "
            f"but got {limit} instead.",
            "max_output_tokens",
            "integer_below_min_value",
        )


def _made_here(encrypted: object, mark: bytes = _MADE_HERE) -> bool:
    if not isinstance(encrypted, str):
        return False
    try:
        return base64.b64decode(encrypted, validate=True).startswith(mark)
    except (binascii.Error, ValueError):
        return False


def without_compactions(body: JSON) -> JSON:
    """`body` without the `compaction` items of its input (the conversation they stand for, as
    the model reads them); one the mock did not make is refused as OpenAI refuses it."""
    items = body.get("input")
    if not isinstance(items, list):
        return body
    kept = []
    for item in items:
        if isinstance(item, dict) and item.get("type") == "compaction":
            if not _made_here(item.get("encrypted_content"), _COMPACTED):
                raise RequestError(
                    f"The encrypted content for item {item.get('id') or 'cmp_?'} could not be "
                    "verified. Reason: Encrypted content could not be decrypted or parsed."
                )
            continue
        kept.append(item)
    return {**body, "input": kept}


def compacted_response(body: object) -> JSON:
    """The answer to `POST /v1/responses/compact`: the user messages of `body`'s input, then
    one `compaction` item standing for the conversation."""
    if not isinstance(body, dict) or not isinstance(body.get("model"), str) or not body["model"]:
        raise RequestError("model is required", "model")
    items = body.get("input")
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    if not isinstance(items, list):
        raise RequestError("input is required", "input")
    users = [
        user_message_item(item.get("content"))
        for item in items
        if isinstance(item, dict)
        and item.get("type", "message") == "message"
        and item.get("role") == "user"
    ]
    return {
        "id": f"resp_mockcompact{zlib.crc32(repr(items).encode()):08x}",
        "object": "response.compaction",
        "created_at": 1_700_000_000,
        "output": [*users, compaction_output(items)],
        "usage": responses_usage(tokens.count_text(repr(items)), 16),
    }


def compaction_output(items: object) -> JSON:
    """The `compaction` item standing for the conversation `items` (of `/responses/compact`,
    or of a `/responses` input ending with `compaction_trigger`)."""
    seed = zlib.crc32(repr(items).encode())
    return {
        "id": f"cmp_mock{seed:08x}",
        "type": "compaction",
        "encrypted_content": base64.b64encode(_COMPACTED + f"{seed:08x}".encode()).decode(),
    }


def reasoning_item(body: JSON, model: str) -> JSON | None:
    """The reasoning item answering `body`, when it asked for the encrypted reasoning of a
    model that reasons."""
    include = body.get("include")
    if not reasons(model) or not isinstance(include, list) or ENCRYPTED_INCLUDE not in include:
        return None
    seed = zlib.crc32(repr(body.get("input")).encode())
    reasoning = body.get("reasoning")
    summarized = isinstance(reasoning, dict) and reasoning.get("summary") is not None
    return {
        "id": f"rs_mock{seed:08x}",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": SUMMARY}] if summarized else [],
        "encrypted_content": base64.b64encode(_MADE_HERE + f"{seed:08x}".encode()).decode(),
    }
