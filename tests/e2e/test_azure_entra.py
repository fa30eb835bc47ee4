"""Azure OpenAI with key auth disabled, through the real gateway and the real SDKs: Microsoft
Entra ID tokens from a token endpoint on loopback (`tests/token_server.py`), sent as
`Authorization: Bearer` to an upstream that refuses anything else (`compat_upstream.py`,
deployment `entra-only`), cached, refreshed once expired, got once for many waiting requests;
a token endpoint that refuses fails the request as an unreachable upstream does."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from anthropic.types import MessageParam
from openai.types.chat import ChatCompletionMessageParam
from prometheus_client.parser import text_string_to_metric_families

from tests.conditions import wait_until
from tests.e2e.compat_upstream import CompatUpstream, running_compat_upstream
from tests.e2e.conftest import GATEWAY_KEY
from tests.e2e.records import wait_for_record
from tests.procs import Proc, start_gateway
from tests.token_server import AADSTS_401, TokenServer, running_token_server, token

SECRET = "Q~entra.secret_0123456789"
HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
CLAUDE_HI: list[MessageParam] = [{"role": "user", "content": "hi"}]


@dataclass
class Served:
    gateway: Proc
    upstream: CompatUpstream
    tokens: TokenServer  # answers at once, tokens valid for an hour
    short: TokenServer  # its first token is already expired
    slow: TokenServer  # answers once its gate is set
    refusing: TokenServer  # AADSTS7000215 for every request


def _provider(name: str, authority: str) -> str:
    return f"""
[[providers]]
name = "{name}"
type = "azure"
base_url = "{{upstream}}"
api_version = "2024-10-21"
auth = "entra_client_secret"
tenant_id = "contoso"
client_id = "app-{name}"
client_secret_env = "AZ_SECRET"
authority = "{authority}"

