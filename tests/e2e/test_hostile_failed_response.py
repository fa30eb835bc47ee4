"""A Responses upstream that ends its stream with `response.failed` and then holds its body open
(`failed-then-hold`): the SDKs close the connection once they read the stream's last event, and
the request is still recorded as the failure the client read, not as a client that left nor as
a success."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.hostile_upstream import HostileUpstream, running_hostile_upstream
from tests.e2e.hostile_upstream_gateway import KEYS, record_of, start_gateway_before
from tests.procs import Proc


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    hostile: HostileUpstream
    with running_hostile_upstream() as hostile:
        proc = start_gateway_before(tmp_path_factory.mktemp("hostile-failed"), hostile)
        yield proc
        proc.stop()


def test_a_client_that_leaves_after_a_failed_response_is_recorded_with_its_failure(
    gateway: Proc,
) -> None:
    body = {"model": "resp-failed-then-hold", "input": "hi", "stream": True}
    headers = {"authorization": f"Bearer {KEYS['plain']}"}
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        with client.stream("POST", "/v1/responses", json=body, headers=headers) as response:
            received = b""
            for chunk in response.iter_raw():
                received += chunk
                if b"event: response.failed" in received:
                    break  # and close the connection, as the SDKs do
    record = record_of(gateway, response)
    assert (record["status"], record["error_type"]) == (200, "server_error")
    assert record["error_message"] == "upstream stream error: The model crashed mid-answer."
    assert [attempt["error"] for attempt in record["attempts"]] == ["server_error"]
