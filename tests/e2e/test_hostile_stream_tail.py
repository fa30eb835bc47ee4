"""An upstream that writes content events and an error event in one write (`tail-then-error`):
the SDK yields every text the upstream sent before its error, then raises on the gateway's
error event. Through the gateway process with the real SDKs: chat relayed from an
OpenAI-compatible upstream and translated from an Anthropic one, messages relayed from an
Anthropic upstream and translated from an OpenAI-compatible one."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest

from tests.e2e.hostile_upstream import TAIL, running_hostile_upstream
from tests.e2e.hostile_upstream_gateway import KEYS, start_gateway_before
from tests.e2e.records import wait_for_record
from tests.procs import Proc

TEXT = "Hi" + "".join(TAIL)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    with running_hostile_upstream() as hostile:
        proc = start_gateway_before(tmp_path_factory.mktemp("hostile-tail"), hostile)
        yield proc
        proc.stop()


@pytest.mark.parametrize("model", ["tail-then-error", "ant-tail-then-error"])
def test_the_openai_sdk_gets_the_text_before_the_error(gateway: Proc, model: str) -> None:
    with openai.OpenAI(
        base_url=gateway.url + "/v1", api_key=KEYS["plain"], max_retries=0
    ) as client:
        stream = client.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        text = ""
        with pytest.raises(openai.APIError, match="it broke"):
            for chunk in stream.parse():
                for choice in chunk.choices:
                    text += choice.delta.content or ""
        assert text == TEXT
        assert gateway.log_path is not None
        record = wait_for_record(gateway.log_path, stream.headers["x-request-id"])
        assert record["status"] == 200 and record["error_type"] is not None


@pytest.mark.parametrize("model", ["ant-tail-then-error", "tail-then-error"])
def test_the_anthropic_sdk_gets_the_text_before_the_error(gateway: Proc, model: str) -> None:
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEYS["plain"], max_retries=0) as client:
        text = ""
        with pytest.raises(anthropic.APIError, match="it broke"):
            with client.messages.stream(
                model=model, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            ) as stream:
                for piece in stream.text_stream:
                    text += piece
        assert text == TEXT