# Azure's v1 API: no api-version, the deployment as `model`.
[[providers]]
name = "{name}-v1"
type = "openai"
base_url = "{{upstream}}/openai/v1"
auth = "entra_client_secret"
tenant_id = "contoso"
client_id = "app-{name}"
client_secret_env = "AZ_SECRET"
authority = "{authority}"
"""


def _model(name: str, provider: str, deployment: str = "entra-only", extra: str = "") -> str:
    return (
        f'\n[[models]]\nname = "{name}"\n{extra}[[models.deployments]]\n'
        f'provider = "{provider}"\nmodel = "{deployment}"\n'
    )


def _config(upstream: CompatUpstream, authorities: dict[str, TokenServer], log: Path) -> str:
    text = f'[logging]\npath = "{log}"\n'
    for name, server in authorities.items():
        text += _provider(name, server.url).replace("{upstream}", upstream.url)
    text += _model("entra", "az")
    text += _model("entra-echo", "az", "echo-token")
    text += _model("entra-v1", "az-v1")
    text += _model("entra-short", "az-short")
    text += _model("entra-slow", "az-slow")
    text += _model("entra-refused", "az-refused")
    text += _model("entra-fallback", "az-refused", extra='fallbacks = ["entra"]\n')
    return text + '\n[[keys]]\nid = "k"\nkey_env = "GW_KEY"\n'


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("entra")
    with (
        running_compat_upstream() as upstream,
        running_token_server() as tokens,
        running_token_server() as short,
        running_token_server() as slow,
        running_token_server() as refusing,
    ):
        short.lifetimes = [0.0, 3600.0]
        refusing.refusal = (401, AADSTS_401)
        authorities = {"az": tokens, "az-short": short, "az-slow": slow, "az-refused": refusing}
        config = _config(upstream, authorities, root / "requests.jsonl")
        (root / "config.toml").write_text(config)
        env = {"AZ_SECRET": SECRET, "GW_KEY": GATEWAY_KEY}
        gateway = start_gateway(root / "config.toml", env=env)
        gateway.log_path = root / "requests.jsonl"
        try:
            yield Served(gateway, upstream, tokens, short, slow, refusing)
        finally:
            gateway.stop()


@pytest.fixture(scope="module")
def sdk(served: Served) -> Iterator[openai.OpenAI]:
    url = served.gateway.url + "/v1"
    with openai.OpenAI(base_url=url, api_key=GATEWAY_KEY, max_retries=0) as client:
        yield client


def _sent_tokens(served: Served, deployment: str, before: int) -> list[str]:
    return [
        received.headers.get("authorization", "")
        for received in served.upstream.received[before:]
        if received.path == f"/openai/deployments/{deployment}/chat/completions"
    ]


def test_the_openai_sdk_is_served_with_one_cached_entra_token(
    served: Served, sdk: openai.OpenAI
) -> None:
    before = len(served.upstream.received)
    client = sdk
    for _ in range(2):
        answer = client.chat.completions.create(model="entra", messages=HI)
        assert answer.choices[0].message.content == "Hello there"
    stream = client.chat.completions.create(model="entra", messages=HI, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Hi"
    assert _sent_tokens(served, "entra-only", before) == [f"Bearer {token(1)}"] * 3
    assert all("api-key" not in r.headers for r in served.upstream.received[before:])
    (asked,) = served.tokens.received
    assert (asked.method, asked.path) == ("POST", "/contoso/oauth2/v2.0/token")
    assert asked.form["client_secret"] == SECRET and asked.form["client_id"] == "app-az"
    assert asked.form["scope"] == "https://cognitiveservices.azure.com/.default"


def test_an_expired_token_is_replaced_before_the_next_request(
    served: Served, sdk: openai.OpenAI
) -> None:
    before = len(served.upstream.received)
    client = sdk
    for _ in range(3):
        client.chat.completions.create(model="entra-short", messages=HI)
    # The first token expired as it came (it still served its own request); the second lasts.
    assert _sent_tokens(served, "entra-only", before) == [
        f"Bearer {token(1)}",
        f"Bearer {token(2)}",
        f"Bearer {token(2)}",
    ]
    assert len(served.short.received) == 2


def _inflight(gateway: Proc) -> float:
    text = httpx.get(gateway.url + "/metrics", timeout=30).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "gateway_inflight_requests"
    )


def test_many_requests_waiting_for_a_token_make_one_token_request(served: Served) -> None:
    served.slow.gate.clear()
    before = len(served.upstream.received)

    async def ask_all() -> list[str]:
        async with openai.AsyncOpenAI(
            base_url=served.gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0
        ) as client:
            calls = [
                asyncio.create_task(client.chat.completions.create(model="entra-slow", messages=HI))
                for _ in range(16)
            ]
            # Every request is inside the gateway, waiting for the one token request.
            while _inflight(served.gateway) < 16 or served.slow.held < 1:
                await asyncio.sleep(0.01)
            served.slow.gate.set()
            return [
                answer.choices[0].message.content or "" for answer in await asyncio.gather(*calls)
            ]

    assert asyncio.run(ask_all()) == ["Hello there"] * 16
    assert len(served.slow.received) == 1
    assert _sent_tokens(served, "entra-only", before) == [f"Bearer {token(1)}"] * 16


def test_a_refused_token_request_is_an_upstream_failure_in_each_endpoints_shape(
    served: Served, sdk: openai.OpenAI
) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.chat.completions.create(model="entra-refused", messages=HI)
    assert caught.value.status_code == 502
    error = caught.value.body
    assert isinstance(error, dict)
    # As from an upstream that cannot be reached.
    assert (error["type"], error["code"]) == ("api_error", "upstream_error")
    assert "could not get a Microsoft Entra ID token" in error["message"]
    assert "401 invalid_client (AADSTS7000215)" in error["message"]
    with (
        anthropic.Anthropic(
            base_url=served.gateway.url, api_key=GATEWAY_KEY, max_retries=0
        ) as claude,
        pytest.raises(anthropic.APIStatusError) as refused,
    ):
        claude.messages.create(model="entra-refused", max_tokens=10, messages=CLAUDE_HI)
    assert refused.value.status_code == 502
    body = refused.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert "could not get a Microsoft Entra ID token" in body["error"]["message"]
    record = wait_for_record(
        served.gateway.log_path or Path(), refused.value.response.headers["x-request-id"]
    )
    assert record["status"] == 502
    # Retried as a connect failure is, each attempt counted with its kind.
    assert {attempt["error"] for attempt in record["attempts"]} == {"token"}
    # The reason is logged; the secret never is, nor the token endpoint's description of it.
    wait_until(lambda: any("AADSTS7000215" in line for line in served.gateway.output), 5)
    assert not any(SECRET in line for line in served.gateway.output)


def test_a_refused_token_request_moves_on_to_the_fallback(
    served: Served, sdk: openai.OpenAI
) -> None:
    answer = sdk.chat.completions.with_raw_response.create(model="entra-fallback", messages=HI)
    assert answer.http_response.status_code == 200
    assert answer.headers["x-gateway-deployment"] == "az/entra-only"
    record = wait_for_record(served.gateway.log_path or Path(), answer.headers["x-request-id"])
    assert record["fallback_used"] is True


def test_a_token_an_upstream_echoes_never_reaches_the_client(
    served: Served, sdk: openai.OpenAI
) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk.chat.completions.create(model="entra-echo", messages=HI)
    assert "eyJ" not in caught.value.response.text
    assert "Invalid token: ****" in caught.value.response.text


def test_azures_v1_api_is_served_with_the_same_cached_token(
    served: Served, sdk: openai.OpenAI
) -> None:
    client = sdk
    client.chat.completions.create(model="entra", messages=HI)  # the token of provider `az`
    before = len(served.upstream.received)
    answer = client.chat.completions.create(model="entra-v1", messages=HI)
    assert answer.choices[0].message.content == "Hello there"
    (sent,) = served.upstream.received[before:]
    assert (sent.path, sent.query, sent.body["model"]) == (
        "/openai/v1/chat/completions",
        "",
        "entra-only",
    )
    # Same credential, same network: the two providers share one token.
    assert sent.headers["authorization"] == f"Bearer {token(1)}"
    assert len(served.tokens.received) == 1
