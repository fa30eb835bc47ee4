"""The openai SDK through the gateway to upstreams where operators find them: an HTTPS upstream
with a private CA reachable only through a CONNECT proxy (from HTTPS_PROXY with NO_PROXY, or set
as the provider's `proxy`; `auto` takes http1 for both), and Azure OpenAI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.e2e.conftest import GATEWAY_KEY, PROVIDER_SECRET
from tests.e2e.network_upstream import (
    APIM_DENIED,
    APIM_PREFIX,
    APIM_SUBSCRIPTION_KEY,
    UPSTREAM_HOST,
    Proxy,
    Upstream,
    running_connect_proxy,
    running_https_upstream,
)
from tests.procs import Proc, start_gateway

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello"}]
REVOKED_APIM_KEY = "apim-revoked-0123456789abcdef"


def config(upstream: Upstream, log: Path, proxy: Proxy) -> str:
    private = f"https://{UPSTREAM_HOST}:{upstream.port}/v1"
    azure = f"https://127.0.0.1:{upstream.port}"
    providers = f"""
[logging]
path = "{log}"

[[providers]]
name = "private"
type = "openai"
base_url = "{private}"
api_key_env = "TEST_PROVIDER_KEY"
ca_file = "{upstream.ca_file}"

[[providers]]
name = "private-set-proxy"
type = "openai"
base_url = "{private}"
api_key_env = "TEST_PROVIDER_KEY"
ca_file = "{upstream.ca_file}"
proxy = "{proxy.url}"

[[providers]]
name = "private-no-ca"
type = "openai"
base_url = "https://127.0.0.1:{upstream.port}/v1"

[[providers]]
name = "azure"
type = "azure"
base_url = "{azure}"
api_version = "2024-06-01"
api_key_env = "TEST_PROVIDER_KEY"
ca_file = "{upstream.ca_file}"

[[providers]]
name = "azure-http1"
type = "azure"
base_url = "{azure}/"
deployment = "gpt4o-named"
api_version = "2024-10-21"
api_key_env = "TEST_PROVIDER_KEY"
ca_file = "{upstream.ca_file}"
transport = "http1"
query = {{ tenant = "blue" }}

[[providers]]
name = "azure-apim"
type = "azure"
base_url = "{azure}{APIM_PREFIX}"
api_version = "2024-10-21"
ca_file = "{upstream.ca_file}"
headers_env = {{ "Ocp-Apim-Subscription-Key" = "TEST_APIM_KEY" }}

[[providers]]
name = "azure-apim-revoked"
type = "azure"
base_url = "{azure}{APIM_PREFIX}"
api_version = "2024-10-21"
ca_file = "{upstream.ca_file}"
headers_env = {{ "Ocp-Apim-Subscription-Key" = "TEST_APIM_REVOKED_KEY" }}

