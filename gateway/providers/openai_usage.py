"""The gateway's `Usage` read from an OpenAI `usage` object (chat, completions, embeddings)."""

from __future__ import annotations

from gateway.providers.base import Usage, token_count


def usage_from_openai(usage: object) -> Usage | None:
    """The counts of an OpenAI `usage` object; None when it counts nothing (absent, not an
    object, or `{}` as some compatible servers send), so the gateway's estimate stands in."""
    if not isinstance(usage, dict) or not usage:
        return None
    prompt_details = usage.get("prompt_tokens_details")
    completion_details = usage.get("completion_tokens_details")
    return Usage(
        prompt_tokens=token_count(usage.get("prompt_tokens"), "prompt_tokens"),
        completion_tokens=token_count(usage.get("completion_tokens"), "completion_tokens"),
        cached_tokens=token_count(prompt_details.get("cached_tokens"), "cached_tokens")
        if isinstance(prompt_details, dict)
        else 0,
        reasoning_tokens=token_count(completion_details.get("reasoning_tokens"), "reasoning_tokens")
        if isinstance(completion_details, dict)
        else 0,
        reported=True,
    )
