"""An upstream that succeeds with the gateway's provider key in its answer's text
(`answer-echoes-key`): the openai SDK gets `****` in its place, in a JSON answer and in a stream
whose event holding the key reached the gateway in two reads; a sample key that is no secret
of the gateway's stays as the model wrote it."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.e2e.hostile_upstream import PROVIDER_KEY, SAMPLE_KEY, running_hostile_upstream
from tests.e2e.hostile_upstream_gateway import KEYS, start_gateway_before
from tests.procs import Proc

EXPECTED = f"Your key is ****; a sample: {SAMPLE_KEY}."


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    with running_hostile_upstream() as hostile:
        proc = start_gateway_before(tmp_path_factory.mktemp("hostile-answer-key"), hostile)
        yield proc
        proc.stop()


def client(gateway: Proc) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEYS["plain"], max_retries=0)


def test_a_json_answer_reaches_the_sdk_without_the_key(gateway: Proc) -> None:
    with client(gateway) as sdk:
        answer = sdk.chat.completions.create(
            model="answer-echoes-key", messages=[{"role": "user", "content": "hi"}]
        )
    assert answer.choices[0].message.content == EXPECTED
    assert PROVIDER_KEY not in answer.model_dump_json()


def test_a_stream_reaches_the_sdk_without_the_key(gateway: Proc) -> None:
    with client(gateway) as sdk:
        stream = sdk.chat.completions.create(
            model="answer-echoes-key", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        text = "".join(choice.delta.content or "" for chunk in stream for choice in chunk.choices)
    assert text == EXPECTED
