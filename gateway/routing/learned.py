"""What the router learned from upstream refusals that say how to ask instead, and which lesson
a refusal teaches: through the Responses API (`learned_apis`), without the advisory fields the
server refused (`learned_params`), without the `anthropic-beta` values it refused
(`learned_betas`). Each is asked again at once, in the same attempt, and remembered for the
worker's life."""

from __future__ import annotations

from typing import Literal

from gateway.providers import speaks_responses
from gateway.routing.attempt import speaks_chat
from gateway.routing.attempt_failure import AttemptFailed
from gateway.routing.exchange import UpstreamCall
from gateway.routing.learned_apis import LearnedApis
from gateway.routing.learned_betas import LearnedBetas
from gateway.routing.learned_params import LearnedDrops
from gateway.upstream import request_of

# How to ask again: through the Responses API, or the same way with what was learned left out.
Lesson = Literal["responses", "again"]


class Learned:
    """The three kinds of lessons, kept per worker."""

    def __init__(self) -> None:
        self.apis = LearnedApis()
        self.betas = LearnedBetas()
        self.drops = LearnedDrops()

    def lesson(self, kind: str, call: UpstreamCall, failure: AttemptFailed) -> Lesson | None:
        """How to ask again after `call` failed so, if its refusal says (and it is learned)."""
        deployment, sent = call.deployment, request_of(call.prepared)
        error = failure.error
        if speaks_chat(call) and speaks_responses(call.provider):
            if self.apis.learn(deployment, kind, error):
                return "responses"
        if self.drops.learn(deployment.provider, sent.body, error):
            return "again"
        if self.betas.learn(deployment.provider, sent.headers.get("anthropic-beta"), error):
            return "again"
        return None