[[providers]]
name = "capped"
type = "openai"
base_url = "https://127.0.0.1:{upstream.port}/v1"
ca_file = "{upstream.ca_file}"
max_response_bytes = 250
"""
    models = [
        ("private", "private", "m-private"),
        ("private-set-proxy", "private-set-proxy", "m-set-proxy"),
        ("untrusted", "private-no-ca", "m"),
        ("azure", "azure", "gpt4o-prod"),
        ("azure-http1", "azure-http1", "ignored-by-azure"),
        ("azure-apim", "azure-apim", "gpt4o-behind-apim"),
        ("azure-apim-revoked", "azure-apim-revoked", "gpt4o-behind-apim"),
        ("capped", "capped", "m"),
        ("capped-stream", "capped", "trickle"),
    ]
    for name, provider, model in models:
        providers += (
            f'\n[[models]]\nname = "{name}"\n[[models.deployments]]\n'
            f'provider = "{provider}"\nmodel = "{model}"\n'
        )
    providers += '\n[[keys]]\nid = "k"\nkey_env = "GW_KEY"\n'
    return providers


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Upstream, Proxy]]:
    root = tmp_path_factory.mktemp("network")
    with running_https_upstream(root) as upstream, running_connect_proxy() as proxy:
        (root / "config.toml").write_text(config(upstream, root / "requests.jsonl", proxy))
        env = {
            "TEST_PROVIDER_KEY": PROVIDER_SECRET,
            "GW_KEY": GATEWAY_KEY,
            "TEST_APIM_KEY": APIM_SUBSCRIPTION_KEY,
            "TEST_APIM_REVOKED_KEY": REVOKED_APIM_KEY,
            "HTTPS_PROXY": proxy.url,
            "NO_PROXY": "127.0.0.1,localhost",
        }
        gateway = start_gateway(root / "config.toml", env=env)
        try:
            yield gateway, upstream, proxy
        finally:
            gateway.stop()


@pytest.fixture(scope="module")
def sdk(network: tuple[Proc, Upstream, Proxy]) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=network[0].url + "/v1", api_key=GATEWAY_KEY, max_retries=0
    ) as client:
        yield client


def test_https_through_a_connect_proxy_with_a_private_ca(
    network: tuple[Proc, Upstream, Proxy], sdk: openai.OpenAI
) -> None:
    _, upstream, proxy = network
    reply = sdk.chat.completions.create(model="private", messages=MESSAGES)
    assert reply.choices[0].message.content == "over the wire"  # br-compressed on the wire
    stream = sdk.chat.completions.create(model="private", messages=MESSAGES, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "over the wire"
    assert f"{UPSTREAM_HOST}:{upstream.port}" in proxy.targets  # the only way there
    sent = [r for r in upstream.received if r.body["model"] == "m-private"]
    assert [r.path for r in sent] == ["/v1/chat/completions"] * 2
    assert sent[0].headers["authorization"] == f"Bearer {PROVIDER_SECRET}"


def test_a_proxy_set_on_the_provider_takes_the_fast_client(
    network: tuple[Proc, Upstream, Proxy], sdk: openai.OpenAI
) -> None:
    _, upstream, proxy = network  # which client `auto` picks: tests/unit/upstream/test_transports
    before = proxy.targets.count(f"{UPSTREAM_HOST}:{upstream.port}")
    reply = sdk.chat.completions.create(model="private-set-proxy", messages=MESSAGES)
    assert reply.choices[0].message.content == "over the wire"
    stream = sdk.chat.completions.create(model="private-set-proxy", messages=MESSAGES, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "over the wire"
    assert proxy.targets.count(f"{UPSTREAM_HOST}:{upstream.port}") > before
    sent = [r for r in upstream.received if r.body["model"] == "m-set-proxy"]
    assert len(sent) == 2 and sent[0].headers["authorization"] == f"Bearer {PROVIDER_SECRET}"


def test_an_untrusted_certificate_is_a_clear_502(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.chat.completions.create(model="untrusted", messages=MESSAGES)
    assert caught.value.status_code == 502
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "upstream_tls_error"
    assert "not trusted" in error["message"] and "ca_file" in error["message"]


@pytest.mark.parametrize(
    ("model", "path", "query"),
    [
        ("azure", "/openai/deployments/gpt4o-prod/chat/completions", "api-version=2024-06-01"),
        (
            "azure-http1",
            "/openai/deployments/gpt4o-named/chat/completions",
            "api-version=2024-10-21&tenant=blue",
        ),
    ],
)
def test_azure_gets_its_path_query_and_api_key(
    network: tuple[Proc, Upstream, Proxy], sdk: openai.OpenAI, model: str, path: str, query: str
) -> None:
    _, upstream, proxy = network
    before, proxied = len(upstream.received), len(proxy.targets)
    reply = sdk.chat.completions.create(model=model, messages=MESSAGES)
    assert reply.choices[0].message.content == "over the wire"
    (received,) = upstream.received[before:]
    assert (received.path, received.query) == (path, query)
    assert received.headers["api-key"] == PROVIDER_SECRET
    assert "authorization" not in received.headers
    assert len(proxy.targets) == proxied  # NO_PROXY: both go direct


def test_azure_behind_api_management_gets_its_subscription_key_from_the_environment(
    network: tuple[Proc, Upstream, Proxy], sdk: openai.OpenAI
) -> None:
    """APIM in front of Azure OpenAI wants `Ocp-Apim-Subscription-Key` (the backend's own key
    is APIM's business): `headers_env` sends it without writing it in the file."""
    _, upstream, _ = network
    before = len(upstream.received)
    reply = sdk.chat.completions.create(model="azure-apim", messages=MESSAGES)
    assert reply.choices[0].message.content == "over the wire"
    stream = sdk.chat.completions.create(model="azure-apim", messages=MESSAGES, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "over the wire"
    sent = upstream.received[before:]
    assert [r.path for r in sent] == [
        f"{APIM_PREFIX}/openai/deployments/gpt4o-behind-apim/chat/completions"
    ] * 2
    for received in sent:
        assert received.headers["ocp-apim-subscription-key"] == APIM_SUBSCRIPTION_KEY
        assert "api-key" not in received.headers and "authorization" not in received.headers


def test_a_subscription_key_apim_refuses_is_the_gateways_auth_error(
    network: tuple[Proc, Upstream, Proxy], sdk: openai.OpenAI
) -> None:
    """APIM's own 401 body (`statusCode`, `message`) reaches the client as the provider's
    refusal of the gateway's credential, its message kept, the key in no answer or log."""
    gateway, upstream, _ = network
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk.chat.completions.create(model="azure-apim-revoked", messages=MESSAGES)
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "upstream_auth_error"
    assert str(APIM_DENIED["message"]) in error["message"]
    assert upstream.received[-1].headers["ocp-apim-subscription-key"] == REVOKED_APIM_KEY
    assert REVOKED_APIM_KEY not in "".join(gateway.output)


def test_an_answer_over_max_response_bytes_is_cut_with_its_code(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.chat.completions.create(model="capped", messages=MESSAGES)
    assert caught.value.status_code == 502
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["code"] == "upstream_response_too_large"
    # A stream past the cap: its first event arrives, then an error event with the same code.
    stream = sdk.chat.completions.create(model="capped-stream", messages=MESSAGES, stream=True)
    received: list[str] = []
    with pytest.raises(openai.APIError) as mid_stream:
        for chunk in stream:
            received += [c.delta.content or "" for c in chunk.choices]
    assert received == ["over "]
    assert "max_response_bytes" in mid_stream.value.message
    assert mid_stream.value.code == "upstream_response_too_large"
