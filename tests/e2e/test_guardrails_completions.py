"""Streamed legacy completions under output guardrails, end to end with the openai SDK's
`completions.create(..., stream=True)`: restore, redact (several prompts, `n` > 1, values split
across the mock provider's word chunks) and block act on the `text_completion` chunks as on chat
streams. The `guarded` gateway is in conftest.py, its setup in guarded_gateway.py."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.e2e.guarded_gateway import KEYS, MESSAGE, SECRETS, upstream_saw
from tests.e2e.records import wait_for_record
from tests.procs import Proc


@pytest.fixture
def clients(guarded: Proc) -> Iterator[dict[str, openai.OpenAI]]:
    made = {
        policy: openai.OpenAI(base_url=guarded.url + "/v1", api_key=key, max_retries=0)
        for policy, key in KEYS.items()
    }
    yield made
    for client in made.values():
        client.close()


def test_restore_in_a_completion_stream(
    clients: dict[str, openai.OpenAI], mock_upstream: Proc
) -> None:
    stream = clients["restore"].completions.create(
        model="echo", prompt=MESSAGE, stream=True, stream_options={"include_usage": True}
    )
    with stream:
        chunks = list(stream)
    assert all(c.object == "text_completion" for c in chunks)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == MESSAGE
    assert not [s for s in SECRETS if s in upstream_saw(mock_upstream)]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert len([c for c in chunks if c.choices and c.choices[0].text]) > 5, "still streamed"


def test_redact_in_a_completion_stream_of_several_prompts_and_choices(
    clients: dict[str, openai.OpenAI], guarded: Proc
) -> None:
    prompts = [f"Mail {SECRETS[0]} today.", f"Call {SECRETS[1]} now."]
    stream = clients["redact_out"].completions.create(
        model="echo", prompt=prompts, n=2, stream=True
    )
    with stream:
        built: dict[int, str] = {}
        for chunk in stream:
            for choice in chunk.choices:
                built[choice.index] = built.get(choice.index, "") + choice.text
    assert built == {
        0: "Mail <EMAIL_ADDRESS> today.",
        1: "Mail <EMAIL_ADDRESS> today.",
        2: "Call <PHONE_NUMBER> now.",
        3: "Call <PHONE_NUMBER> now.",
    }
    assert guarded.log_path is not None
    record = wait_for_record(guarded.log_path, stream.response.headers["x-request-id"])
    assert record["guardrails"] == [
        {
            "name": "pii-redact",
            "stage": "output",
            "action": "redact",
            "entities": ["EMAIL_ADDRESS", "PHONE_NUMBER"],
        }
    ]


def test_block_ends_a_completion_stream_with_an_error(clients: dict[str, openai.OpenAI]) -> None:
    # A slow upstream (20 tokens/s), so the email arrives after the first text was sent.
    prompt = f"Sure, the address you want is {SECRETS[0]} and nothing else."
    sent = ""
    with pytest.raises(openai.APIError, match="pii-block-out"):
        stream = clients["block_out"].completions.create(
            model="slow-echo", prompt=prompt, stream=True
        )
        with stream:
            for chunk in stream:
                sent += "".join(choice.text for choice in chunk.choices)
    assert sent.startswith("Sure,"), "the safe text before the email was sent"
    assert SECRETS[0] not in sent


def test_logprobs_on_a_guarded_completion_stream_are_refused(
    clients: dict[str, openai.OpenAI],
) -> None:
    with pytest.raises(openai.BadRequestError, match="logprobs") as refused:
        clients["redact_out"].completions.create(model="echo", prompt="hi", logprobs=1, stream=True)
    assert isinstance(refused.value.body, dict) and refused.value.body["param"] == "logprobs"
