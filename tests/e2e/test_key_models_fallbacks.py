"""A key restricted by `[[keys]] models` is never served by a fallback model outside its list,
on every endpoint that falls back (chat, Responses, Anthropic Messages), with the real SDKs
against a real gateway and mock provider."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import anthropic
import openai
import pytest

from tests.e2e.records import wait_for_record
from tests.e2e.routing_support import calls, model, provider, run_gateway
from tests.procs import Proc

CHEAP_KEY = "sk-cheap-and-backup"
ONLY_CHEAP_KEY = "sk-only-cheap"


def _key(key_id: str, secret: str, models: list[str]) -> str:
    digest = hashlib.sha256(secret.encode()).hexdigest()
    listed = ", ".join(f'"{m}"' for m in models)
    return f'[[keys]]\nid = "{key_id}"\nkey_sha256 = "{digest}"\nmodels = [{listed}]\n'


@pytest.fixture(scope="module")
def restricted(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    """`cheap` always fails and falls back to `pricey` (which answers), then `backup`."""
    body = "[routing]\nbreaker_failures = 1000\n"  # `cheap` keeps failing, never benched
    body += provider("fast", mock_upstream)
    body += model(
        "cheap", [("fast", "fail-500", {})], fallbacks=["pricey", "backup"], max_attempts=1
    )
    body += model("pricey", [("fast", "pricey-model", {})])
    body += model("backup", [("fast", "backup-model", {})])
    body += _key("cheap-and-backup", CHEAP_KEY, ["cheap", "backup"])
    body += _key("only-cheap", ONLY_CHEAP_KEY, ["cheap"])
    proc = run_gateway(tmp_path_factory.mktemp("restricted"), body)
    yield proc
    proc.stop()


def _record_of(gateway: Proc, headers: Mapping[str, str]) -> dict[str, Any]:
    assert gateway.log_path is not None
    return wait_for_record(gateway.log_path, headers["x-request-id"])


def _served_by_backup(gateway: Proc, headers: Mapping[str, str]) -> None:
    assert headers["x-gateway-deployment"] == "fast/backup-model"
    record = _record_of(gateway, headers)
    assert record["fallbacks_skipped"] == ["pricey"] and record["fallback_used"] is True


def test_chat_skips_the_fallback_the_key_may_not_use(restricted: Proc, mock_upstream: Proc) -> None:
    before = calls(mock_upstream, "pricey-model")
    with openai.OpenAI(base_url=restricted.url + "/v1", api_key=CHEAP_KEY, max_retries=0) as c:
        raw = c.chat.completions.with_raw_response.create(
            model="cheap", messages=[{"role": "user", "content": "hi"}]
        )
    assert raw.parse().choices[0].message.content
    _served_by_backup(restricted, raw.headers)
    assert calls(mock_upstream, "pricey-model") == before


def test_responses_skip_the_fallback_the_key_may_not_use(
    restricted: Proc, mock_upstream: Proc
) -> None:
    before = calls(mock_upstream, "pricey-model")
    with openai.OpenAI(base_url=restricted.url + "/v1", api_key=CHEAP_KEY, max_retries=0) as c:
        raw = c.responses.with_raw_response.create(model="cheap", input="hi")
    assert raw.parse().output_text
    _served_by_backup(restricted, raw.headers)
    assert calls(mock_upstream, "pricey-model") == before


def test_messages_skip_the_fallback_the_key_may_not_use(
    restricted: Proc, mock_upstream: Proc
) -> None:
    before = calls(mock_upstream, "pricey-model")
    with anthropic.Anthropic(base_url=restricted.url, api_key=CHEAP_KEY, max_retries=0) as c:
        raw = c.messages.with_raw_response.create(
            model="cheap", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        )
    assert raw.parse().content
    _served_by_backup(restricted, raw.headers)
    assert calls(mock_upstream, "pricey-model") == before


def test_no_allowed_fallback_left_answers_the_upstream_failure(
    restricted: Proc, mock_upstream: Proc
) -> None:
    """As if no fallback were configured: the 502 of the failing deployment, in each shape."""
    before = calls(mock_upstream, "pricey-model") + calls(mock_upstream, "backup-model")
    url = restricted.url
    with openai.OpenAI(base_url=url + "/v1", api_key=ONLY_CHEAP_KEY, max_retries=0) as c:
        with pytest.raises(openai.APIStatusError) as chat_error:
            c.chat.completions.create(model="cheap", messages=[{"role": "user", "content": "hi"}])
    with anthropic.Anthropic(base_url=url, api_key=ONLY_CHEAP_KEY, max_retries=0) as a:
        with pytest.raises(anthropic.APIStatusError) as messages_error:
            a.messages.create(
                model="cheap", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
    assert chat_error.value.status_code == 502 and messages_error.value.status_code == 502
    assert messages_error.value.body is not None
    assert calls(mock_upstream, "pricey-model") + calls(mock_upstream, "backup-model") == before
    record = _record_of(restricted, chat_error.value.response.headers)
    assert record["fallbacks_skipped"] == ["pricey", "backup"] and record["fallback_used"] is False
    attempts = [(a["deployment"], a["model"], a["status"]) for a in record["attempts"]]
    assert attempts == [("fast/fail-500", "cheap", 500)]
