"""A 100 kB model name through the real gateway process and the real OpenAI SDK: the 404 the
SDK raises, and the request's record, quote the first 256 characters of it and say how many
more there were, instead of the whole name (written once to the client and again to the
record's `error_message`)."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.e2e.hostile_gateway import KEY, start_hostile_gateway
from tests.e2e.records import wait_for_record
from tests.procs import Proc

HUGE = "gpt-" + "n" * 100_000
MOST = 600  # the message's own words, 256 quoted characters and "... (N more characters)"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("quoted-names")
    proc = start_hostile_gateway(root, mock_upstream)
    proc.log_path = root / "requests.jsonl"
    yield proc
    proc.stop()


def test_a_100_kb_model_name_is_quoted_bounded(gateway: Proc) -> None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.NotFoundError) as info:
            client.chat.completions.create(model=HUGE, messages=[{"role": "user", "content": "hi"}])
    error = info.value
    assert error.code == "model_not_found" and error.param == "model"
    body = error.body
    assert isinstance(body, dict)
    message = body["message"]
    assert isinstance(message, str) and len(message) < MOST
    assert message.startswith(f"the model '{HUGE[:256]}... (")
    assert len(str(error)) < MOST + 200
    assert gateway.log_path is not None
    request_id = error.response.headers["x-request-id"]
    record = wait_for_record(gateway.log_path, request_id)
    assert record["error_message"] == message
