"""The router's small helpers: sticky points, backoff, when to tokenize, failure kinds.

Splits are measured over many keys or seeded draws, against the binomial spread.
"""

import random
from collections import Counter

import pytest

from gateway.config.types import DeploymentConfig, ModelConfig
from gateway.errors import UpstreamRejected
from gateway.routing.attempt_failure import (
    is_content_policy,
    is_context_overflow,
    is_missing_model,
)
from gateway.routing.breakers import is_deployment_fault as _is_deployment_fault
from gateway.routing.cooldowns import Cooldowns
from gateway.routing.picking import backoff_s, sticky_point
from gateway.routing.picking import needs_estimate as _needs_estimate
from gateway.routing.strategies import Candidate, weighted_by_point
from gateway.routing.upstream_headers import parse_retry_after, retry_after_s
from tests.binomial import assert_share

DRAWS = 20_000


KEYS = [f"key-{i}" for i in range(20_000)]
CANARY = [
    Candidate(DeploymentConfig("p", "stable", weight=90)),
    Candidate(DeploymentConfig("p", "canary", weight=10)),
]


def side(model: str, key: str) -> str:
    """The side a key lands on for `model`, as the router picks it for a sticky model."""
    return weighted_by_point(CANARY, sticky_point(model, key)).deployment.model


def test_sticky_points_split_keys_at_the_weights() -> None:
    on_canary = sum(side("m", key) == "canary" for key in KEYS)
    assert_share(on_canary, len(KEYS), 0.10, "canary")


def test_sticky_points_are_uniform_over_the_unit_interval() -> None:
    points = [sticky_point("m", key) for key in KEYS]
    assert all(0.0 <= point < 1.0 for point in points)
    deciles = Counter(int(point * 10) for point in points)
    for decile in range(10):
        assert_share(deciles[decile], len(KEYS), 0.1, f"decile {decile}")


def test_a_key_sticks_per_model_and_models_split_independently() -> None:
    assert sticky_point("m", "key-1") == sticky_point("m", "key-1")
    assert sticky_point("m", "key-1") != sticky_point("other", "key-1")
    # The model is part of the hash: the keys on one model's canary are not the same keys on
    # another's, so one set of users does not carry every canary.
    on_both = sum(side("m", key) == side("other", key) == "canary" for key in KEYS)
    assert_share(on_both, len(KEYS), 0.10 * 0.10, "canary on both models")


def test_backoff_doubles_with_jitter_and_a_ceiling() -> None:
    assert backoff_s(0, 0.05, 2.0, 1.0) == 0.05
    assert backoff_s(3, 0.05, 2.0, 1.0) == 0.4
    assert backoff_s(10, 0.05, 2.0, 1.0) == 2.0
    assert backoff_s(3, 0.05, 2.0, 0.0) == 0.2
    assert backoff_s(10, 0.05, 2.0, 0.0) == 1.0, "jitter keeps at least half of the ceiling"


def test_backoff_jitter_spreads_waits_over_the_upper_half() -> None:
    rng = random.Random(7)
    waits = [backoff_s(2, 0.1, 2.0, rng.random()) for _ in range(DRAWS)]
    assert 0.2 <= min(waits) and max(waits) < 0.4
    upper_quarter = sum(wait >= 0.35 for wait in waits)
    assert_share(upper_quarter, DRAWS, 0.25, "waits in [0.35, 0.4)")


def test_tokenizer_runs_only_when_a_window_could_be_exceeded() -> None:
    small = ModelConfig("m", (DeploymentConfig("p", "a", context_window=1000),))
    assert not _needs_estimate(small, 999)
    assert _needs_estimate(small, 1000)
    assert not _needs_estimate(ModelConfig("m", (DeploymentConfig("p", "a"),)), 10**6)
    assert _needs_estimate(
        ModelConfig("m", (DeploymentConfig("p", "a"),), strategy="lowest_cost"), 10
    )


def test_which_failures_count_against_a_deployment() -> None:
    assert _is_deployment_fault("connect") and _is_deployment_fault("first_token_timeout")
    assert _is_deployment_fault("http_500") and _is_deployment_fault("http_503")
    assert not _is_deployment_fault("http_400") and not _is_deployment_fault(None)
    # Rate limits bench a deployment (cooldowns) but say nothing of its health; nor does a
    # client that leaves.
    assert not _is_deployment_fault("http_429") and not _is_deployment_fault("http_529")
    assert not _is_deployment_fault("client_closed")
    # Nor is an overload or a rate limit an upstream said in its stream's error event.
    assert not _is_deployment_fault("overloaded")
    assert not _is_deployment_fault("rate_limit_exceeded")
    assert _is_deployment_fault("upstream_error")
    # TGI's 424: generation failed in a model shard.
    assert _is_deployment_fault("http_424") and not _is_deployment_fault("http_422")


