"""Deployments an upstream said serve a reasoning model, asked as `reasoning = true` ones from
then on.

A deployment of gpt-5.4-mini, o4-mini or gpt-6 whose operator did not set `reasoning = true`
(the default is false: an Azure deployment's name does not say which model it runs, and few
read that line of the docs) was sent the client's `max_tokens`, which these models refuse:
"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens'
instead." (the 2026 trackers of every proxy and client have it). So with a sampling setting
they refuse ("Unsupported value: 'temperature' does not support 0.2 with this model. Only the
default (1) value is supported."). The router asks again at once as for a reasoning deployment
(`max_completion_tokens`, without what those models refuse: `providers.openai.for_reasoning_model`),
in the same attempt, and once that was answered, asks the deployment's model so from then on (for
the worker's life). Only when the body sent held the field named: an error that quotes what a
client sent cannot change other clients' requests.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re

from gateway.config.types import DeploymentConfig
from gateway.errors import GatewayError

log = logging.getLogger("gateway.routing")

# OpenAI's words (Azure's are the same), with the field named.
_REFUSED = re.compile(
    r"Unsupported parameter: '(max_tokens)' is not supported with this model\."
    r"|Unsupported value: '(temperature|top_p)' does not support .* with this model\."
    r"|Unsupported parameter: '(temperature|top_p|presence_penalty|frequency_penalty|logit_bias"
    r"|stop)' is not supported with this model\."
)


class LearnedReasoning:
    """The deployments' models an upstream said reason (see the module)."""

    def __init__(self) -> None:
        self._reasoning: set[tuple[str, str]] = set()  # (provider, model)

    def deployment(self, deployment: DeploymentConfig) -> DeploymentConfig:
        """`deployment` as it is asked: a `reasoning` one when its model was learned to be."""
        if not self._reasoning or deployment.reasoning:  # nearly always: nothing learned
            return deployment
        if (deployment.provider, deployment.model) in self._reasoning:
            return as_reasoning(deployment)
        return deployment

    def commit(self, deployment: DeploymentConfig) -> None:
        """Remember that `deployment`'s model reasons (a call asked so was answered)."""
        key = (deployment.provider, deployment.model)
        if key not in self._reasoning:
            self._reasoning.add(key)
            log.info(
                "deployment %s serves a reasoning model: asked as one from now on (set "
                "`reasoning = true` on it to say so)",
                deployment.name,
            )


@functools.lru_cache(maxsize=64)
def as_reasoning(deployment: DeploymentConfig) -> DeploymentConfig:
    """`deployment` with `reasoning = true` (made once per deployment)."""
    return dataclasses.replace(deployment, reasoning=True)


def refused_as_reasoning(deployment: DeploymentConfig, sent: bytes, error: GatewayError) -> bool:
    """Whether `error` (the upstream's answer to the body `sent`) says the model of
    `deployment`, not a `reasoning` one, refuses what only reasoning models refuse, a field
    the body held."""
    if deployment.reasoning:
        return False
    found = _REFUSED.search(error.message)
    if found is None:
        return False
    name = found.group(1) or found.group(2) or found.group(3)
    return b'"' + name.encode() + b'":' in sent
