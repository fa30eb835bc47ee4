"""`gateway_deployment_up` says what routing would do at the scrape: a deployment whose breaker
opened is up again once its cooldown is over, whether or not a request went there since, and
a deployment no longer in the config has no series."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.config import load_config
from gateway.observability.deployment_up import refresh_deployment_up
from gateway.observability.metrics import Metrics
from gateway.observability.recorder import MemorySink
from gateway.state import MemoryState
from tests.conditions import eventually
from tests.mock_config import key_table

CONFIG = """
[routing]
max_attempts = 1
breaker_failures = 1
breaker_cooldown_s = 1.0

[[providers]]
name = "mock"
type = "mock"

[[models]]
name = "flaky"
[[models.deployments]]
provider = "mock"
model = "fail-500"
""" + key_table("k")
UP = ("gateway_deployment_up", {"deployment": "mock/fail-500"})


async def up(client: httpx.AsyncClient) -> dict[str, float]:
    text = (await client.get("/metrics")).text
    return {
        sample.labels["deployment"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "gateway_deployment_up"
    }


async def test_a_deployment_is_up_after_its_cooldown_without_traffic(tmp_path: Path) -> None:
    """It used to stay down until a request was routed to it again: after an outage, with
    clients gone to a fallback, LLMGatewayDeploymentDown kept paging for a healthy deployment."""
    (tmp_path / "config.toml").write_text(CONFIG)
    app = create_app(
        load_config(tmp_path / "config.toml", env={}), recorder=MemorySink(), watch_config=False
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        assert await up(client) == {"mock/fail-500": 1.0}
        body = {"model": "flaky", "messages": [{"role": "user", "content": "hi"}]}
        headers = {"authorization": "Bearer sk-demo"}
        response = await client.post("/v1/chat/completions", json=body, headers=headers)
        assert response.status_code == 502
        assert await up(client) == {"mock/fail-500": 0.0}  # the breaker is open
        # No request goes to it again: only scrapes, until the cooldown is over.

        async def up_again() -> bool:
            return await up(client) == {"mock/fail-500": 1.0}

        await eventually(up_again, 10, message="up once the breaker's cooldown is over")
    await app.state.services.aclose()


async def test_a_deployment_taken_out_of_the_config_leaves_the_gauge(tmp_path: Path) -> None:
    """One removed while its breaker was open (what an operator does with a broken deployment)
    used to stay at 0, paging, until the gateway restarted."""
    (tmp_path / "config.toml").write_text(CONFIG)
    config = load_config(tmp_path / "config.toml", env={})
    metrics = Metrics()
    metrics.child(metrics.deployment_up, "mock/fail-500").set(0)  # as the router writes it
    state = MemoryState()
    await refresh_deployment_up(state, config, metrics, time.time())
    assert metrics.registry.get_sample_value(*UP) == 1.0
    metrics.child(metrics.deployment_up, "mock/fail-500").set(0)
    (tmp_path / "config.toml").write_text(CONFIG.replace("fail-500", "echo"))
    edited = load_config(tmp_path / "config.toml", env={})
    await refresh_deployment_up(state, edited, metrics, time.time())
    assert metrics.registry.get_sample_value(*UP) is None
    assert metrics.registry.get_sample_value(UP[0], {"deployment": "mock/echo"}) == 1.0
    metrics.child(metrics.deployment_up, "mock/fail-500").set(0)  # back again, memo or not
    assert metrics.registry.get_sample_value(*UP) == 0.0
