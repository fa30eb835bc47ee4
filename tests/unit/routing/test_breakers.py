"""The router's view of the breakers: what the limits check read saves a round trip."""

from collections.abc import Sequence

from gateway.observability.metrics import Metrics
from gateway.routing.breakers import Breakers
from gateway.state import BreakerState, MemoryState


class CountingState(MemoryState):
    """Memory state that counts the breaker reads."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def breaker_states(
        self, deployments: Sequence[str], now: float
    ) -> dict[str, BreakerState]:
        self.reads += 1
        return await super().breaker_states(deployments, now)


async def test_breakers_read_with_the_limits_check_save_the_routers_read() -> None:
    state = CountingState()
    breakers = Breakers(state, Metrics())
    names = ["p/a", "p/b"]
    opened = BreakerState("open", 3, 20.0)
    known = {"p/a": opened, "p/b": BreakerState("closed", 0, 0.0)}
    assert await breakers.states(names, 1000.0, known) == known
    assert state.reads == 0
    # A deployment the check did not read (or no check at all): one read of them all.
    partial = await breakers.states(names, 1000.0, {"p/a": opened})
    assert state.reads == 1 and partial["p/a"].state == "closed"
    await breakers.states(names, 1000.0)
    assert state.reads == 2


async def test_deployment_up_follows_the_breaker() -> None:
    metrics = Metrics()
    breakers = Breakers(MemoryState(), metrics)
    await breakers.states(["p/a"], 1000.0, {"p/a": BreakerState("open", 5, 10.0)})
    assert metrics.child(metrics.deployment_up, "p/a")._value.get() == 0
    await breakers.states(["p/a"], 1000.0, {"p/a": BreakerState("closed", 0, 0.0)})
    assert metrics.child(metrics.deployment_up, "p/a")._value.get() == 1
