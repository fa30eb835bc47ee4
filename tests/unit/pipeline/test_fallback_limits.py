"""A fallback model's own limits (`[model_limits."B"]`) bind a request the router moves to B:
reserved before B is called (a refusal skips B), settled with the answer's tokens and cost,
B's concurrency slot freed before the last byte; the requested model's own counters keep the
request (rpm) but give back the tokens and spend it never used. Real stages, the in-process
mock provider (`fail-500` fails, any other name answers), memory and Redis state."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.types import Message

from gateway.app import GatewayApp, create_app
from gateway.config.load import load_config
from gateway.observability.recorder import MemorySink
from gateway.pipeline.services import Services
from tests.mock_config import key_table
from tests.redis_server import RedisServer, start_redis_or_skip

MODELS = """
[routing]
breaker_failures = 1000

[[providers]]
name = "mock"
type = "mock"

[[models]]
name = "mini"
fallbacks = ["big", "spare"]
max_attempts = 1
[[models.deployments]]
provider = "mock"
model = "fail-500"

[[models]]
name = "solo"
fallbacks = ["big"]
max_attempts = 1
[[models.deployments]]
provider = "mock"
model = "fail-500"

[[models]]
name = "chain"
fallbacks = ["flaky", "big"]
max_attempts = 1
[[models.deployments]]
provider = "mock"
model = "fail-500"

[[models]]
name = "flaky"
max_attempts = 1
[[models.deployments]]
provider = "mock"
model = "fail-500"

[[models]]
name = "big"
[[models.deployments]]
provider = "mock"
model = "big-model"
input_cost_per_1m = 1000.0
output_cost_per_1m = 2000.0

[[models]]
name = "spare"
[[models.deployments]]
provider = "mock"
model = "spare-model"
"""
# The key's own limits never bind; `big` admits two requests a minute, one at a time.
RATED = """
[limits]
rpm = 100
tpm = 100000
max_concurrent = 10

[model_limits."mini"]
rpm = 100
tpm = 100000
max_concurrent = 10

[model_limits."big"]
rpm = 2
tpm = 100000
max_concurrent = 1
"""
# The key's own limits, and `big`'s: nothing of `mini`'s own to give back.
KEYED = """
[limits]
rpm = 100
tpm = 100000
max_concurrent = 10

[model_limits."big"]
tpm = 100000
max_concurrent = 1
"""
# Budgets on both models (and the key): what each settles.
BUDGETED = """
[limits]
budget_usd_per_day = 100.0

[model_limits."mini"]
tpm = 100000
max_concurrent = 10
budget_usd_per_day = 100.0

[model_limits."big"]
rpm = 100
tpm = 100000
max_concurrent = 1
budget_usd_per_day = 100.0
"""
# A fallback that fails too (`flaky`), with limits of its own, before `big`.
CHAINED = """
[model_limits."flaky"]
rpm = 100
tpm = 100000
max_concurrent = 1

