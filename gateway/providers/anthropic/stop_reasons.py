"""Why a message ended, in both formats: Anthropic's `stop_reason`, OpenAI's `finish_reason`.

Used by the response and the stream translators alike, so each mapping is written once.
"""

from __future__ import annotations

# Anthropic stop_reason -> OpenAI finish_reason.
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# OpenAI finish_reason -> Anthropic stop_reason.
_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def finish_reason(stop_reason: object) -> str:
    """The OpenAI `finish_reason` for an Anthropic `stop_reason` ("stop" when unknown)."""
    return _FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def stop_reason(finish: object, calls_tools: bool = False) -> str:
    """The Anthropic `stop_reason` for an OpenAI `finish_reason` ("end_turn" when unknown).

    `calls_tools`: the answer holds tool calls. It then stopped to use them ("tool_use"), even
    when its `finish_reason` says "stop": OpenAI says so when `tool_choice` names a function,
    and so do some compatible servers (vLLM's named function calling), while an Anthropic
    client's agent loop runs the tools only on "tool_use".
    """
    reason = _STOP_REASONS.get(finish, "end_turn") if isinstance(finish, str) else "end_turn"
    return "tool_use" if calls_tools and reason == "end_turn" else reason


def matched_stop_sequence(finish: object, matched: object) -> str | None:
    """The stop sequence an OpenAI-compatible answer stopped on, when the server says which.

    OpenAI does not; vLLM (and SGLang) put it in the choice's `stop_reason` (a string when a
    stop string matched, a token id or None otherwise) beside `finish_reason: "stop"`. An
    Anthropic client then gets `stop_reason: "stop_sequence"` and the sequence, as Anthropic
    itself answers.
    """
    if finish == "stop" and isinstance(matched, str) and matched:
        return matched
    return None
