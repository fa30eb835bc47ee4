"""An output guardrail over a stream whose upstream fails part-way through a read: what the
converter made before the failure (`GatewayError.pending`) goes through the windows as any
output does, so the client is never sent text the guardrails did not see."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import orjson
import pytest

from gateway.config.types import GuardrailConfig
from gateway.errors import GatewayError
from gateway.guardrails.compiled import Decision, GuardrailSet
from gateway.guardrails.stream import GuardedConverter
from gateway.providers.openai_streams import OpenAIStreamPassthrough
from gateway.sse import SSEDecoder

ERROR = b'data: {"error": {"message": "boom", "type": "server_error"}}\n\n'


def chunk(content: str) -> bytes:
    choice = {"index": 0, "delta": {"content": content}, "finish_reason": None}
    return b"data: " + orjson.dumps({"id": "c1", "choices": [choice]}) + b"\n\n"


def text(pieces: Sequence[bytes]) -> str:
    chunks = [orjson.loads(e.data) for e in SSEDecoder().feed(b"".join(pieces))]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)


@pytest.fixture
def redact(compile_set: Callable[..., GuardrailSet]) -> GuardrailSet:
    return compile_set(
        GuardrailConfig(name="pii", type="pii", applies_to="output", action="redact")
    )


def test_the_output_before_an_error_goes_through_the_windows(redact: GuardrailSet) -> None:
    hits: list[Decision] = []
    inner = OpenAIStreamPassthrough(client_wants_usage=True)
    converter = GuardedConverter(inner, "openai", redact, None, hits.append)
    assert text(converter.feed(chunk("Hello, "))) == "Hello, "
    with pytest.raises(GatewayError) as caught:
        converter.feed(chunk("mail john.doe@example.com ") + chunk("today") + ERROR)
    sent = text(caught.value.pending)
    assert "john.doe" not in sent
    assert sent.startswith("mail <EMAIL_ADDRESS>")
    assert [h.hits[0][1:] for h in hits] == [("redact", ["EMAIL_ADDRESS"])]
