"""The reasons the APIs end their answers with (OpenAI's `finish_reason`, Anthropic's
`stop_reason`, a Responses `status`): the record keeps them unscrubbed, and they are the
bounded label values of `gateway_finish_reasons_total` (any other reason counts as `other`)."""

from __future__ import annotations

USUAL_REASONS = frozenset(
    (
        "stop",
        "length",
        "tool_calls",
        "content_filter",
        "function_call",
        "end_turn",
        "max_tokens",
        "stop_sequence",
        "tool_use",
        "pause_turn",
        "refusal",
        "model_context_window_exceeded",
        "completed",
        "incomplete",
        "failed",
        "cancelled",
        "in_progress",
    )
)
OTHER = "other"


def finish_label(reason: object) -> str | None:
    """The label of a record's `finish_reason`: itself when usual, `other` for any other text,
    None when there is none (nothing is counted)."""
    if not isinstance(reason, str) or not reason:
        return None
    return reason if reason in USUAL_REASONS else OTHER
