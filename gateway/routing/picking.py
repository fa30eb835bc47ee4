"""What the router's choices are computed from: the deployments a prompt fits, a sticky key's
point on the weights, the backoff before going round the deployments again, whether the prompt
needs counting, the completion size a request asks for, and how long a half-open probe holds
its slot."""

from __future__ import annotations

import hashlib

from gateway.config.types import DeploymentConfig, ModelConfig
from gateway.errors import ContextLengthExceeded
from gateway.routing.attempt_failure import AttemptFailed
from gateway.routing.exchange import RouteRequest

DEFAULT_COMPLETION_TOKENS = 256
# Time for a probe's outcome to reach the state once its call is over (one state round trip).
PROBE_REPORT_S = 1.0


def sticky_point(model: str, subject: str) -> float:
    """A stable number in [0, 1) for (model, subject): the same key always lands on the same
    side."""
    digest = hashlib.sha256(f"{model}\x00{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def fitting_deployments(
    model: ModelConfig, prompt_tokens: int | None, only: str | None = None
) -> list[DeploymentConfig]:
    """The deployments a request may try: `only` (a pinned one), else those with a weight whose
    context window the prompt fits (`prompt_tokens`: None when not counted). None fits: the
    failure that sends the request to `context_window_fallbacks`."""
    if only is not None:
        return [d for d in model.deployments if d.name == only]
    fitting = [d for d in model.deployments if d.weight > 0]
    if prompt_tokens is None:
        return fitting
    fitting = [d for d in fitting if d.context_window is None or prompt_tokens <= d.context_window]
    if not fitting:
        window = max((d.context_window or 0 for d in model.deployments if d.weight > 0), default=0)
        raise AttemptFailed(
            ContextLengthExceeded(prompt_tokens, window, model.name),
            retryable=False,
            context_window=True,
        )
    return fitting


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


def probe_hold_s(
    deployment: DeploymentConfig, stream: bool, remaining_s: float, probe_timeout_s: float
) -> float:
    """How long a half-open deployment's single probe slot is held: as long as the probe may
    legitimately run before its outcome is known (a stream's first byte closes the breaker, a
    JSON answer's end does), within the request's `remaining_s`, and at least
    `probe_timeout_s`. A shorter hold would send a second probe to a deployment known to be
    bad while the first still waits for its first token."""
    limits = deployment.timeouts
    running = limits.total_s
    if stream:
        running = min(running, limits.connect_s + limits.first_token_s)
    return max(probe_timeout_s, min(running, remaining_s) + PROBE_REPORT_S)
