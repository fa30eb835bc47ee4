"""A server without embeddings or legacy completions answers a framework's bare 404: the
client's error says the server does not seem to serve the operation, instead of a "Not Found"
that reads as an unknown model. A 404 that says something (a model the server lacks, OpenAI's
chat-model refusal) is passed on as it is."""

from __future__ import annotations

import orjson
import pytest

from gateway.config.types import DeploymentConfig
from gateway.providers.openai import (
    OpenAIChatAdapter,
    OpenAICompletionsAdapter,
    OpenAIEmbeddingsAdapter,
)

DEPLOYMENT = DeploymentConfig(provider="local", model="llama3")
BARE_404S = [
    b'{"detail": "Not Found"}',  # FastAPI / Starlette
    b"404 page not found",  # Go's net/http, gin (Ollama's router)
    b"",
    b'{"error": "Not Found"}',
]


@pytest.mark.parametrize("body", BARE_404S)
@pytest.mark.parametrize(
    ("adapter", "says"),
    [
        (OpenAICompletionsAdapter(), "does not seem to serve legacy completions"),
        (OpenAIEmbeddingsAdapter(), "does not seem to serve embeddings"),
    ],
)
def test_a_bare_404_says_the_server_lacks_the_operation(
    adapter: OpenAIChatAdapter, says: str, body: bytes
) -> None:
    error = adapter.convert_error(404, body, DEPLOYMENT)
    assert error.status == 404
    assert says in error.message and "upstream local/llama3 answered 404" in error.message


@pytest.mark.parametrize(
    "message",
    [
        "This is a chat model and not supported in the v1/completions endpoint. "
        "Did you mean to use v1/chat/completions?",
        "The model `llama3` does not exist.",
    ],
)
def test_a_404_that_says_something_is_passed_on_as_it_is(message: str) -> None:
    body = orjson.dumps({"error": {"message": message, "type": "invalid_request_error"}})
    error = OpenAICompletionsAdapter().convert_error(404, body, DEPLOYMENT)
    assert (error.status, error.message) == (404, message)


def test_chat_keeps_the_upstream_s_404() -> None:
    error = OpenAIChatAdapter().convert_error(404, b'{"detail": "Not Found"}', DEPLOYMENT)
    assert error.message == "Not Found"
