"""The OpenAI APIs the gateway does not serve, called with the official `openai` SDK: each is a
NotFoundError (404 `unknown_route`, OpenAI's error shape) whose message says what the gateway
serves, and leaves a request record."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import openai
import pytest

from tests.e2e.conftest import GATEWAY_KEY
from tests.e2e.records import wait_for_record
from tests.procs import Proc

SERVED = "the gateway serves POST /v1/chat/completions"
CALLS: dict[str, tuple[str, Callable[[openai.OpenAI], object]]] = {
    "moderations": ("POST /v1/moderations", lambda c: c.moderations.create(input="hi")),
    "images": ("POST /v1/images/generations", lambda c: c.images.generate(prompt="a llama")),
    "audio": (
        "POST /v1/audio/speech",
        lambda c: c.audio.speech.create(model="tts-1", voice="alloy", input="hi"),
    ),
    "files": ("GET /v1/files", lambda c: c.files.list()),
    "batches": ("GET /v1/batches", lambda c: c.batches.list()),
    "fine_tuning": ("GET /v1/fine_tuning/jobs", lambda c: c.fine_tuning.jobs.list()),
}


@pytest.fixture(scope="module")
def client(gateway: Proc) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0) as c:
        yield c


def refusal(gateway: Proc, call: Callable[[], object]) -> str:
    """The message of the NotFoundError `call` raises, once its record says 404 unknown_route."""
    with pytest.raises(openai.NotFoundError) as refused:
        call()
    body = refused.value.body
    assert isinstance(body, dict) and body["code"] == "unknown_route"
    assert gateway.log_path is not None
    record = wait_for_record(gateway.log_path, refused.value.response.headers["x-request-id"])
    assert (record["status"], record["error_type"]) == (404, "unknown_route")
    return str(body["message"])


@pytest.mark.parametrize("api", CALLS)
def test_an_api_the_gateway_does_not_serve_says_what_it_serves(
    gateway: Proc, client: openai.OpenAI, api: str
) -> None:
    """Before, the message was only `unknown route: POST /v1/moderations`."""
    route, call = CALLS[api]
    message = refusal(gateway, lambda: call(client))
    assert message.startswith(f"unknown route: {route}") and SERVED in message


def test_a_stored_chat_completion_is_not_served_and_the_message_says_so(
    gateway: Proc, client: openai.OpenAI
) -> None:
    message = refusal(gateway, lambda: client.chat.completions.retrieve("chatcmpl-123"))
    assert "does not serve stored chat completions" in message and SERVED in message


def test_a_base_url_without_v1_is_named_as_the_likely_mistake(gateway: Proc) -> None:
    with openai.OpenAI(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0) as client:
        message = refusal(
            gateway,
            lambda: client.chat.completions.create(
                model="gpt-mock", messages=[{"role": "user", "content": "hi"}]
            ),
        )
        assert "did you mean /v1/chat/completions?" in message
        message = refusal(gateway, lambda: client.models.retrieve("gpt-mock"))
    assert "did you mean /v1/models/gpt-mock?" in message
