"""A failed upstream attempt (`AttemptFailed`: whether another try may help, and where), and how
an upstream's refusal is read: a content-policy refusal, a prompt too long for its context
window, a model the upstream does not have, a 503 that says it is busy."""

from __future__ import annotations

import re

from gateway.errors import GatewayError, UpstreamRejected

_CONTENT_POLICY_MARKERS = (
    "content_policy",
    "content_filter",
    "content management policy",
    "safety system",
)


class AttemptFailed(Exception):
    def __init__(
        self,
        error: GatewayError,
        *,
        retryable: bool,
        retry_after_s: float | None = None,
        content_policy: bool = False,
        context_window: bool = False,
        rate_limited: bool = False,
        elsewhere_only: bool = False,
        missing_model: bool = False,
        out_of_tokens: bool = False,
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.retryable = retryable
        # Another deployment may serve the request, this one will not.
        self.elsewhere_only = elsewhere_only
        # The upstream has no model of the deployment's name: benched, not a fault.
        self.missing_model = missing_model
        self.retry_after_s = retry_after_s
        # A 429 or 529: the deployment is benched for a while, not counted as a fault.
        self.rate_limited = rate_limited
        self.content_policy = content_policy
        self.context_window = context_window
        # A chat reasoning model spent the limit thinking: answered as cut short, not failed.
        self.out_of_tokens = out_of_tokens


def is_content_policy(error: GatewayError) -> bool:
    """Did the upstream refuse on content policy (OpenAI `content_policy_violation`, Azure
    filters)?"""
    if not isinstance(error, UpstreamRejected) or error.status != 400:
        return False
    text = error.message.lower()
    body = error.upstream_body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        detail = body["error"]
        text += f" {detail.get('code', '')} {detail.get('type', '')}".lower()
    return any(marker in text for marker in _CONTENT_POLICY_MARKERS)


def is_context_overflow(error: GatewayError) -> bool:
    """Did the upstream refuse the prompt as too long for its context window (OpenAI's and
    Azure's `context_length_exceeded`; Anthropic's, vLLM's, llama.cpp's and TGI's, which
    `gateway.providers.upstream_errors` names so; the "maximum context length" wording)?"""
    if not isinstance(error, UpstreamRejected) or error.status not in (400, 413, 422):
        return False
    return error.code == "context_length_exceeded" or "maximum context length" in (
        error.message.lower()
    )


# How servers say they have no model of the name a deployment sends: OpenAI's and Azure's
# codes, vLLM's "The model `x` does not exist.", Ollama's `model "x" not found, try pulling it
# first`, Anthropic's `not_found_error` "model: x".
_MISSING_MODEL_CODES = ("model_not_found", "DeploymentNotFound")
_MISSING_MODEL_PATTERN = re.compile(r"\bmodel\b.*\b(?:does not exist|not found)", re.IGNORECASE)


def is_missing_model(error: GatewayError) -> bool:
    """Did the upstream answer 404 because it has no model of the deployment's name? That is
    the deployment's configuration (or a server that has not pulled the model yet), not the
    client's request: another deployment or a fallback may have it."""
    if not isinstance(error, UpstreamRejected) or error.upstream_status != 404:
        return False
    if error.code in _MISSING_MODEL_CODES:
        return True
    if error.code == "not_found_error" and error.message.startswith("model:"):
        return True
    return _MISSING_MODEL_PATTERN.search(error.message) is not None


# How servers say a 503 is load shedding, not a failure: Ollama's "server busy, please try
# again.  maximum pending requests exceeded" (its queue, OLLAMA_MAX_QUEUE, is full), llama.cpp
# server's "Loading model" (type `unavailable_error`, also its "no slot available" of older
# builds), Hugging Face's "currently loading", and "overloaded" (Google's OpenAI-compatible
# endpoint: "The model is overloaded. Please try again later.").
_BUSY_MARKERS = ("server busy", "overloaded", "loading model", "currently loading")
_BUSY_TYPES = ("unavailable_error", "overloaded", "overloaded_error")


def is_busy(error: GatewayError, wait_s: float | None) -> bool:
    """Does a 503 say the upstream is busy (shedding load, still loading its model) rather
    than broken? So it does when it carries a `Retry-After` (it says when to come back) or
    says so in its words; a bare 503 is a failure."""
    if wait_s is not None:
        return True
    if error.type in _BUSY_TYPES or error.code in _BUSY_TYPES:
        return True
    text = error.message.lower()
    return any(marker in text for marker in _BUSY_MARKERS)
