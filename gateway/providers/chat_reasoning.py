"""The reasoning a chat server puts beside its answer, read the same way by every translation
that carries it to another wire (a Responses `reasoning` item, an Anthropic `thinking` block)."""

from __future__ import annotations

import hashlib

from gateway.json_types import JSON

# `reasoning_content`: DeepSeek, vLLM before 0.10; `reasoning`: vLLM since, OpenRouter, Ollama.
REASONING_FIELDS = ("reasoning_content", "reasoning")


def reasoning_text(message: JSON) -> str | None:
    """The reasoning text of a chat message or chunk delta, None when it carries none."""
    for name in REASONING_FIELDS:
        value = message.get(name)
        if isinstance(value, str) and value:
            return value
    return None


# The reasoning an upstream keeps encrypted (a Responses API reasoning item's
# `encrypted_content`), on a chat message or delta as OpenRouter carries it: an entry of
# `reasoning_details`. A client that sends the message back as it came sends it back too, and
# the model goes on from its earlier thought. Only the upstream that made it can read it (a
# provider of another organisation, another model, answers 400 "The encrypted content ... could
# not be verified"): its `data` is sealed with the deployment it came from (`sealed`), and
# goes back to that deployment only (`unsealed`).
ENCRYPTED_TYPE = "reasoning.encrypted"
RESPONSES_FORMAT = "openai-responses-v1"
_SEAL = "~"
_ORIGIN_PREFIX = "gw1-"


def reasoning_origin(provider: str, model: str) -> str:
    """The name the encrypted reasoning of the deployment (`provider`, `model`) is sealed with."""
    digest = hashlib.sha256(f"{provider}/{model}".encode()).hexdigest()[:16]
    return f"{_ORIGIN_PREFIX}{digest}"


def sealed(origin: str, encrypted: str) -> str:
    return f"{origin}{_SEAL}{encrypted}"


def unsealed(origin: str, data: str) -> str | None:
    """The encrypted reasoning in `data` when `origin` sealed it, else None."""
    prefix = f"{origin}{_SEAL}"
    return data[len(prefix) :] if origin and data.startswith(prefix) else None


def encrypted_reasoning(message: JSON) -> list[str]:
    """The encrypted reasoning of a chat message or delta, in order (OpenAI's, from the
    Responses API: other formats are for other upstreams)."""
    details = message.get("reasoning_details")
    return [
        detail["data"]
        for detail in (details if isinstance(details, list) else ())
        if isinstance(detail, dict)
        and detail.get("type") == ENCRYPTED_TYPE
        and detail.get("format", RESPONSES_FORMAT) == RESPONSES_FORMAT
        and isinstance(detail.get("data"), str)
        and detail["data"]
    ]


def encrypted_details(data: list[str], first_index: int = 0) -> list[JSON]:
    """`reasoning_details` entries holding the encrypted reasoning `data`."""
    return [
        {"type": ENCRYPTED_TYPE, "data": value, "format": RESPONSES_FORMAT, "index": index}
        for index, value in enumerate(data, first_index)
    ]


def without_sealed_reasoning(upstream: JSON) -> None:
    """Take the reasoning the gateway sealed out of the chat body `upstream`, bound for
    a chat completions upstream (none can read it, and OpenAI refuses a message property it does
    not know: a client that sent an answer of a deployment served through the Responses API
    back to another deployment); the messages of the client's body are left as they were."""
    messages = upstream.get("messages")
    if type(messages) is not list:
        return
    cleaned: list[object] | None = None
    for index, message in enumerate(messages):
        if type(message) is not dict or "reasoning_details" not in message:
            continue
        details = message["reasoning_details"]
        kept = [d for d in details if not _sealed_here(d)] if type(details) is list else details
        if kept == details:
            continue
        if cleaned is None:
            cleaned = list(messages)
        rest = {k: v for k, v in message.items() if k != "reasoning_details"}
        cleaned[index] = {**rest, "reasoning_details": kept} if kept else rest
    if cleaned is not None:
        upstream["messages"] = cleaned


def _sealed_here(detail: object) -> bool:
    """Whether a `reasoning_details` entry holds what the gateway sealed: encrypted reasoning
    (its `data`), or a Claude thinking block's signature (`anthropic.carried_thinking`)."""
    if type(detail) is not dict:
        return False
    kind = detail.get("type")
    held = detail.get("data") if kind == ENCRYPTED_TYPE else detail.get("signature")
    return isinstance(held, str) and held.startswith(_ORIGIN_PREFIX) and _SEAL in held
