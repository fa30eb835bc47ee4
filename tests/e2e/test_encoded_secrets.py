"""A provider key the upstream echoes encoded (base64 of `user:key`, URL-encoded, in an escaped
JSON dump) never reaches the client, the record or the log, against the real gateway process
and the real SDKs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import openai
import pytest

from tests.e2e.echo_forms import ECHOES
from tests.e2e.hostile_upstream import HostileUpstream, running_hostile_upstream
from tests.e2e.hostile_upstream_gateway import KEYS, ODD_KEY, start_gateway_before
from tests.e2e.records import wait_for_record
from tests.leaks import recoverable
from tests.procs import Proc


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileUpstream]:
    with running_hostile_upstream() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, hostile: HostileUpstream) -> Iterator[Proc]:
    proc = start_gateway_before(tmp_path_factory.mktemp("encoded"), hostile)
    yield proc
    proc.stop()


@pytest.mark.parametrize("form", sorted(ECHOES))
def test_a_key_echoed_encoded_is_scrubbed_everywhere(gateway: Proc, form: str) -> None:
    assert recoverable(ECHOES[form](ODD_KEY), ODD_KEY)  # the echo does carry the key
    with openai.OpenAI(
        base_url=f"{gateway.url}/v1", api_key=KEYS["plain"], max_retries=0
    ) as client:
        with pytest.raises(openai.AuthenticationError) as raised:
            client.chat.completions.create(
                model=f"odd-echo-{form}", messages=[{"role": "user", "content": "hi"}]
            )
        answer = raised.value.response.text
        assert "credentials seen: " in answer
        assert not recoverable(answer, ODD_KEY), answer
        assert gateway.log_path is not None
        record = wait_for_record(gateway.log_path, raised.value.response.headers["x-request-id"])
        assert not recoverable(json.dumps(record), ODD_KEY), record
        assert not recoverable("".join(gateway.output), ODD_KEY)


@pytest.mark.parametrize("form", ["b64-user", "url", "json"])
def test_a_key_echoed_encoded_is_scrubbed_for_an_anthropic_client(gateway: Proc, form: str) -> None:
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEYS["plain"], max_retries=0) as client:
        with pytest.raises(anthropic.AuthenticationError) as raised:
            client.messages.create(
                model=f"odd-echo-{form}",
                max_tokens=10,
                messages=[{"role": "user", "content": "hi"}],
            )
        answer = raised.value.response.text
        assert "credentials seen: " in answer
        assert not recoverable(answer, ODD_KEY), answer
