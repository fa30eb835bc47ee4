"""A Responses upstream's stream that ends in failure: `response.failed` is relayed as it is and
its error kept (`failure`), an `error` event is an error with the code it names."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.errors import UpstreamStreamError
from gateway.providers import adapter_for
from gateway.providers.base import relayed_failure
from gateway.providers.responses.stream_passthrough import response_failure
from gateway.sse import encode_event

PROVIDER = ProviderConfig(name="p", type="openai", base_url="https://api.openai.com/v1")
DEPLOYMENT = DeploymentConfig(provider="p", model="up-model")
DELTA = {"type": "response.output_text.delta", "delta": "Hel", "sequence_number": 3}


def event(data: dict[str, Any]) -> bytes:
    return encode_event(orjson.dumps(data), str(data["type"]))


def final(status: str, error: object = None) -> bytes:
    response = {"id": "resp_1", "object": "response", "status": status, "error": error}
    response["usage"] = {"input_tokens": 5, "output_tokens": 1, "total_tokens": 6}
    return event({"type": f"response.{status}", "sequence_number": 4, "response": response})


def test_a_failed_response_is_relayed_as_it_is_and_its_error_kept() -> None:
    converter = adapter_for("responses", PROVIDER).stream({"model": "m", "stream": True})
    failed = final("failed", {"code": "server_error", "message": "The model crashed."})
    body = event(DELTA) + failed
    assert b"".join(converter.feed(body)) == body  # the client gets what the upstream sent
    assert converter.finish() == []
    failure = relayed_failure(converter)  # read under the adapter's CheckedStream
    assert isinstance(failure, UpstreamStreamError)
    assert (failure.kind, failure.message) == (
        "server_error",
        "upstream stream error: The model crashed.",
    )
    assert failure.upstream_fault
    assert converter.usage is not None and converter.usage.prompt_tokens == 5


def test_a_failed_response_that_says_it_is_rate_limited_is_busy_not_broken() -> None:
    converter = adapter_for("responses", PROVIDER).stream({"model": "m", "stream": True})
    limited = {"code": "rate_limit_exceeded", "message": "Rate limit reached."}
    converter.feed(final("failed", limited))
    failure = relayed_failure(converter)
    assert failure is not None and failure.rate_limited and not failure.upstream_fault


@pytest.mark.parametrize("error", [None, "a string", {}], ids=["none", "string", "empty"])
def test_a_failed_response_without_an_error_object_still_failed(error: object) -> None:
    converter = adapter_for("responses", PROVIDER).stream({"model": "m", "stream": True})
    converter.feed(final("failed", error))
    failure = relayed_failure(converter)
    assert failure is not None and failure.kind == "upstream_error"
    assert failure.message == "upstream stream error: the response failed"


@pytest.mark.parametrize("status", ["completed", "incomplete"])
def test_a_response_that_ended_otherwise_did_not_fail(status: str) -> None:
    converter = adapter_for("responses", PROVIDER).stream({"model": "m", "stream": True})
    converter.feed(event(DELTA) + final(status))
    assert converter.finish() == [] and relayed_failure(converter) is None


def test_an_error_event_keeps_the_code_it_names() -> None:
    """OpenAI's `error` event: `code`, `message`, `param` on the event itself."""
    converter = adapter_for("responses", PROVIDER).stream({"model": "m", "stream": True})
    converter.feed(event(DELTA))
    limited = {
        "type": "error",
        "code": "rate_limit_exceeded",
        "message": "Slow down.",
        "param": None,
    }
    with pytest.raises(UpstreamStreamError) as caught:
        converter.feed(event({**limited, "sequence_number": 4}))
    assert caught.value.kind == "rate_limit_exceeded" and caught.value.rate_limited
    assert caught.value.message == "upstream stream error: Slow down."
    nested = {"type": "error", "error": {"type": "server_error", "code": None, "message": "Boom"}}
    fresh = adapter_for("responses", PROVIDER).stream({"model": "m", "stream": True})
    with pytest.raises(UpstreamStreamError) as crashed:
        fresh.feed(event(nested))
    error = crashed.value  # a type without a code: the gateway's code, the type kept
    assert (error.kind, error.type, error.upstream_fault) == (
        "upstream_error",
        "server_error",
        True,
    )


def test_a_json_answer_that_failed_reports_its_failure() -> None:
    failed = {"status": "failed", "error": {"code": "server_error", "message": "It crashed."}}
    failure = response_failure(failed)
    assert failure is not None and failure.kind == "server_error" and failure.upstream_fault
    # No stream was involved: the message says what failed, an answer.
    assert failure.message == "upstream answer failed: It crashed."
    limited = {"status": "failed", "error": {"code": "rate_limit_exceeded", "message": "Slow."}}
    busy = response_failure(limited)
    assert busy is not None and busy.rate_limited
    unnamed = response_failure({"status": "failed", "error": None})
    assert unnamed is not None and unnamed.message == "upstream answer failed: the response failed"


@pytest.mark.parametrize("status", ["completed", "incomplete", "in_progress", None])
def test_a_json_answer_that_did_not_fail_reports_nothing(status: str | None) -> None:
    assert response_failure({"status": status, "error": None}) is None
    assert response_failure(None) is None
