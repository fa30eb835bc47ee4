"""What this process knows about each deployment: in-flight calls, latency EWMAs, recent usage.

Kept in process memory on purpose: it steers load balancing, where a slightly local view is
fine. What must be shared across replicas (breaker state, limits) lives in the state backend.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from gateway.config.types import DeploymentConfig
from gateway.routing.strategies import Candidate

EWMA_ALPHA = 0.3
WINDOW_S = 60.0


@dataclass
class _Stats:
    inflight: int = 0
    latency_ewma_ms: float | None = None
    ttft_ewma_ms: float | None = None
    # The calls started in the last minute, to the second: [second, calls, tokens] per second
    # that had any, oldest first, and the sums of those buckets. At most WINDOW_S + 1 buckets
    # however many calls: one entry per call held 60 s of them (~80 bytes each, +30 MB at
    # 6,800 calls/s, docs/performance.md).
    recent: deque[list[int]] = field(default_factory=deque)
    recent_calls: int = 0
    recent_tokens: int = 0


def _ewma(previous: float | None, sample: float) -> float:
    return sample if previous is None else previous + EWMA_ALPHA * (sample - previous)


class DeploymentStats:
    def __init__(self) -> None:
        self._stats: dict[str, _Stats] = {}

    def _get(self, name: str) -> _Stats:
        stats = self._stats.get(name)
        if stats is None:
            stats = self._stats[name] = _Stats()
        return stats

    def started(self, name: str, tokens: int, now: float) -> None:
        stats = self._get(name)
        stats.inflight += 1
        second = int(now)
        recent = stats.recent
        if recent and recent[-1][0] >= second:  # this second's bucket (or a clock that went back)
            bucket = recent[-1]
            bucket[1] += 1
            bucket[2] += tokens
        else:
            recent.append([second, 1, tokens])
        stats.recent_calls += 1
        stats.recent_tokens += tokens

    def finished(
        self, name: str, latency_ms: float | None, ttft_ms: float | None, *, streaming: bool = False
    ) -> None:
        """One call answered or failed; a latency is given only for calls that succeeded or
        timed out (a timeout is a latency too). A stream (`streaming`) stays in flight until
        `ended`."""
        stats = self._get(name)
        if not streaming:
            stats.inflight = max(0, stats.inflight - 1)
        if latency_ms is not None:
            stats.latency_ewma_ms = _ewma(stats.latency_ewma_ms, latency_ms)
        if ttft_ms is not None:
            stats.ttft_ewma_ms = _ewma(stats.ttft_ewma_ms, ttft_ms)

    def ended(self, name: str) -> None:
        """A stream `finished` with `streaming` is over: no longer in flight."""
        stats = self._get(name)
        stats.inflight = max(0, stats.inflight - 1)

    def candidate(self, deployment: DeploymentConfig, now: float) -> Candidate:
        stats = self._get(deployment.name)
        recent = stats.recent
        # A bucket counts while any part of its second is inside the window: a call up to a
        # second older than the minute may still count (usage read high, never low).
        while recent and recent[0][0] + 1 <= now - WINDOW_S:
            _, calls, tokens = recent.popleft()
            stats.recent_calls -= calls
            stats.recent_tokens -= tokens
        return Candidate(
            deployment=deployment,
            inflight=stats.inflight,
            latency_ewma_ms=stats.latency_ewma_ms,
            ttft_ewma_ms=stats.ttft_ewma_ms,
            used_rpm=stats.recent_calls,
            used_tpm=stats.recent_tokens,
        )

    def snapshot(self, name: str) -> dict[str, float | int | None]:
        stats = self._get(name)
        return {
            "inflight": stats.inflight,
            "latency_ewma_ms": stats.latency_ewma_ms,
            "ttft_ewma_ms": stats.ttft_ewma_ms,
        }
