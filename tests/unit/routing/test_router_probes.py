"""A half-open deployment gets one probe, and its slot is held while that probe may still be
running: `[routing] probe_timeout_s` (30 s by default) below the deployment's
`first_token_timeout_s` (60 s) or `total_timeout_s` must not let a second probe go out to a
deployment known to be bad while the first still waits for its answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.config.types import DeploymentConfig, Timeouts
from gateway.routing.picking import PROBE_REPORT_S, probe_hold_s
from gateway.runtime import build_runtime
from gateway.upstream import FakeReply, UpstreamRequest
from tests.unit.routing.router_harness import CONFIG, ENV, Harness, answer


def _slow_upstream(tmp_path: Path) -> tuple[Harness, asyncio.Event, list[str]]:
    """`unreachable` (up/down-x) refuses connections until `healed`; then its next call waits
    until the event is set, and the calls after it answer at once."""
    release = asyncio.Event()
    healed: list[str] = []  # non-empty once the deployment works again

    async def handler(request: UpstreamRequest) -> FakeReply:
        if not healed:
            return answer(request)
        if len(healed) == 1:
            healed.append("probe sent")
            await release.wait()
        healthy = UpstreamRequest(request.method, request.url, request.headers, b'{"model":"ok"}')
        return answer(healthy)

    h = Harness(tmp_path, handler)
    path = tmp_path / "gateway.toml"  # a long request deadline, a short probe_timeout_s
    path.write_text(
        CONFIG.replace("request_timeout_s = 30", "request_timeout_s = 300").replace(
            "breaker_cooldown_s = 10", "breaker_cooldown_s = 10\nprobe_timeout_s = 5"
        )
    )
    h.runtime = build_runtime(load_config(path, env=ENV), env=ENV)
    return h, release, healed


async def test_a_second_probe_waits_while_the_first_may_still_answer(tmp_path: Path) -> None:
    h, release, healed = _slow_upstream(tmp_path)
    await h.fail("unreachable")  # two connect failures: the breaker opens
    h.clock.advance(10.5)  # the cooldown ends: half-open
    healed.append("healed")
    probe = asyncio.create_task(h.route("unreachable"))
    while len(healed) < 2:  # until the probe is in flight
        await asyncio.sleep(0)
    sent = len(h.upstream.requests)

    h.clock.advance(10)  # past probe_timeout_s, well within the probe's 60 s to a first token
    error, exchange = await h.fail("unreachable")
    assert error.code == "no_healthy_deployment" and exchange.attempts == []
    assert len(h.upstream.requests) == sent  # no second probe to the deployment

    release.set()
    assert (await probe).attempts[-1].status == 200


def _deployment() -> DeploymentConfig:
    timeouts = Timeouts(connect_s=5.0, first_token_s=60.0, total_s=600.0)
    return DeploymentConfig(provider="p", model="m", timeouts=timeouts)


@pytest.mark.parametrize(
    ("stream", "remaining_s", "probe_timeout_s", "held_s"),
    [
        (True, 300.0, 30.0, 65.0 + PROBE_REPORT_S),  # a stream: until its first byte may come
        (False, 300.0, 30.0, 300.0 + PROBE_REPORT_S),  # JSON: until the request's deadline
        (False, 1000.0, 30.0, 600.0 + PROBE_REPORT_S),  # ... or the attempt's total_timeout_s
        (True, 20.0, 30.0, 30.0),  # never below probe_timeout_s
        (True, 300.0, 120.0, 120.0),
    ],
)
def test_the_probe_slot_is_held_as_long_as_the_probe_may_run(
    stream: bool, remaining_s: float, probe_timeout_s: float, held_s: float
) -> None:
    assert probe_hold_s(_deployment(), stream, remaining_s, probe_timeout_s) == held_s
