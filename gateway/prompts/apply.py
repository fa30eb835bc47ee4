"""Putting a rendered prompt version into a request body, and taking it out again for the log.

The prompt's messages go before the request's own: on `/v1/chat/completions` into `messages`,
on `/v1/responses` into `input`, on `/v1/messages` its system (and developer) messages into
`system` as leading text blocks and the others into `messages`. Its `params` are applied; a
request that sets one to another value gets a 400 unless the version lists it in
`allow_override`. The `prompt` field never reaches the upstream.

The record logs the client's part (`client_part`): the prompt is recorded by id, version, hash
and variables, so a replay can render another version in its place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from gateway.config.prompt_types import PromptVersion
from gateway.errors import InvalidRequest

_SYSTEM_ROLES = ("system", "developer")
# The endpoint kinds a prompt can be rendered into.
TAKES_PROMPTS = frozenset({"chat", "responses", "messages", "count_tokens"})


@dataclass(frozen=True, slots=True)
class PromptUse:
    """The prompt a request used, as its record shows it."""

    id: str
    version: int
    alias: str | None
    # The version's content hash; None when the request was refused before it was rendered.
    hash: str | None
    variables: Mapping[str, object]
    # Messages (or `input` items) put before the client's.
    prepended: int = 0
    # `/v1/messages`: system blocks put before the client's, and whether its system was a string.
    system_blocks: int = 0
    system_was_text: bool = False


def apply(
    body: dict[str, Any],
    kind: str,
    rendered: list[dict[str, str]],
    use: PromptUse,
    version: PromptVersion,
) -> tuple[dict[str, Any], PromptUse]:
    """A new body with the prompt in it (the given one is not changed), and the use updated
    with what was put where."""
    out = {k: v for k, v in body.items() if k != "prompt"}
    if kind != "count_tokens":  # a token count takes no sampling parameters
        _apply_params(out, version)
    if kind == "chat":
        out["messages"] = [*rendered, *_list(body.get("messages"))]
        return out, replace(use, prepended=len(rendered))
    if kind == "responses":
        own = body.get("input")
        items = [{"role": "user", "content": own}] if isinstance(own, str) else _list(own)
        out["input"] = [*rendered, *items]
        return out, replace(use, prepended=len(rendered))
    if kind == "messages" or kind == "count_tokens":  # a count sees what a message would send
        system = [
            {"type": "text", "text": m["content"]} for m in rendered if m["role"] in _SYSTEM_ROLES
        ]
        turns = [m for m in rendered if m["role"] not in _SYSTEM_ROLES]
        own_system = body.get("system")
        if system:
            if isinstance(own_system, str):
                out["system"] = [*system, {"type": "text", "text": own_system}]
            else:
                out["system"] = [*system, *_list(own_system)]
        out["messages"] = [*turns, *_list(body.get("messages"))]
        return out, replace(
            use,
            prepended=len(turns),
            system_blocks=len(system),
            system_was_text=isinstance(own_system, str),
        )
    raise InvalidRequest(
        f"prompts cannot be used on this endpoint ({kind})", param="prompt", code="invalid_prompt"
    )


def client_part(body: Mapping[str, Any], kind: str, use: PromptUse) -> dict[str, Any]:
    """`body` without what the prompt put in it (messages, items, system blocks)."""
    out = dict(body)
    field = "input" if kind == "responses" else "messages"
    value = body.get(field)
    if isinstance(value, list):
        out[field] = value[use.prepended :]
    system = body.get("system")
    if use.system_blocks and isinstance(system, list):
        rest = system[use.system_blocks :]
        if use.system_was_text and len(rest) == 1 and isinstance(rest[0], dict):
            out["system"] = rest[0].get("text", "")
        elif rest:
            out["system"] = rest
        else:
            out.pop("system", None)
    return out


def _apply_params(out: dict[str, Any], version: PromptVersion) -> None:
    for name, value in version.params.items():
        if name not in out:
            out[name] = value
        elif out[name] != value and name not in version.allow_override:
            raise InvalidRequest(
                f"the prompt sets '{name}' = {value!r}; this version does not allow the "
                "request to change it (allow_override)",
                param=name,
                code="prompt_param_locked",
            )


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []
