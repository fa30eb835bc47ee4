"""An upstream that names a new error code in every stream's error event (`random-code`: a
broken server, or a proxy in front of it) cannot grow /metrics: its failed attempts are all
counted in `gateway_upstream_errors_total{kind="other"}`, while each request's record keeps the
code the upstream sent. Through the gateway process with the real SDKs, on chat (relayed from an
OpenAI-compatible upstream) and messages (relayed from an Anthropic one)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conditions import wait_until
from tests.e2e.hostile_upstream import HostileUpstream, running_hostile_upstream
from tests.e2e.hostile_upstream_gateway import KEYS, start_gateway_before
from tests.e2e.records import read_records
from tests.procs import Proc

# Fewer than the failures in a row that open a deployment's breaker (5): every request reaches
# the upstream and gets a code of its own.
REQUESTS = 4


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    hostile: HostileUpstream
    with running_hostile_upstream() as hostile:
        proc = start_gateway_before(tmp_path_factory.mktemp("hostile-codes"), hostile)
        yield proc
        proc.stop()


def _upstream_errors(gateway: Proc) -> dict[tuple[str, str], float]:
    text = httpx.get(gateway.url + "/metrics").text
    return {
        (sample.labels["deployment"], sample.labels["kind"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "gateway_upstream_errors"
        for sample in family.samples
        if sample.name == "gateway_upstream_errors_total"
    }


def _records_of(gateway: Proc, model: str) -> list[dict[str, Any]]:
    assert gateway.log_path is not None
    log = gateway.log_path

    def written() -> list[dict[str, Any]] | None:
        found = [r for r in read_records(log) if r["model"] == model]
        return found if len(found) == REQUESTS else None

    return wait_until(written, 10, message=f"not every record of {model} was written")


def _chat(gateway: Proc) -> None:
    with openai.OpenAI(
        base_url=gateway.url + "/v1", api_key=KEYS["plain"], max_retries=0, timeout=15
    ) as client:
        for _ in range(REQUESTS):
            with pytest.raises(openai.APIError):
                stream = client.chat.completions.create(
                    model="random-code", messages=[{"role": "user", "content": "hi"}], stream=True
                )
                for _chunk in stream:
                    pass


def _messages(gateway: Proc) -> None:
    client = anthropic.Anthropic(
        base_url=gateway.url, api_key=KEYS["plain"], max_retries=0, timeout=15
    )
    with client:
        for _ in range(REQUESTS):
            with pytest.raises(anthropic.APIError):
                with client.messages.stream(
                    model="ant-random-code",
                    max_tokens=10,
                    messages=[{"role": "user", "content": "hi"}],
                ) as stream:
                    for _event in stream:
                        pass


@pytest.mark.parametrize(
    ("model", "send"), [("random-code", _chat), ("ant-random-code", _messages)]
)
def test_ever_new_upstream_codes_are_counted_as_other(
    gateway: Proc, model: str, send: Callable[[Proc], None]
) -> None:
    send(gateway)
    records = _records_of(gateway, model)
    errors = [a["error"] for r in records for a in r["attempts"] if a["error"]]
    assert len(set(errors)) == len(errors) >= REQUESTS  # the records keep each code as sent
    assert all(error.startswith("lie_") for error in errors)
    deployment = records[0]["attempts"][0]["deployment"]

    def counted() -> dict[str, float] | None:
        found = {k: v for (d, k), v in _upstream_errors(gateway).items() if d == deployment}
        return found if sum(found.values()) >= len(errors) else None

    assert wait_until(counted, 5, message="/metrics did not count the failed attempts") == {
        "other": float(len(errors))
    }
