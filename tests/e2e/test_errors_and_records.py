"""Bad input gets a clear error in the right shape, every request leaves one record, secrets
stay secret."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conditions import wait_until
from tests.e2e.conftest import GATEWAY_KEY, LIMITED_KEY, PROVIDER_SECRET, gateway_config
from tests.e2e.records import read_records, wait_for_record, wait_for_records
from tests.procs import Proc, start_gateway

AUTH = {"authorization": f"Bearer {GATEWAY_KEY}"}
CHAT = {"model": "gpt-mock", "messages": [{"role": "user", "content": "hi"}]}


def openai_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert {"message", "type", "param", "code"} <= set(body["error"])
    return dict(body["error"])


@pytest.mark.parametrize(
    ("content", "headers", "status", "code", "param"),
    [
        (b"{not json", AUTH, 400, "invalid_json", None),
        (b"[1, 2]", AUTH, 400, "invalid_json", None),
        (b'{"a":' * 129 + b"1" + b"}" * 129, AUTH, 400, "json_too_deep", None),
        (b'{"a":' * 1100 + b"1" + b"}" * 1100, AUTH, 400, "json_too_deep", None),  # past orjson's
        (json.dumps({"model": "gpt-mock"}).encode(), AUTH, 400, None, "messages"),
        (json.dumps({"model": "gpt-mock", "messages": "hi"}).encode(), AUTH, 400, None, "messages"),
        (json.dumps({"model": 5, "messages": []}).encode(), AUTH, 400, None, "model"),
        (json.dumps({**CHAT, "stream": "yes"}).encode(), AUTH, 400, None, "stream"),
        (
            json.dumps({**CHAT, "model": "no-such-model"}).encode(),
            AUTH,
            404,
            "model_not_found",
            "model",
        ),
        (json.dumps(CHAT).encode(), {}, 401, "missing_api_key", None),
        (
            json.dumps(CHAT).encode(),
            {"authorization": "Bearer sk-wrong"},
            401,
            "invalid_api_key",
            None,
        ),
        (
            json.dumps({**CHAT, "model": "echo"}).encode(),
            {"authorization": f"Bearer {LIMITED_KEY}"},
            403,
            "model_not_allowed",
            "model",
        ),
        (json.dumps({**CHAT, "model": "fail"}).encode(), AUTH, 502, "upstream_error", None),
        (
            json.dumps({**CHAT, "model": "malformed"}).encode(),
            AUTH,
            502,
            "upstream_malformed",
            None,
        ),
    ],
)
def test_bad_requests_get_openai_errors_and_records(
    gateway: Proc,
    content: bytes,
    headers: dict[str, str],
    status: int,
    code: str | None,
    param: str | None,
) -> None:
    response = httpx.post(
        gateway.url + "/v1/chat/completions", content=content, headers=headers, timeout=10
    )
    assert response.status_code == status
    error = openai_error(response)
    assert error["message"]
    if code:
        assert error["code"] == code
    if param:
        assert error["param"] == param
    assert gateway.log_path is not None
    record = wait_for_record(gateway.log_path, response.headers["x-request-id"])
    assert record["status"] == status and record["error_type"]


def test_oversized_body_is_413(gateway: Proc) -> None:
    big = {"model": "gpt-mock", "messages": [{"role": "user", "content": "x" * 70_000}]}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=big, headers=AUTH, timeout=10)
    assert response.status_code == 413
    assert openai_error(response)["code"] == "request_too_large"


def test_unknown_route_and_wrong_method(gateway: Proc) -> None:
    response = httpx.post(gateway.url + "/v1/nothing-here", json={}, headers=AUTH)
    assert response.status_code == 404 and openai_error(response)["code"] == "unknown_route"
    response = httpx.get(gateway.url + "/v1/chat/completions", headers=AUTH)
    assert response.status_code == 405 and openai_error(response)["message"]


def test_health_and_ready(gateway: Proc) -> None:
    assert httpx.get(gateway.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(gateway.url + "/readyz").json()
    assert ready["status"] == "ready" and ready["config_version"]


def test_sdk_sees_typed_errors(gateway: Proc) -> None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0) as client:
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(
                model="nope", messages=[{"role": "user", "content": "hi"}]
            )
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(
                model="fail", messages=[{"role": "user", "content": "hi"}]
            )
    assert info.value.status_code == 502


def test_drop_mid_stream_ends_with_error_event(gateway: Proc) -> None:
    received: list[str] = []
    with (
        openai.OpenAI(
            base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0, timeout=10
        ) as client,
        pytest.raises(openai.APIError) as info,
    ):
        for chunk in client.chat.completions.create(
            model="drop", messages=[{"role": "user", "content": "hi"}], stream=True
        ):
            received.append(chunk.choices[0].delta.content or "")
    assert received, "the chunks before the drop reach the client"
    assert "mid-stream" in str(info.value)


def test_client_disconnect_closes_upstream_and_is_recorded(
    gateway: Proc, slow_upstream: Proc
) -> None:
    before = httpx.get(slow_upstream.url + "/_mock/stats").json()["cancelled_streams"]
    body = {"model": "slow-stream", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.Client(timeout=10) as client:
        with client.stream(
            "POST", gateway.url + "/v1/chat/completions", json=body, headers=AUTH
        ) as response:
            request_id = response.headers["x-request-id"]
            next(response.iter_bytes())
    wait_until(
        lambda: httpx.get(slow_upstream.url + "/_mock/stats").json()["cancelled_streams"] > before,
        1.0,
        message="the upstream stream is still open after the client left",
    )
    assert gateway.log_path is not None
    record = wait_for_record(gateway.log_path, request_id)
    assert record["error_type"] == "client_closed" and record["status"] == 499


def test_provider_key_never_leaks(gateway: Proc, mock_upstream: Proc) -> None:
    seen: list[str] = []
    request_ids = []
    for model in ("gpt-mock", "fail", "no-such", "claude-mock"):
        response = httpx.post(
            gateway.url + "/v1/chat/completions", json={**CHAT, "model": model}, headers=AUTH
        )
        seen.append(response.text)
        seen.extend(f"{k}: {v}" for k, v in response.headers.items())
        request_ids.append(response.headers["x-request-id"])
    stats = httpx.get(mock_upstream.url + "/_mock/stats").json()
    assert any(PROVIDER_SECRET in header for header in stats["auth_headers_seen"]), (
        "the key did reach the provider"
    )
    assert gateway.log_path is not None
    for request_id in request_ids:  # everything these requests log has been written
        wait_for_record(gateway.log_path, request_id)
    assert PROVIDER_SECRET not in "\n".join(seen)
    assert PROVIDER_SECRET not in gateway.log_path.read_text()
    assert PROVIDER_SECRET not in "".join(gateway.output)


async def _mixed_request(client: httpx.AsyncClient, url: str, kind: str) -> None:
    chat = {"model": "gpt-mock", "messages": [{"role": "user", "content": "hello"}]}
    if kind == "good":
        response = await client.post(url, json=chat, headers=AUTH)
        assert response.status_code == 200
    elif kind == "bad_json":
        response = await client.post(url, content=b"{", headers=AUTH)
        assert response.status_code == 400
    elif kind == "bad_key":
        response = await client.post(url, json=chat, headers={"authorization": "Bearer nope"})
        assert response.status_code == 401
    elif kind == "unknown_model":
        response = await client.post(url, json={**chat, "model": "missing"}, headers=AUTH)
        assert response.status_code == 404
    elif kind == "stream":
        async with client.stream(
            "POST", url, json={**chat, "stream": True}, headers=AUTH
        ) as response:
            body = b"".join([chunk async for chunk in response.aiter_bytes()])
            assert body.endswith(b"data: [DONE]\n\n")
    elif kind == "aborted":
        async with client.stream(
            "POST", url, json={**chat, "model": "slow-stream", "stream": True}, headers=AUTH
        ) as response:
            async for _ in response.aiter_bytes():
                break


def test_thousand_mixed_requests_leave_thousand_records(
    tmp_path: Path, mock_upstream: Proc, slow_upstream: Proc
) -> None:
    log_path = tmp_path / "records.jsonl"
    config = tmp_path / "config.toml"
    config.write_text(gateway_config(mock_upstream.url, slow_upstream.url, log_path))
    proc = start_gateway(config, env={"TEST_PROVIDER_KEY": PROVIDER_SECRET})
    kinds = (
        ["good"] * 500
        + ["bad_json"] * 100
        + ["bad_key"] * 100
        + ["unknown_model"] * 100
        + ["stream"] * 150
        + ["aborted"] * 50
    )
    random.Random(7).shuffle(kinds)
    url = proc.url + "/v1/chat/completions"

    async def run() -> None:
        limit = asyncio.Semaphore(16)
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=32)) as client:

            async def one(kind: str) -> None:
                async with limit:
                    await _mixed_request(client, url, kind)

            await asyncio.gather(*(one(kind) for kind in kinds))

    try:
        asyncio.run(run())
        # The aborted streams are recorded once the gateway notices their clients left.
        wait_for_records(len(kinds), log_path)
    finally:
        assert proc.stop() == 0  # a drain SIGTERM asked for is a success
    records = read_records(log_path)
    assert len(records) == 1000
    assert len({r["id"] for r in records}) == 1000
    statuses = sorted(r["status"] for r in records)
    assert statuses.count(200) == 650 and statuses.count(499) == 50
    assert statuses.count(400) == 100 and statuses.count(401) == 100 and statuses.count(404) == 100
