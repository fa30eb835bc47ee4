"""With `[logging] include_bodies = true`, a provider key a user pastes into a prompt, echoed
back by the upstream (the mock provider's `echo` model repeats the prompt), is written nowhere
in the request log: not in the request body, not in the answer, streamed or not; a
`Bearer sk-...` the user pastes neither. The client's answer holds no configured key either.
Against the real gateway process and the OpenAI SDK."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import openai
import pytest

from tests.e2e.records import wait_for_record
from tests.leaks import recoverable
from tests.procs import Proc, start_gateway

PROVIDER_KEY = "prov-body-9Qx7/Lm2+Zt4Wv8Rn"
CLIENT_KEY = "sk-body-scrub-client"
PASTED = "sk-proj-pastedByAUser0123456789"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("body-secrets")
    log_path = root / "records.jsonl"
    config = root / "config.toml"
    config.write_text(f"""
[logging]
path = "{log_path}"
include_bodies = true

[[providers]]
name = "oai"
type = "openai"
base_url = "{mock_upstream.url}/v1"
api_key_env = "BODY_PROVIDER_KEY"

[[models]]
name = "echo"
[[models.deployments]]
provider = "oai"
model = "echo"

[[keys]]
id = "body"
team = "qa"
key_sha256 = "{hashlib.sha256(CLIENT_KEY.encode()).hexdigest()}"
""")
    proc = start_gateway(config, env={"BODY_PROVIDER_KEY": PROVIDER_KEY})
    proc.log_path = log_path
    yield proc
    proc.stop()


@pytest.mark.parametrize("stream", [False, True])
def test_a_key_in_the_prompt_and_its_echo_are_in_no_record(gateway: Proc, stream: bool) -> None:
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        prompt = f"my key is {PROVIDER_KEY} and the old one Bearer {PASTED}"
        raw = client.chat.completions.with_raw_response.create(
            model="echo", messages=[{"role": "user", "content": prompt}], stream=stream
        )
        answer = raw.parse()
        if isinstance(answer, openai.Stream):
            text = "".join(
                chunk.choices[0].delta.content or "" for chunk in answer if chunk.choices
            )
        else:
            text = answer.choices[0].message.content or ""
        # The upstream did echo the prompt: the client gets `****` for the configured key, and the
        # pasted key as the user wrote it (it is no secret of the gateway's).
        assert "my key is ****" in text and PASTED in text and PROVIDER_KEY not in text
        assert gateway.log_path is not None
        record = wait_for_record(gateway.log_path, raw.headers["x-request-id"])
        assert record["request"]["messages"][0]["content"].startswith("my key is ****")
        assert "****" in str(record["response"])
        log_text = gateway.log_path.read_text()
        assert not recoverable(log_text, PROVIDER_KEY), log_text
        assert PASTED[3:] not in log_text, log_text