def test_context_overflows_are_recognised() -> None:
    assert is_context_overflow(
        UpstreamRejected(400, "too long", code="context_length_exceeded", param="messages")
    )
    vllm = "This model's maximum context length is 4096 tokens. However, you requested 5000"
    assert is_context_overflow(UpstreamRejected(400, vllm, code="400"))
    assert not is_context_overflow(UpstreamRejected(400, "bad parameter", code="invalid_value"))
    assert not is_context_overflow(UpstreamRejected(500, vllm))
    # TGI refuses a prompt too long with its validation status, 422.
    assert is_context_overflow(UpstreamRejected(422, "too long", code="context_length_exceeded"))


def test_an_upstream_without_the_deployments_model_is_recognised() -> None:
    for message in (
        "The model `llama-3-70b` does not exist.",  # vLLM
        'model "llama3.3:70b" not found, try pulling it first',  # Ollama
        "The model `gpt-5x` does not exist or you do not have access to it.",  # OpenAI
    ):
        assert is_missing_model(UpstreamRejected(404, message))
    assert is_missing_model(UpstreamRejected(404, "gone", code="DeploymentNotFound"))  # Azure
    assert is_missing_model(UpstreamRejected(404, "model: claude-x", code="not_found_error"))
    # Other 404s are the request's: a stored response that is not there, an unknown route.
    assert not is_missing_model(UpstreamRejected(404, "Previous response with id 'r' not found."))
    assert not is_missing_model(UpstreamRejected(404, "Not Found"))
    assert not is_missing_model(UpstreamRejected(400, "The model `x` does not exist."))


def test_content_policy_refusals_are_recognised() -> None:
    body = {"error": {"message": "Your request was rejected", "code": "content_policy_violation"}}
    assert is_content_policy(UpstreamRejected(400, "Your request was rejected", upstream_body=body))
    assert not is_content_policy(UpstreamRejected(400, "bad parameter"))
    assert not is_content_policy(UpstreamRejected(429, "content_filter"))


def test_retry_after_ms_wins_over_retry_after() -> None:
    assert retry_after_s({"retry-after-ms": "250", "retry-after": "1"}) == 0.25
    assert retry_after_s({"retry-after": "3"}) == 3.0 and retry_after_s({}) is None


def test_retry_after_parsing() -> None:
    assert parse_retry_after("2") == 2.0 and parse_retry_after("0.5") == 0.5
    assert (
        parse_retry_after(None) is None
        and parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    )


@pytest.mark.parametrize(
    "value", ["0", "-5", "NaN", "inf", "1e-320", "1e3", "1_000", "0x10", "٣", "2 s", ""]
)
def test_a_retry_after_that_names_no_positive_wait_names_none(value: str) -> None:
    """The router then benches the deployment for `rate_limit_cooldown_s`: a 0 s bench (from
    `-5` or NaN) let it call the deployment that had just refused again in the same request."""
    assert parse_retry_after(value) is None
    assert retry_after_s({"retry-after-ms": value, "retry-after": "3"}) == 3.0


def test_a_rate_limit_bench_is_reported_before_a_missing_model_one() -> None:
    """The wait a client can act on: a rate limit's, even when a missing model's bench (which
    says nothing of when to come back) ends sooner."""
    cooldowns = Cooldowns()
    missing = UpstreamRejected(404, 'model "x" not found, try pulling it first')
    limited = UpstreamRejected(429, "slow down", code="rate_limit_exceeded")
    cooldowns.start("a", 3.0, missing, 0.0, rate_limit=False)
    cooldowns.start("b", 5.0, limited, 0.0)
    shortest = cooldowns.shortest(["a", "b"], 1.0)
    assert shortest is not None and shortest.error is limited
    assert cooldowns.answer(limited, ["a", "b"], 1.0).headers["retry-after-ms"] == "4000"
    shortest = cooldowns.shortest(["a"], 1.0)
    assert shortest is not None and shortest.error is missing and not shortest.rate_limit
