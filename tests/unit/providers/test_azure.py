"""Azure OpenAI and OpenAI-compatible URLs: path and query never mix, the key header per type."""

from __future__ import annotations

import dataclasses

import orjson

from gateway.config.provider_types import ProviderConfig
from gateway.config.schema import StringTable
from gateway.config.types import DeploymentConfig
from gateway.providers import adapter_for
from gateway.providers.base import endpoint_url

AZURE = ProviderConfig(
    name="az",
    type="azure",
    base_url="https://res.openai.azure.com/",
    api_version="2024-06-01",
)
OPENAI = ProviderConfig(
    name="oai",
    type="openai",
    base_url="https://res.openai.azure.com/openai/deployments/gpt4o?api-version=2024-06-01",
)
DEPLOYMENT = DeploymentConfig(provider="az", model="gpt-4o-prod")
BODY = {"model": "public", "messages": [{"role": "user", "content": "hi"}]}


def test_an_openai_base_url_with_a_query_keeps_the_query_after_the_path() -> None:
    call = adapter_for("chat", OPENAI).prepare(BODY, DEPLOYMENT, OPENAI, "sk-1")
    assert call.url == (
        "https://res.openai.azure.com/openai/deployments/gpt4o/chat/completions"
        "?api-version=2024-06-01"
    )
    assert call.headers["authorization"] == "Bearer sk-1"


def test_azure_puts_the_deployment_in_the_path_and_the_key_in_api_key() -> None:
    call = adapter_for("chat", AZURE).prepare(BODY, DEPLOYMENT, AZURE, "az-key")
    assert call.url == (
        "https://res.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions"
        "?api-version=2024-06-01"
    )
    assert call.headers["api-key"] == "az-key" and "authorization" not in call.headers


def test_azure_embeddings_and_anthropic_clients_use_the_same_urls() -> None:
    named = dataclasses.replace(AZURE, deployment="emb 1")
    embeddings = adapter_for("embeddings", named).prepare(
        {"model": "e", "input": "x"}, DEPLOYMENT, named, "k"
    )
    assert embeddings.url.startswith("https://res.openai.azure.com/openai/deployments/emb%201/")
    assert embeddings.url.endswith("/embeddings?api-version=2024-06-01")
    anthropic_body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    messages = adapter_for("messages", AZURE).prepare(anthropic_body, DEPLOYMENT, AZURE, "k")
    assert "/openai/deployments/gpt-4o-prod/chat/completions?api-version=" in messages.url
    assert messages.headers["api-key"] == "k"


def test_static_query_parameters_join_the_url() -> None:
    with_query = dataclasses.replace(AZURE, query=StringTable({"tenant": "a b"}))
    call = adapter_for("chat", with_query).prepare(BODY, DEPLOYMENT, with_query, None)
    assert call.url.endswith("/chat/completions?api-version=2024-06-01&tenant=a%20b")
    assert "api-key" not in call.headers


def test_api_version_is_sent_once_whoever_names_it() -> None:
    overridden = dataclasses.replace(
        AZURE,
        base_url="https://res.openai.azure.com?api-version=2023-05-15&x=1",
        query=StringTable({"api-version": "2025-01-01-preview"}),
    )
    call = adapter_for("chat", overridden).prepare(BODY, DEPLOYMENT, overridden, None)
    assert call.url.endswith("/chat/completions?x=1&api-version=2025-01-01-preview")
    in_base = dataclasses.replace(AZURE, base_url="https://res.openai.azure.com?api-version=1")
    call = adapter_for("chat", in_base).prepare(BODY, DEPLOYMENT, in_base, None)
    assert call.url.endswith("/chat/completions?api-version=2024-06-01")


def test_endpoint_url_joins_paths_and_queries() -> None:
    assert endpoint_url("http://h:8/v1/", "/chat/completions") == "http://h:8/v1/chat/completions"
    assert endpoint_url("http://h/v1?a=1", "/x") == "http://h/v1/x?a=1"
    assert endpoint_url("http://h/v1?a=1&b=2", "/x", (("a", "9"),)) == "http://h/v1/x?b=2&a=9"


def test_a_reasoning_deployment_gets_max_completion_tokens_from_every_client_format() -> None:
    reasoning = dataclasses.replace(DEPLOYMENT, reasoning=True)
    chat = adapter_for("chat", AZURE).prepare({**BODY, "max_tokens": 9}, reasoning, AZURE, "k")
    assert orjson.loads(chat.body)["max_completion_tokens"] == 9
    assert "max_tokens" not in orjson.loads(chat.body)
    both = {**BODY, "max_tokens": 9, "max_completion_tokens": 4}
    chat = adapter_for("chat", AZURE).prepare(both, reasoning, AZURE, "k")
    assert orjson.loads(chat.body)["max_completion_tokens"] == 4
    assert "max_tokens" not in orjson.loads(chat.body)
    anthropic_body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    messages = adapter_for("messages", AZURE).prepare(anthropic_body, reasoning, AZURE, "k")
    assert orjson.loads(messages.body)["max_completion_tokens"] == 5
    responses_body = {"model": "m", "input": "x", "max_output_tokens": 6}
    responses = adapter_for("responses", AZURE, body=responses_body)
    sent = orjson.loads(responses.prepare(responses_body, reasoning, AZURE, "k").body)
    assert sent["max_completion_tokens"] == 6 and "max_tokens" not in sent


def test_other_deployments_and_legacy_completions_keep_max_tokens() -> None:
    chat = adapter_for("chat", AZURE).prepare({**BODY, "max_tokens": 9}, DEPLOYMENT, AZURE, "k")
    assert orjson.loads(chat.body)["max_tokens"] == 9
    reasoning = dataclasses.replace(DEPLOYMENT, reasoning=True)
    legacy = {"model": "m", "prompt": "x", "max_tokens": 3}
    completions = adapter_for("completions", AZURE).prepare(legacy, reasoning, AZURE, "k")
    assert orjson.loads(completions.body)["max_tokens"] == 3


def test_azures_responses_api_is_not_under_a_deployment() -> None:
    # `responses = true`: /openai/responses, the deployment named as the body's `model`.
    served = dataclasses.replace(
        AZURE, api_version="2025-04-01-preview", responses=True, deployment="codex 1"
    )
    body = {"model": "public", "input": "hi"}
    call = adapter_for("responses", served).prepare(body, DEPLOYMENT, served, "az-key")
    assert call.url == (
        "https://res.openai.azure.com/openai/responses?api-version=2025-04-01-preview"
    )
    assert call.headers["api-key"] == "az-key" and "authorization" not in call.headers
    assert orjson.loads(call.body) == {"model": "codex 1", "input": "hi"}
    # Unset, an Azure provider translates to chat completions, under its deployment.
    translated = adapter_for("responses", AZURE, None, body).prepare(body, DEPLOYMENT, AZURE, "k")
    assert "/openai/deployments/gpt-4o-prod/chat/completions?" in translated.url
