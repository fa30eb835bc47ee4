"""A system turn's per-turn controls, for a model that does not take them.

Claude Fable 5.1, Opus 5.5, Sonnet 5.5 and Haiku 5.5 take two controls on a mid-conversation
system message (`role: "system"` in `messages`): `output_config` (the effort of the turn it
stands in, Claude Code's per-turn effort: `per-turn-control-2026-07-01`), and `clear_at:
"next_user_message"` (the message is shown for the user turn it follows, then no longer, though
the client keeps sending it). Claude Code sends them whatever model it talks to; a model before
them (Opus 4.8, Opus 5, Sonnet 5, Fable 5, which take system turns) answers "messages.N.
output_config: Extra inputs are not permitted", and an OpenAI-format upstream has neither. A
route or a fallback sending such a request there goes without them, as the model would have
read them: a `clear_at: "next_user_message"` message a later user message follows is left
out (it is no longer shown), the others lose the two keys, a message left with no content goes,
and, to a Claude model, the last per-turn effort becomes the request's effort (the effort of
the turn being answered; the model's level for it: `effort`).

The model is known by its name (`claude_versions`); a name that does not say is treated as a
model without them (Anthropic-compatible servers do not take them either).
"""

from __future__ import annotations

from gateway.json_types import JSON
from gateway.providers.anthropic.claude_versions import from_version_on

# Each family's first model that takes a system turn's per-turn controls.
_FIRST_TAKING = {
    "fable": (5, 1),
    "mythos": (5, 1),
    "opus": (5, 5),
    "sonnet": (5, 5),
    "haiku": (5, 5),
}
_CONTROLS = ("output_config", "clear_at")


def takes_turn_controls(model: str) -> bool:
    """Whether the Claude model `model` names takes `output_config` and `clear_at` on a
    system turn."""
    return from_version_on(model, _FIRST_TAKING)


def without_turn_controls(upstream: JSON, model: str) -> None:
    """`upstream`'s system turns without their per-turn controls, unless `model` takes them
    (see the module doc); the client's messages are not changed."""
    messages = upstream.get("messages")
    if type(messages) is not list or takes_turn_controls(model) or not _holds_controls(messages):
        return  # (the model first: a Claude Code session's messages are read only when needed)
    kept: list[object] = []
    effort: object = None
    for i, message in enumerate(messages):
        if not _controlled(message):
            kept.append(message)
            continue
        assert type(message) is dict
        config = message.get("output_config")
        if type(config) is dict and config.get("effort") is not None:
            effort = config["effort"]
        if message.get("clear_at") == "next_user_message" and _user_after(messages, i):
            continue  # no longer shown to the model
        plain = {k: v for k, v in message.items() if k not in _CONTROLS}
        if plain.get("content"):
            kept.append(plain)
    upstream["messages"] = kept
    if isinstance(effort, str):
        config = upstream.get("output_config")
        upstream["output_config"] = {**(config if type(config) is dict else {}), "effort": effort}


def _holds_controls(messages: list[object]) -> bool:
    return any(_controlled(message) for message in messages)


def _controlled(message: object) -> bool:
    return (
        type(message) is dict
        and message.get("role") == "system"
        and ("output_config" in message or "clear_at" in message)
    )


def _user_after(messages: list[object], index: int) -> bool:
    return any(type(m) is dict and m.get("role") == "user" for m in messages[index + 1 :])
