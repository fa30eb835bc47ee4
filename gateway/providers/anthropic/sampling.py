"""Which sampling settings (`temperature`, `top_p`, `top_k`) a Claude deployment is sent.

Anthropic's newer models refuse what older ones took, each with a 400 `invalid_request_error`:

- Claude Opus 4.1, Sonnet 4.5, Haiku 4.5 up to the 4.6 models take `temperature` or `top_p`,
  not both ("`temperature` and `top_p` cannot both be specified for this model. Please use only
  one."). OpenAI clients often send both (a chat UI's defaults, an agent framework's
  settings): `temperature` is kept, `top_p` left out (Anthropic's advice is to set one of them,
  usually the temperature).
- Claude Opus 4.7 and later (Opus 4.8, the Claude 5 models) take none of the three ("`temperature`
  is deprecated for this model."): all three are left out, and the model samples as it does.
- API version `2026-10-21` (the provider's `anthropic_version`) removed them for every model.

A request that asks for them is so answered, not refused: it may have been written for another
model (an OpenAI model, an older Claude) that a route or a fallback replaced, as for OpenAI's
reasoning deployments (`gateway.providers.openai.without_refused_settings`).

The model is known by its name (`claude_versions`); a deployment whose name does not say which
Claude it runs is sent what was asked, unless it says otherwise (`sampling`,
docs/configuration.md).
"""

from __future__ import annotations

from typing import Literal

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig, Sampling
from gateway.json_types import JSON
from gateway.providers.anthropic.claude_versions import claude_version

SamplingRule = Literal["all", "one", "none"]
SAMPLING_SETTINGS = ("temperature", "top_p", "top_k")
_FIRST_ONE_SETTING = (4, 1)
_FIRST_WITHOUT_SETTINGS = (4, 7)
# The first API version without the sampling settings (a date: compared as text).
_VERSION_WITHOUT_SETTINGS = "2026-10-21"


def rule_for_model(model: str) -> SamplingRule:
    """What the Claude model `model` names takes, from its version."""
    version = claude_version(model)
    if version is None:
        return "all"
    if version >= _FIRST_WITHOUT_SETTINGS:
        return "none"
    return "one" if version >= _FIRST_ONE_SETTING else "all"


def sampling_rule(setting: Sampling, model: str, anthropic_version: str) -> SamplingRule:
    """The deployment's `sampling`, or when "auto" what its model and API version take."""
    if setting != "auto":
        return setting
    if anthropic_version >= _VERSION_WITHOUT_SETTINGS:
        return "none"
    return rule_for_model(model)


def with_sampling_rule(upstream: JSON, rule: SamplingRule) -> None:
    """Leave out of the Anthropic request `upstream` the sampling settings `rule` refuses."""
    if rule == "none":
        for name in SAMPLING_SETTINGS:
            upstream.pop(name, None)
    elif (
        rule == "one"
        and upstream.get("top_p") is not None
        and upstream.get("temperature") is not None
    ):
        del upstream["top_p"]


def with_sampling_for(
    upstream: JSON, deployment: DeploymentConfig, provider: ProviderConfig
) -> None:
    """Leave out of the Anthropic request `upstream` the sampling settings `deployment` (on
    `provider`) refuses."""
    rule = sampling_rule(deployment.sampling, deployment.model, provider.anthropic_version)
    if rule != "all":
        with_sampling_rule(upstream, rule)
