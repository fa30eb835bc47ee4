import random
from collections import Counter

from gateway.config.types import DeploymentConfig
from gateway.routing.strategies import (
    Candidate,
    Selection,
    headroom,
    least_busy,
    lowest_cost,
    lowest_latency,
    round_robin,
    usage_based,
    weighted,
    weighted_by_point,
)


def dep(model: str, **kw: object) -> DeploymentConfig:
    return DeploymentConfig(provider="p", model=model, **kw)  # type: ignore[arg-type]


def sel(**kw: object) -> Selection:
    return Selection(rng=random.Random(1), **kw)  # type: ignore[arg-type]


def test_weighted_follows_weights() -> None:
    cands = [Candidate(dep("a", weight=3)), Candidate(dep("b", weight=1))]
    rng = random.Random(42)
    counts = Counter(weighted(cands, Selection(rng=rng)).deployment.model for _ in range(20000))
    assert abs(counts["a"] / 20000 - 0.75) < 0.015


def test_weighted_by_point_is_deterministic() -> None:
    cands = [Candidate(dep("a", weight=95)), Candidate(dep("b", weight=5))]
    assert weighted_by_point(cands, 0.0).deployment.model == "a"
    assert weighted_by_point(cands, 0.949).deployment.model == "a"
    assert weighted_by_point(cands, 0.951).deployment.model == "b"


def test_round_robin_is_exact() -> None:
    cands = [Candidate(dep(m)) for m in "abc"]
    picks = [round_robin(cands, sel(turn=t)).deployment.model for t in range(9)]
    assert picks == list("abcabcabc")


def test_least_busy_prefers_idle() -> None:
    cands = [
        Candidate(dep("a"), inflight=3),
        Candidate(dep("b"), inflight=0),
        Candidate(dep("c"), inflight=1),
    ]
    assert least_busy(cands, sel()).deployment.model == "b"


def test_lowest_latency_prefers_fast_and_explores_unmeasured() -> None:
    fast = Candidate(dep("fast"), latency_ewma_ms=20, ttft_ewma_ms=10)
    slow = Candidate(dep("slow"), latency_ewma_ms=300, ttft_ewma_ms=200)
    assert lowest_latency([slow, fast], sel()).deployment.model == "fast"
    assert lowest_latency([slow, fast, Candidate(dep("new"))], sel()).deployment.model == "new"


def test_lowest_cost_uses_estimated_tokens() -> None:
    cheap_in = Candidate(dep("cheap-in", input_cost_per_1m=0.1, output_cost_per_1m=10))
    cheap_out = Candidate(dep("cheap-out", input_cost_per_1m=5, output_cost_per_1m=0.1))
    assert (
        lowest_cost(
            [cheap_in, cheap_out],
            sel(estimated_prompt_tokens=10000, estimated_completion_tokens=10),
        ).deployment.model
        == "cheap-in"
    )
    assert (
        lowest_cost(
            [cheap_in, cheap_out],
            sel(estimated_prompt_tokens=10, estimated_completion_tokens=10000),
        ).deployment.model
        == "cheap-out"
    )


def test_usage_based_prefers_headroom() -> None:
    busy = Candidate(dep("busy", rpm=100), used_rpm=90)
    free = Candidate(dep("free", rpm=100), used_rpm=10)
    assert usage_based([busy, free], sel()).deployment.model == "free"
    tight_tpm = Candidate(dep("tpm", tpm=1000), used_tpm=900)
    assert headroom(tight_tpm, sel(estimated_prompt_tokens=50)) < headroom(
        free, sel(estimated_prompt_tokens=50)
    )
    assert headroom(Candidate(dep("uncapped")), sel()) == 1.0
