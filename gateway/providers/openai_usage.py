"""The gateway's `Usage` read from an OpenAI `usage` object (chat, completions, embeddings)."""

from __future__ import annotations

from gateway.providers.base import Usage, token_count


def usage_from_openai(usage: object) -> Usage | None:
    """The counts of an OpenAI `usage` object; None when it counts nothing (absent, not an
    object, or `{}` as some compatible servers send), so the gateway's estimate stands in. The
    details priced apart (cached and audio prompt tokens, audio completion tokens) and the
    reasoning tokens are read from `prompt_tokens_details` and `completion_tokens_details`."""
    if not isinstance(usage, dict) or not usage:
        return None
    counted = Usage(
        prompt_tokens=token_count(usage.get("prompt_tokens"), "prompt_tokens"),
        completion_tokens=token_count(usage.get("completion_tokens"), "completion_tokens"),
        reported=True,
    )
    # Read only when not 0, as OpenAI sends most of them: an answer's usage is read on every
    # request, and most details count nothing.
    prompt_details = usage.get("prompt_tokens_details")
    if isinstance(prompt_details, dict):
        count = prompt_details.get("cached_tokens")
        if count is not None and count != 0:
            counted.cached_tokens = token_count(count, "cached_tokens")
        count = prompt_details.get("audio_tokens")
        if count is not None and count != 0:
            counted.audio_prompt_tokens = token_count(count, "audio_tokens")
    completion_details = usage.get("completion_tokens_details")
    if isinstance(completion_details, dict):
        count = completion_details.get("reasoning_tokens")
        if count is not None and count != 0:
            counted.reasoning_tokens = token_count(count, "reasoning_tokens")
        count = completion_details.get("audio_tokens")
        if count is not None and count != 0:
            counted.audio_completion_tokens = token_count(count, "audio_tokens")
    return counted
