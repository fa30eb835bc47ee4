"""Gemini's thought signatures on the tool calls sent back, for the providers that want them (a
provider's `thought_signatures`; by default Gemini's OpenAI-compatible API).

Gemini 3 models refuse a conversation whose assistant tool calls come back without the
signature the model gave them: 400 `[{"error": {"message": "Function call is missing a
thought_signature in functionCall parts. ...", "status": "INVALID_ARGUMENT"}}]`. Through the
OpenAI-compatible API the signature comes on a tool call as `extra_content.google
.thought_signature`; an OpenAI client that sends the message back as it came (the openai SDK's
`model_dump()`) sends it too, and the gateway passes it both ways unchanged. Clients that write
their history themselves, the translations (an Anthropic or a Responses client: neither format
has a place for it), and a conversation begun on another model have none. To a provider that
wants them, an assistant message whose tool calls carry no signature gets, on its first call
(the one Gemini checks), the value Google documents for calls the model did not make
(`SKIP_VALIDATOR`), which the model takes; a signature the client kept goes as it is.

Other upstreams are sent no such field (OpenAI refuses a property it does not know).
"""

from __future__ import annotations

from gateway.config.provider_types import ProviderConfig
from gateway.json_types import JSON
from gateway.providers.base import base_url_host

GEMINI_HOST = "generativelanguage.googleapis.com"
SKIP_VALIDATOR = "skip_thought_signature_validator"


def wants_thought_signatures(provider: ProviderConfig) -> bool:
    """Whether `provider`'s tool calls carry a thought signature back (its setting; unset:
    whether it is Gemini's API)."""
    if provider.thought_signatures is not None:
        return provider.thought_signatures
    return provider.type == "openai" and base_url_host(provider.base_url) == GEMINI_HOST


def with_thought_signatures(upstream: JSON) -> None:
    """Give the first tool call of every assistant message of the chat body `upstream` whose
    calls carry no signature the one that skips the check (the list and the messages are
    replaced, not changed: the client's body holds them too)."""
    messages = upstream.get("messages")
    if type(messages) is not list or not any(_unsigned(message) for message in messages):
        return
    upstream["messages"] = [_signed(m) if _unsigned(m) else m for m in messages]


def _unsigned(message: object) -> bool:
    if type(message) is not dict or message.get("role") != "assistant":
        return False
    calls = message.get("tool_calls")
    return (
        type(calls) is list
        and bool(calls)
        and type(calls[0]) is dict
        and not any(_signature(call) for call in calls)
    )


def _signature(call: object) -> object:
    extra = call.get("extra_content") if type(call) is dict else None
    google = extra.get("google") if type(extra) is dict else None
    return google.get("thought_signature") if type(google) is dict else None


def _signed(message: JSON) -> JSON:
    first, *rest = message["tool_calls"]
    extra = first.get("extra_content")
    extra = dict(extra) if type(extra) is dict else {}
    google = extra.get("google")
    extra["google"] = {
        **(google if type(google) is dict else {}),
        "thought_signature": SKIP_VALIDATOR,
    }
    return {**message, "tool_calls": [{**first, "extra_content": extra}, *rest]}
