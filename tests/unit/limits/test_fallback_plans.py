"""`LimitPlans.fallbacks`: the models a request may fall back to (every fallback list, theirs
in turn) that have limits of their own for the key, as plans of those checks alone; and
`LimitPlans.fallback_limits`, whether a config has any at all."""

from collections.abc import Mapping

from gateway.config.types import (
    DeploymentConfig,
    KeyConfig,
    LimitsConfig,
    ModelConfig,
    PolicyConfig,
)
from gateway.limits.plan import LimitPlans

DEPLOYMENT = (DeploymentConfig(provider="p", model="m"),)


def _models(**fallbacks: tuple[str, ...]) -> dict[str, ModelConfig]:
    return {
        name: ModelConfig(name, DEPLOYMENT, fallbacks=names) for name, names in fallbacks.items()
    }


def _plans(models: Mapping[str, ModelConfig], **model_limits: LimitsConfig) -> LimitPlans:
    policy = PolicyConfig("p", limits=LimitsConfig(rpm=9), model_limits=model_limits)
    return LimitPlans({"p": policy}, models)


KEY = KeyConfig(id="k", key_sha256="0" * 64, policy="p")


def test_a_fallback_with_limits_of_its_own_gets_a_plan_of_those_alone() -> None:
    models = _models(mini=("big",), big=())
    plans = _plans(models, big=LimitsConfig(rpm=2, tpm=100, budget_usd_per_day=5.0))
    assert plans.fallback_limits
    found = plans.fallbacks(KEY, models["mini"])
    assert found is not None and list(found) == ["big"]
    checks = [(c.scope, c.subject, c.kind, c.limit) for c in found["big"].checks]
    assert checks == [
        ("model", "k/big", "rpm", 2),
        ("model", "k/big", "tpm", 100),
        ("model", "k/big", "budget_day", 5.0),
    ]
    assert found["big"].needs_estimate and found["big"].priced
    assert plans.fallbacks(KEY, models["big"]) is None  # big falls back to nothing


def test_fallbacks_of_fallbacks_and_every_list_count_each_once() -> None:
    models = {
        "a": ModelConfig("a", DEPLOYMENT, fallbacks=("b",), context_window_fallbacks=("c",)),
        "b": ModelConfig("b", DEPLOYMENT, content_policy_fallbacks=("d", "a")),
        "c": ModelConfig("c", DEPLOYMENT, fallbacks=("d",)),
        "d": ModelConfig("d", DEPLOYMENT),
    }
    plans = _plans(models, a=LimitsConfig(rpm=1), c=LimitsConfig(rpm=1), d=LimitsConfig(rpm=1))
    found = plans.fallbacks(KEY, models["a"])
    assert found is not None and sorted(found) == ["c", "d"]  # not `a` itself, nor unlimited `b`


def test_a_config_whose_limited_models_are_no_fallbacks_asks_nothing() -> None:
    models = _models(mini=("big",), big=())
    plans = _plans(models, mini=LimitsConfig(rpm=2), big=LimitsConfig())
    assert not plans.fallback_limits
    assert plans.fallbacks(KEY, models["mini"]) is None
