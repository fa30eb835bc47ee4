"""A fallback model's own limits (`[model_limits."big"]`) bind the requests the router moves
to it: during an outage of the requested model, a key capped on the fallback gets no more of
it than the cap, with the openai SDK against a real gateway and mock provider."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import openai
import pytest

from tests.e2e.records import wait_for_record
from tests.e2e.routing_support import calls, model, provider, run_gateway
from tests.procs import Proc

SECRET = "sk-capped-on-big"
MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    """`mini` always fails and falls back to `big`, on which the key may make 2 requests a
    minute."""
    root = tmp_path_factory.mktemp("fallback-limits")
    (root / "policies").mkdir()
    (root / "policies" / "capped.toml").write_text('[model_limits."big"]\nrpm = 2\n')
    body = "[routing]\nbreaker_failures = 1000\n"  # `mini` keeps failing, never benched
    body += provider("fast", mock_upstream)
    body += model("mini", [("fast", "fail-500", {})], fallbacks=["big"], max_attempts=1)
    body += model("big", [("fast", "big-capped-model", {})])
    digest = hashlib.sha256(SECRET.encode()).hexdigest()
    body += f'[[keys]]\nid = "capped"\nkey_sha256 = "{digest}"\npolicy = "capped"\n'
    proc = run_gateway(root, body)
    yield proc
    proc.stop()


def test_an_outage_does_not_flood_the_fallback_past_the_keys_cap_on_it(
    capped: Proc, mock_upstream: Proc
) -> None:
    before = calls(mock_upstream, "big-capped-model")
    with openai.OpenAI(base_url=capped.url + "/v1", api_key=SECRET, max_retries=0) as client:
        for _ in range(2):
            raw = client.chat.completions.with_raw_response.create(model="mini", messages=MESSAGES)
            assert raw.parse().choices[0].message.content
            assert raw.headers["x-gateway-deployment"] == "fast/big-capped-model"
        with pytest.raises(openai.APIStatusError) as refused:
            client.chat.completions.create(model="mini", messages=MESSAGES)
    # The third gets what it would have got without a fallback: `mini`'s own failure.
    assert refused.value.status_code == 502
    assert calls(mock_upstream, "big-capped-model") == before + 2
    assert capped.log_path is not None
    record = wait_for_record(capped.log_path, refused.value.response.headers["x-request-id"])
    assert record["fallbacks_limited"] == ["big"] and record["fallback_used"] is False
    assert [a["model"] for a in record["attempts"]] == ["mini"]
