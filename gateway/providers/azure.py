"""Azure OpenAI (`type = "azure"`): the OpenAI wire format at Azure's URLs, with Azure's key
header; every adapter is the OpenAI one, reaching the upstream through `AzureWire`.

`base_url` is the resource endpoint (`https://NAME.openai.azure.com`); a request to deployment
`d` goes to `{base_url}/openai/deployments/d/{operation}?api-version={api_version}`, the
deployment being the provider's `deployment` or else the deployment's `model`. The Responses
API (`responses = true`) is not under a deployment: `{base_url}/openai/responses[/{id}]`, the
deployment named as the body's `model`. The key is sent as `api-key`, never as `Authorization`.
"""

from __future__ import annotations

from urllib.parse import quote

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.providers.base import endpoint_url
from gateway.providers.openai import (
    OPENAI_WIRE,
    OpenAIChatAdapter,
    OpenAIEmbeddingsAdapter,
    OpenAIWire,
)


class AzureWire(OpenAIWire):
    def url(self, provider: ProviderConfig, deployment: DeploymentConfig, operation: str) -> str:
        # The loader requires api_version for type 'azure'. A `query` naming `api-version`
        # takes its place, as it takes any name's: the parameter is sent once.
        pairs = provider.query.pairs
        if any(key == "api-version" for key, _ in pairs):
            query = pairs
        else:
            query = (("api-version", provider.api_version or ""), *pairs)
        if operation == "responses" or operation.startswith("responses/"):
            return endpoint_url(provider.base_url, f"/openai/{operation}", query)
        name = quote(self.model(provider, deployment), safe="")
        return endpoint_url(provider.base_url, f"/openai/deployments/{name}/{operation}", query)

    def model(self, provider: ProviderConfig, deployment: DeploymentConfig) -> str:
        return provider.deployment or deployment.model

    def headers(self, api_key: str | None) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if api_key:
            headers["api-key"] = api_key
        return headers


AZURE_WIRE = AzureWire()
AZURE_CHAT = OpenAIChatAdapter(AZURE_WIRE)
AZURE_EMBEDDINGS = OpenAIEmbeddingsAdapter(AZURE_WIRE)


def openai_wire_for(provider: ProviderConfig) -> OpenAIWire:
    """How an adapter made per request reaches an OpenAI-format provider of either type."""
    return AZURE_WIRE if provider.type == "azure" else OPENAI_WIRE
