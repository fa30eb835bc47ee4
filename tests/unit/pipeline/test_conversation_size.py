"""A conversation the gateway keeps (a translated deployment's, `previous_response_id`) is
bounded by `[state] responses_max_bytes`, on both state backends: a follow-up that would grow
it past the bound is refused before the upstream call, an answer that grew it past is
remembered without it, and its follow-ups are refused the same way (400
`context_length_exceeded`, never a quiet `previous_response_not_found`)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.config import load_config
from gateway.observability.recorder import MemorySink
from gateway.pipeline.conversations import KEY_PREFIX
from gateway.pipeline.services import Services
from tests.redis_server import RedisServer, start_redis_or_skip

MAX_BYTES = 4096
CONFIG = f"""
{{state}}
responses_max_bytes = {MAX_BYTES}

[[providers]]
name = "chat"
type = "mock"
responses = false

[[models]]
name = "translated"
[[models.deployments]]
provider = "chat"
model = "echo"

[[keys]]
id = "mine"
key_sha256 = "{hashlib.sha256(b"sk-mine").hexdigest()}"
"""
HEADERS = {"authorization": "Bearer sk-mine"}
# Redis's own bounds are 250 ms a call and 1 s a connection: a bound on latency that a loaded
# test machine can exceed (a pause of this process, a GC pass, in the several turns of the loop
# a first connection takes), and a call past it closes the gate, so the answer is not remembered
# and its follow-up is refused with 503. What is tested here is the size bound, not latency.
REDIS_TIMEOUTS = "timeout_ms = 10000\nconnect_timeout_ms = 10000"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis_or_skip()
    yield server
    server.stop()


@pytest.fixture(params=["memory", "redis"])
async def client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    state = "[state]"
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        state += f'\nbackend = "redis"\nredis_url = "{server.url}"\n{REDIS_TIMEOUTS}'
    (tmp_path / "config.toml").write_text(CONFIG.format(state=state))
    app = create_app(
        load_config(tmp_path / "config.toml", env={}), recorder=MemorySink(), watch_config=False
    )
    services: Services = app.state.services
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as made:
        yield made, services
    await services.aclose()


async def ask(client: httpx.AsyncClient, text: str, previous: str | None = None) -> httpx.Response:
    body: dict[str, object] = {"model": "translated", "input": text}
    if previous is not None:
        body["previous_response_id"] = previous
    return await client.post("/v1/responses", json=body, headers=HEADERS)


async def remembered(services: Services, response_id: str) -> bytes:
    stored = await services.state.recall(KEY_PREFIX + response_id, time.time())
    assert stored is not None
    return stored


def too_long(answer: httpx.Response) -> bool:
    error = answer.json()["error"]
    return answer.status_code == 400 and (error["code"], error["param"], error["type"]) == (
        "context_length_exceeded",
        "input",
        "invalid_request_error",
    )


async def test_a_conversation_past_the_bound_is_refused_as_too_long(
    client: tuple[httpx.AsyncClient, Services],
) -> None:
    http, services = client
    first = await ask(http, "a" * 500)
    assert first.status_code == 200
    first_id = first.json()["id"]
    assert b'"too_long"' not in await remembered(services, first_id)
    # Its 1,100 bytes of items and 3,000 more input: refused before the upstream is asked.
    refused = await ask(http, "b" * 3000, previous=first_id)
    assert too_long(refused)
    assert "x-gateway-attempts" not in refused.headers
    # 2,700 bytes of items: sent; the answer (1,500 more) makes the conversation too long.
    second = await ask(http, "c" * 1500, previous=first_id)
    assert second.status_code == 200 and second.headers["x-gateway-attempts"] == "1"
    second_id = second.json()["id"]
    assert too_long(await ask(http, "and now?", previous=second_id))
    assert len(await remembered(services, second_id)) <= MAX_BYTES
    # The response object alone fits: still served by GET.
    fetched = await http.get(f"/v1/responses/{second_id}", headers=HEADERS)
    assert fetched.status_code == 200 and fetched.json()["id"] == second_id
    # The first turn is untouched: it can still be continued.
    assert (await ask(http, "and then?", previous=first_id)).status_code == 200


async def test_an_answer_too_large_to_keep_at_all_is_not_served_again(
    client: tuple[httpx.AsyncClient, Services],
) -> None:
    http, services = client
    first = await ask(http, "a" * 3500)  # its response object alone is over the bound
    assert first.status_code == 200
    first_id = first.json()["id"]
    assert len(await remembered(services, first_id)) <= MAX_BYTES
    assert too_long(await ask(http, "and now?", previous=first_id))
    fetched = await http.get(f"/v1/responses/{first_id}", headers=HEADERS)
    assert fetched.status_code == 404
    assert fetched.json()["error"]["code"] == "response_not_found"
