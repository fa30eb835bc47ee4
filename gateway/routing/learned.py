"""What the router learns from upstream refusals that say how to ask instead: through the
Responses API (`learned_apis`), without the advisory fields the server refused
(`learned_params`), without the `anthropic-beta` values it refused (`learned_betas`), as a
reasoning model (`learned_reasoning`).

An attempt's call refused so is asked again at once, its lessons applied (`Lessons`, the
attempt's own); once a call was answered, they are kept for the provider's next requests
(for the worker's life). A lesson no answer confirmed is forgotten: a refusal that was only an
error quoting what a client sent cannot change other clients' requests.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config.types import DeploymentConfig
from gateway.providers import speaks_responses
from gateway.routing.attempt import speaks_chat
from gateway.routing.attempt_failure import AttemptFailed
from gateway.routing.exchange import UpstreamCall
from gateway.routing.learned_apis import LearnedApis, Scope, responses_only
from gateway.routing.learned_betas import LearnedBetas, refused_betas
from gateway.routing.learned_params import LearnedDrops, refused_fields
from gateway.routing.learned_reasoning import LearnedReasoning, refused_as_reasoning
from gateway.upstream import request_of


@dataclass
class Lessons:
    """What one attempt learned so far, applied to its next call."""

    responses: Scope | None = None  # through the Responses API
    drops: tuple[str, ...] = ()  # fields left out
    betas: tuple[str, ...] = ()  # `anthropic-beta` values left out
    reasoning: bool = False  # as a `reasoning` deployment


class Learned:
    """The lessons kept per worker, and which one a refusal teaches."""

    def __init__(self) -> None:
        self.apis = LearnedApis()
        self.betas = LearnedBetas()
        self.drops = LearnedDrops()
        self.reasoning = LearnedReasoning()

    def learn(self, kind: str, call: UpstreamCall, failure: AttemptFailed, into: Lessons) -> bool:
        """Whether `call`'s failure teaches how to ask again; the lesson added to `into`."""
        deployment, sent = call.deployment, request_of(call.prepared)
        error = failure.error
        if into.responses is None and speaks_chat(call) and speaks_responses(call.provider):
            into.responses = responses_only(deployment, kind, error)
            if into.responses is not None:
                return True
        if not into.reasoning and refused_as_reasoning(deployment, sent.body, error):
            into.reasoning = True
            return True
        fields = refused_fields(sent.body, error)
        if fields:
            into.drops += fields
            return True
        betas = refused_betas(sent.headers.get("anthropic-beta"), error)
        if betas:
            into.betas += betas
            return True
        return False

    def keep(self, deployment: DeploymentConfig, lessons: Lessons) -> None:
        """A call with `lessons` applied was answered: they hold for the next requests."""
        if lessons.responses is not None:
            self.apis.commit(deployment, lessons.responses)
        self.drops.commit(deployment.provider, lessons.drops)
        self.betas.commit(deployment.provider, lessons.betas)
        if lessons.reasoning:
            self.reasoning.commit(deployment)
