"""Advisory request fields a provider's server refused, left out of its requests from then on.

Clients send fields that only inform the provider: Codex 0.155 its `client_metadata` and
`access_programs`, the OpenAI Agents SDK and Codex a `prompt_cache_key`, apps a `user`,
`metadata`, `safety_identifier` or `service_tier`, Claude Code (2.1.258 and later) its
telemetry `diagnostics`. OpenAI takes them; a stricter server refuses the request for one:
Azure AI Foundry's "Unrecognized request argument supplied: prompt_cache_key", a Responses
proxy's "unknown parameter `access_programs`", a FastAPI server's "body.client_metadata: Extra
inputs are not permitted", Gemini's "Unknown name \"metadata\"", Anthropic's (without the beta
that admits it) and Anthropic-compatible servers' "diagnostics: Extra inputs are not
permitted" (a top-level field: a nested one, `messages.1.x`, is not read so). Every request
then failed, until an operator listed the field in the provider's `drop_params`. The router
asks again at once without the fields named, in the same attempt, and once a call without them
was answered, leaves them out of that provider's requests from then on (for the worker's life):
an error that only quotes what a client sent cannot take a field out of other clients'
requests, as the call without it is refused all the same.

Only `ADVISORY` fields are ever dropped so, and `DONE_HERE` ones, which the gateway does itself
(Claude Code's `context_management`, which Anthropic-compatible servers refuse: the edits are
applied to what is sent), and only when the body sent held them: a field that
changes the answer (a format, a tool choice, a reasoning effort) or what the provider keeps
(`store: false`) is never dropped behind the client's back; its refusal is the client's error,
as the upstream said it.
"""

from __future__ import annotations

import logging
import re

from gateway.errors import GatewayError

log = logging.getLogger("gateway.routing")

ADVISORY = frozenset(
    {
        "access_programs",
        "client_metadata",
        "diagnostics",
        "metadata",
        "prompt_cache_key",
        "prompt_cache_retention",
        "safety_identifier",
        "service_tier",
        "user",
    }
)
# Fields the gateway does itself for a server that refuses them, left out then as the advisory
# ones are: Claude's context editing (`anthropic.context_edits`, applied to what is sent where
# the field is dropped).
DONE_HERE = frozenset({"context_management"})
_LEARNED = ADVISORY | DONE_HERE
_REFUSED = re.compile(
    r"(?:Unrecognized request argument supplied|[Uu]nknown parameter|Unknown name)"
    r"[:\s]+[`'\"]?([A-Za-z_]\w*)"
    r"|(?:^|body\.)([A-Za-z_]\w*): Extra inputs are not permitted"
)


class LearnedDrops:
    """The advisory fields each provider refused (see the module)."""

    def __init__(self) -> None:
        self._dropped: dict[str, tuple[str, ...]] = {}

    def dropped(self, provider: str) -> tuple[str, ...]:
        """The fields left out of `provider`'s requests (besides its `drop_params`)."""
        return self._dropped.get(provider, ())

    def commit(self, provider: str, names: tuple[str, ...]) -> None:
        """Remember that `provider` refuses `names` (a call without them was answered)."""
        known = self._dropped.get(provider, ())
        new = tuple(name for name in names if name not in known)
        if new:
            self._dropped[provider] = (*known, *new)
            log.info(
                "provider %s refuses %s: left out of its requests from now on",
                provider,
                ", ".join(new),
            )


def refused_fields(sent: bytes, error: GatewayError) -> tuple[str, ...]:
    """The advisory fields the body `sent` held that `error` (the upstream's answer) says the
    server refuses."""
    named = [
        name
        for found in _REFUSED.finditer(error.message)
        if (name := found.group(1) or found.group(2)) in _LEARNED
        and b'"' + name.encode() + b'":' in sent
    ]
    return tuple(dict.fromkeys(named))
