"""What the router's choices are computed from: a sticky key's point on the weights, the
backoff before going round the deployments again, whether the prompt needs counting, and the
completion size a request asks for."""

from __future__ import annotations

import hashlib

from gateway.config.types import ModelConfig
from gateway.routing.exchange import RouteRequest

DEFAULT_COMPLETION_TOKENS = 256


def sticky_point(model: str, subject: str) -> float:
    """A stable number in [0, 1) for (model, subject): the same key always lands on the same
    side."""
    digest = hashlib.sha256(f"{model}\x00{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def backoff_s(retry: int, base_s: float, max_s: float, jitter: float) -> float:
    """Exponential backoff for the `retry`-th repeat (0-based), with full jitter in [50%, 100%]."""
    return float(min(max_s, base_s * 2.0**retry) * (0.5 + 0.5 * jitter))


def needs_estimate(model: ModelConfig, body_bytes: int) -> bool:
    """Whether routing needs the prompt's token count.

    A token is at least one byte, so a body smaller than every context window fits without
    running the tokenizer.
    """
    if model.strategy in ("lowest_cost", "usage_based"):
        return True
    windows = [d.context_window for d in model.deployments if d.context_window is not None]
    return bool(windows) and body_bytes >= min(windows)


def max_tokens(request: RouteRequest) -> int:
    body = request.body
    value = (
        body.get("max_tokens") or body.get("max_completion_tokens") or body.get("max_output_tokens")
    )
    return value if isinstance(value, int) else DEFAULT_COMPLETION_TOKENS
