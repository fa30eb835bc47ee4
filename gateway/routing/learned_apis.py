"""Deployments on `api = "auto"` whose upstream said, in its own words, that it serves a chat
request through its Responses API only; the next such requests go there at once.

`auto` picks the Responses API for the models OpenAI serves there only, known by name (a codex
or pro model: `responses_only`). A name cannot tell the rest: an Azure deployment named freely
("coder-prod" serving gpt-5.1-codex), and the models that take function tools with reasoning
only there (gpt-5.6: "Function tools with reasoning_effort are not supported for gpt-5.6-sol in
/v1/chat/completions. Please use /v1/responses instead."; the gpt-6 models: "... for gpt-6-sol
in /v1/chat/completions. To use function tools, use /v1/responses or set reasoning_effort to
'none'."). Their chat completions answer with
those words (a 400 or 404); the router then asks the same deployment again through the
Responses API, in the same attempt, and once that was answered remembers it for the worker's
life (a reload keeps it: the deployment's model is what was learned about), either for every
chat request (the model is served there only) or for those with tools (the request's tools
and reasoning are what was refused).
"""

from __future__ import annotations

import logging
import re
from typing import Literal

from gateway.config.types import DeploymentApi, DeploymentConfig
from gateway.errors import GatewayError
from gateway.json_types import JSON

log = logging.getLogger("gateway.routing")

# OpenAI's words, on chat completions, for a model it serves through the Responses API only,
# and for a request it serves there only (function tools with reasoning, gpt-5.6); the whole
# message, so that an error quoting what a client sent ("Invalid value: '...'") cannot move a
# deployment that others share.
_MODEL_THERE_ONLY = re.compile(
    r"This model is only supported in v1/responses and not in v1/chat/completions\.?"
)
_REQUEST_THERE_ONLY = re.compile(
    r"Function tools with reasoning_effort are not supported (?:for \S+ )?in "
    r"/v1/chat/completions\. (?:Please use /v1/responses instead\.?|To use function tools, use "
    r"/v1/responses or set reasoning_effort to 'none'\.?)"
)
_KINDS = ("chat", "messages")  # the clients `api` serves
# The chat requests a model takes through the Responses API only: all, or those with tools.
Scope = Literal["every", "tools"]


class LearnedApis:
    """What the upstreams said of their deployments' chat completions (see the module)."""

    def __init__(self) -> None:
        self._every: set[tuple[str, str]] = set()  # (provider, model): every chat request
        self._tools: set[tuple[str, str]] = set()  # ... those with tools

    def api(self, deployment: DeploymentConfig, kind: str, body: JSON) -> DeploymentApi | None:
        """`"responses"` when `body` is to go through the Responses API for what was learned
        of `deployment`, else None (its own `api` decides)."""
        if not self._every and not self._tools:  # nearly always: nothing learned
            return None
        if deployment.api != "auto" or kind not in _KINDS:
            return None
        key = (deployment.provider, deployment.model)
        if key in self._every or (key in self._tools and body.get("tools")):
            return "responses"
        return None

    def commit(self, deployment: DeploymentConfig, scope: Scope) -> None:
        """Remember that `deployment`'s model takes `scope` through the Responses API only (a
        call there was answered)."""
        key = (deployment.provider, deployment.model)
        learned = self._every if scope == "every" else self._tools
        if key not in learned:
            learned.add(key)
            log.info(
                "deployment %s: %s go through the Responses API from now on",
                deployment.name,
                "chat requests" if scope == "every" else "chat requests with tools",
            )


def responses_only(deployment: DeploymentConfig, kind: str, error: GatewayError) -> Scope | None:
    """Which chat requests `error` (the chat completions answer of `deployment`, an `auto`
    one) says are served through the Responses API only: every one, or those with tools."""
    if deployment.api != "auto" or kind not in _KINDS:
        return None
    message = error.message.strip()
    if _MODEL_THERE_ONLY.fullmatch(message):
        return "every"
    if _REQUEST_THERE_ONLY.fullmatch(message):
        return "tools"
    return None
