"""Load-balancing strategies: exact choices, and splits measured over many seeded draws."""

import random
from collections import Counter

from gateway.config.types import DeploymentConfig
from gateway.routing.strategies import (
    STRATEGIES,
    Candidate,
    Selection,
    headroom,
    least_busy,
    lowest_cost,
    lowest_latency,
    round_robin,
    usage_based,
    weighted_by_point,
)
from tests.binomial import assert_share


def dep(model: str, **kw: object) -> DeploymentConfig:
    return DeploymentConfig(provider="p", model=model, **kw)  # type: ignore[arg-type]


def sel(**kw: object) -> Selection:
    return Selection(rng=random.Random(1), **kw)  # type: ignore[arg-type]


DRAWS = 20_000


def draw(strategy: str, cands: list[Candidate], seed: int = 42) -> Counter[str]:
    """Which deployment `strategy` picks over DRAWS selections with one seeded generator."""
    selection = Selection(rng=random.Random(seed))
    return Counter(STRATEGIES[strategy](cands, selection).deployment.model for _ in range(DRAWS))


def test_weighted_follows_weights() -> None:
    counts = draw("weighted", [Candidate(dep("a", weight=3)), Candidate(dep("b", weight=1))])
    assert_share(counts["a"], DRAWS, 0.75, "weight 3 of 4")
    assert counts["a"] + counts["b"] == DRAWS


def test_weighted_splits_three_ways_and_never_picks_weight_zero() -> None:
    weights = {"a": 5.0, "b": 3.0, "c": 2.0, "off": 0.0}
    counts = draw("weighted", [Candidate(dep(m, weight=w)) for m, w in weights.items()])
    for name, weight in weights.items():
        assert_share(counts[name], DRAWS, weight / 10, name)
    assert counts["off"] == 0


def test_weighted_by_point_lays_the_weights_end_to_end() -> None:
    # Evenly spaced points land on each candidate in exact proportion to its weight.
    cands = [Candidate(dep("a", weight=1)), Candidate(dep("b", weight=2.5)), Candidate(dep("c"))]
    points = 9_000
    counts = Counter(weighted_by_point(cands, i / points).deployment.model for i in range(points))
    assert counts == {"a": 2000, "b": 5000, "c": 2000}


def test_weighted_by_point_is_deterministic() -> None:
    cands = [Candidate(dep("a", weight=95)), Candidate(dep("b", weight=5))]
    assert weighted_by_point(cands, 0.0).deployment.model == "a"
    assert weighted_by_point(cands, 0.949).deployment.model == "a"
    assert weighted_by_point(cands, 0.951).deployment.model == "b"
    assert weighted_by_point(cands, 0.999999).deployment.model == "b"


def test_all_zero_weights_spread_evenly() -> None:
    cands = [Candidate(dep(m, weight=0)) for m in "ab"]
    assert weighted_by_point(cands, 0.25).deployment.model == "a"
    assert weighted_by_point(cands, 0.75).deployment.model == "b"


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


def test_least_busy_breaks_ties_evenly() -> None:
    counts = draw(
        "least_busy",
        [
            Candidate(dep("a"), inflight=1),
            Candidate(dep("b"), inflight=1),
            Candidate(dep("busy"), inflight=2),
        ],
    )
    assert_share(counts["a"], DRAWS, 0.5, "one of two tied")
    assert counts["busy"] == 0


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
