"""The per-process deployment stats: the last minute's calls and tokens, counted to the second."""

from __future__ import annotations

from gateway.config.types import DeploymentConfig
from gateway.routing.deployment_stats import WINDOW_S, DeploymentStats

DEPLOYMENT = DeploymentConfig(provider="p", model="m")


def test_the_last_minutes_calls_and_tokens_are_counted() -> None:
    stats = DeploymentStats()
    for at, tokens in ((100.2, 10), (100.7, 20), (130.0, 5)):
        stats.started(DEPLOYMENT.name, tokens, at)
    candidate = stats.candidate(DEPLOYMENT, 131.0)
    assert (candidate.used_rpm, candidate.used_tpm, candidate.inflight) == (3, 35, 3)


def test_a_second_leaves_the_window_once_all_of_it_is_older_than_a_minute() -> None:
    stats = DeploymentStats()
    stats.started(DEPLOYMENT.name, 10, 100.2)
    stats.started(DEPLOYMENT.name, 20, 100.7)
    stats.started(DEPLOYMENT.name, 5, 130.0)
    # 160.9 - 60 = 100.9: part of second 100 is still inside; it counts whole (read high).
    assert stats.candidate(DEPLOYMENT, 100 + WINDOW_S + 0.9).used_rpm == 3
    # 161.0 - 60 = 101.0: all of second 100 is older than the minute.
    later = stats.candidate(DEPLOYMENT, 101 + WINDOW_S)
    assert (later.used_rpm, later.used_tpm) == (1, 5)
    gone = stats.candidate(DEPLOYMENT, 131 + WINDOW_S)
    assert (gone.used_rpm, gone.used_tpm) == (0, 0)


def test_memory_stays_bounded_however_many_calls() -> None:
    stats = DeploymentStats()
    for n in range(100_000):  # 10,000 calls a second for 10 s
        stats.started(DEPLOYMENT.name, 1, 1000 + n / 10_000)
    candidate = stats.candidate(DEPLOYMENT, 1010.0)
    assert (candidate.used_rpm, candidate.used_tpm) == (100_000, 100_000)
    assert len(stats._stats[DEPLOYMENT.name].recent) == 10  # one bucket a second


def test_a_clock_that_goes_back_adds_to_the_latest_second() -> None:
    stats = DeploymentStats()
    stats.started(DEPLOYMENT.name, 1, 200.5)
    stats.started(DEPLOYMENT.name, 2, 199.9)
    assert stats.candidate(DEPLOYMENT, 201.0).used_tpm == 3
    assert len(stats._stats[DEPLOYMENT.name].recent) == 1
