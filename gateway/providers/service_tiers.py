"""The processing tier that served an answer, as its upstream reports it, for its price
(`TierCosts`) and its record.

OpenAI says it in the answer's `service_tier` (chat completions and the Responses API, JSON and
every stream chunk or final response): `priority` for Fast mode (asked as `fast` or
`priority`; Codex's `/fast`), `flex`, `ultrafast`, `scale`, and `default` for the standard one
(or `auto` from compatible servers). Claude says it in its usage's `speed`: `fast` for its fast
mode. The standard tier is None: nothing to record, priced as the deployment says. A request
asks for one the same way (`asked_tier`: its budget reserves at that tier's price).
"""

from __future__ import annotations

from dataclasses import replace

from gateway.providers.base import Usage

_STANDARD = frozenset(("default", "auto", "standard"))
# The tiers recorded by name; any other text an upstream puts there is `other` (never recorded
# as it is: it is an upstream's text).
_KNOWN = frozenset(("priority", "flex", "ultrafast", "scale", "batch"))


def served_tier(value: object) -> str | None:
    """The tier an OpenAI answer's `service_tier` names, or None for the standard one."""
    if not isinstance(value, str) or not value or value in _STANDARD:
        return None
    if value == "fast":  # (OpenAI answers `priority` for it; a compatible server may not)
        return "priority"
    return value if value in _KNOWN else "other"


def with_tier(usage: Usage, answer: object) -> Usage:
    """`usage` with the tier the OpenAI `answer` (a chat completion, a chunk, a response) says
    served it; `usage` itself when it names the standard one."""
    tier = served_tier(answer.get("service_tier")) if isinstance(answer, dict) else None
    return usage if tier is None else replace(usage, service_tier=tier)


def asked_tier(body: dict[str, object]) -> str | None:
    """The tier a request asks for, as its answer would name it: OpenAI's `service_tier` (as
    `served_tier` reads it), Claude's `speed: "fast"` as `fast`; None for the standard one."""
    tier = served_tier(body.get("service_tier"))
    return tier or ("fast" if body.get("speed") == "fast" else None)
