"""`POST /v1/responses/compact`: passed through to an upstream with the Responses API, its
`responses/compact` operation (OpenAI's, Azure's); refused, naming the way out, elsewhere."""

from __future__ import annotations

import orjson
import pytest

from gateway.config.types import DeploymentConfig, ProviderConfig
from gateway.errors import InvalidRequest
from gateway.providers import adapter_for

BODY = {"model": "gpt", "input": [{"role": "user", "content": "Hi"}]}


def _url(provider: ProviderConfig, deployment: DeploymentConfig) -> str:
    adapter = adapter_for("responses", provider, None, BODY, model=deployment.model,
                          operation="responses/compact")  # fmt: skip
    call = adapter.prepare(BODY, deployment, provider, "k")
    assert orjson.loads(call.body)["model"] == deployment.model
    return call.url


def test_a_compaction_goes_to_the_upstreams_compact_operation() -> None:
    openai_api = ProviderConfig(name="oai", type="openai", base_url="https://api.openai.com/v1")
    deployment = DeploymentConfig(provider="oai", model="gpt-5.1-codex")
    assert _url(openai_api, deployment) == "https://api.openai.com/v1/responses/compact"
    azure = ProviderConfig(
        name="az",
        type="azure",
        base_url="https://r.openai.azure.com",
        api_version="2025-04-01-preview",
        responses=True,
    )
    assert _url(azure, DeploymentConfig(provider="az", model="codex")) == (
        "https://r.openai.azure.com/openai/responses/compact?api-version=2025-04-01-preview"
    )


@pytest.mark.parametrize(
    "provider",
    [
        ProviderConfig(name="vllm", type="openai", base_url="http://vllm:8000/v1"),
        ProviderConfig(name="ant", type="anthropic", base_url="https://api.anthropic.com"),
    ],
)
def test_an_upstream_without_the_responses_api_refuses_it(provider: ProviderConfig) -> None:
    with pytest.raises(InvalidRequest, match="needs one") as refused:
        adapter_for("responses", provider, None, BODY, operation="responses/compact")
    assert provider.name in refused.value.message