[model_limits."big"]
tpm = 100000
max_concurrent = 1
"""
# Only the fallback model is limited: the requested one takes no limits at all.
ONLY_BIG = """
[model_limits."big"]
rpm = 1
"""
CHAT = {"model": "mini", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 5}
_ids = itertools.count(1)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    # The key's concurrency slots on `big` in use as the answer's last message left.
    big_slots_at_last_byte: float


MakeGateway = Callable[[str], Awaitable["Gateway"]]


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis_or_skip()
    yield server
    server.stop()


@pytest.fixture(params=["memory", "redis"])
def state_config(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return ""
    server: RedisServer = request.getfixturevalue("redis_server")
    return f'[state]\nbackend = "redis"\nredis_url = "{server.url}"\n'


class Gateway:
    def __init__(self, app: GatewayApp, key_id: str) -> None:
        self.app = app
        self.key_id = key_id  # a key id of its own per test: the Redis server is shared
        self.services: Services = app.state.services

    async def call(self, body: dict[str, Any]) -> Answer:
        raw = orjson.dumps(body)
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/chat/completions",
            "headers": [
                (b"authorization", b"Bearer sk-demo"),
                (b"content-type", b"application/json"),
            ],
            "query_string": b"",
        }
        received = False
        stays = asyncio.Event()  # never set: the client stays connected
        start: Message = {}
        chunks: list[bytes] = []
        slots: list[float] = []

        async def receive() -> Message:
            nonlocal received
            if received:
                await stays.wait()
            received = True
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                slots.append((await self.usage("model", "big"))["concurrent"])

        await self.app(scope, receive, send)
        headers = {k.decode(): v.decode() for k, v in start["headers"]}
        return Answer(start["status"], headers, b"".join(chunks), slots[0])

    async def usage(self, scope: str, model: str | None = None) -> dict[str, float]:
        subject = self.key_id if model is None else f"{self.key_id}/{model}"
        return await self.services.limiter.state.usage(scope, subject, time.time())

    async def spend_today(self, scope: str, model: str | None = None) -> float:
        await self.services.limiter.flush()
        subject = self.key_id if model is None else f"{self.key_id}/{model}"
        return (await self.services.limiter.state.spend(scope, subject, time.time()))["day"]

    def record(self, request_id: str) -> dict[str, Any]:
        self.services.records.write_pending()
        sink = self.services.recorder
        assert isinstance(sink, MemorySink)
        return next(r for r in sink.records if r["id"] == request_id)


@pytest.fixture
async def gateway_for(tmp_path: Path, state_config: str) -> AsyncIterator[MakeGateway]:
    made: list[Gateway] = []

    async def make(policy: str) -> Gateway:
        key_id = f"fbl{next(_ids)}-{time.time_ns()}"
        config = state_config + MODELS + key_table(key_id, policy="capped")
        (tmp_path / "config.toml").write_text(config)
        (tmp_path / "policies").mkdir(exist_ok=True)
        (tmp_path / "policies" / "capped.toml").write_text(policy)
        app = create_app(
            load_config(tmp_path / "config.toml"), recorder=MemorySink(), watch_config=False
        )
        gateway = Gateway(app, key_id)
        await gateway.services.limiter.state.delete("warm-up")  # connected (Redis)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.services.aclose()


async def test_the_fallback_models_rpm_binds_and_a_refusal_skips_it(
    gateway_for: MakeGateway,
) -> None:
    """`big` admits two requests a minute: the third skips it for `spare`; on the old code
    every request flooded `big`, past its limit."""
    gateway = await gateway_for(RATED)
    first, second, third = [await gateway.call(CHAT) for _ in range(3)]
    served = [a.headers["x-gateway-deployment"] for a in (first, second, third)]
    assert served == ["mock/big-model", "mock/big-model", "mock/spare-model"]
    assert (await gateway.usage("model", "big"))["requests_1m"] == 2
    record = gateway.record(third.headers["x-request-id"])
    assert record["fallbacks_limited"] == ["big"] and record["fallback_used"] is True
    assert [a["model"] for a in record["attempts"]] == ["mini", "spare"]
    assert "fallbacks_limited" not in gateway.record(first.headers["x-request-id"])
    # The rate headers still describe the checks of the requested model.
    assert third.headers["x-ratelimit-limit-requests"] == "100"


async def test_with_no_fallback_left_the_client_gets_the_last_upstream_failure(
    gateway_for: MakeGateway,
) -> None:
    """`solo` falls back to `big` only: once `big`'s limit refuses, the client gets `solo`'s
    own failure, as without fallbacks (not a 429 about a model it did not ask for)."""
    gateway = await gateway_for(ONLY_BIG)
    served = await gateway.call({**CHAT, "model": "solo"})
    assert served.status == 200 and served.headers["x-gateway-deployment"] == "mock/big-model"
    refused = await gateway.call({**CHAT, "model": "solo"})
    assert (
        refused.status == 502
        and orjson.loads(refused.body)["error"]["type"] != "rate_limit_exceeded"
    )
    record = gateway.record(refused.headers["x-request-id"])
    assert record["fallbacks_limited"] == ["big"] and record["fallback_used"] is False
    assert [a["model"] for a in record["attempts"]] == ["solo"]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(
    "policy", [RATED, KEYED, BUDGETED], ids=["rated", "key-and-big", "budgeted"]
)
async def test_the_answer_settles_on_the_fallback_models_counters(
    gateway_for: MakeGateway, policy: str, stream: bool
) -> None:
    """The tokens (and cost) of `big`'s answer count on `big`'s tpm (and budget) and the
    key's; `mini`, which failed, keeps the request (rpm) but gives back its tokens, budget and
    slot. (In memory without budgets the stage's reservation is the prepared one.)"""
    gateway = await gateway_for(policy)
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}} if stream else CHAT
    answer = await gateway.call(body)
    assert answer.status == 200 and answer.headers["x-gateway-deployment"] == "mock/big-model"
    record = gateway.record(answer.headers["x-request-id"])
    tokens = record["prompt_tokens"] + record["completion_tokens"]
    assert tokens > 0 and record["fallback_used"] is True
    assert answer.big_slots_at_last_byte == 0  # freed before the last byte, as the key's
    big, mini = await gateway.usage("model", "big"), await gateway.usage("model", "mini")
    assert big["tokens_1m"] == tokens and big["concurrent"] == 0 and mini["concurrent"] == 0
    assert mini["tokens_1m"] == 0
    if policy == RATED:
        assert mini["requests_1m"] == 1 and big["requests_1m"] == 1
    if policy != BUDGETED:
        assert (await gateway.usage("key"))["tokens_1m"] == tokens
        assert (await gateway.usage("key"))["concurrent"] == 0
    else:
        cost = record["cost_usd"]
        assert cost > 0
        assert await gateway.spend_today("model", "big") == pytest.approx(cost)
        assert await gateway.spend_today("model", "mini") == 0
        assert await gateway.spend_today("key") == pytest.approx(cost)


async def test_a_fallback_that_fails_gives_back_its_own_limits(gateway_for: MakeGateway) -> None:
    """`chain` -> `flaky` (fails, limits of its own) -> `big`: `flaky` keeps the request on
    its rpm, but its tokens and slot go back when the router moves on to `big`."""
    gateway = await gateway_for(CHAINED)
    answer = await gateway.call({**CHAT, "model": "chain"})
    assert answer.headers["x-gateway-deployment"] == "mock/big-model"
    record = gateway.record(answer.headers["x-request-id"])
    assert [a["model"] for a in record["attempts"]] == ["chain", "flaky", "big"]
    flaky, big = await gateway.usage("model", "flaky"), await gateway.usage("model", "big")
    assert flaky == {"requests_1m": 1, "tokens_1m": 0, "concurrent": 0}
    tokens = record["prompt_tokens"] + record["completion_tokens"]
    assert big["tokens_1m"] == tokens and big["concurrent"] == 0


async def test_a_fallback_model_limited_alone_binds_a_request_without_limits(
    gateway_for: MakeGateway,
) -> None:
    """The requested model has no limits at all (no reservation before routing): `big`'s own
    rpm still binds."""
    gateway = await gateway_for(ONLY_BIG)
    answers = [await gateway.call(CHAT) for _ in range(2)]
    served = [a.headers["x-gateway-deployment"] for a in answers]
    assert served == ["mock/big-model", "mock/spare-model"]
