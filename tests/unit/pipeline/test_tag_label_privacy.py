"""What a request's tags leave in its record and in /metrics: a secret a client echoed into a
tag never (scrubbed always), an email not with `[logging] redact_pii_in_logs` (the tag labels
are redacted as the record is)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.config import load_config
from gateway.observability.recorder import MemorySink
from tests.mock_config import DEMO_KEY, MOCK_MODEL, key_table

PROVIDER_KEY = "prov-secret-7f3a9c2e51"
PROVIDER = """
[[providers]]
name = "keyed"
type = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "TAG_PROVIDER_KEY"
"""
TAGS = f"user=jane@example.com,echo=key {PROVIDER_KEY},auth=Bearer sk-live4242424242"


@pytest.fixture(autouse=True)
def provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAG_PROVIDER_KEY", PROVIDER_KEY)  # the runtime's secrets read it


async def _tagged(tmp_path: Path, redact: bool) -> tuple[dict[str, str], str]:
    """The record's tags and the /metrics text after one tagged request."""
    tmp_path.mkdir(exist_ok=True)
    logging = f"[logging]\nredact_pii_in_logs = {str(redact).lower()}\n"
    metrics = '[metrics]\ntag_labels = ["user", "echo", "auth"]\n'
    (tmp_path / "config.toml").write_text(
        logging + metrics + MOCK_MODEL + PROVIDER + key_table("k")
    )
    config = load_config(tmp_path / "config.toml")
    sink = MemorySink()  # no transform: the record as built, before the log's redaction
    app = create_app(config, recorder=sink, watch_config=False)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"authorization": f"Bearer {DEMO_KEY}", "x-gateway-tags": TAGS}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gw"
    ) as client:
        assert (await client.post("/v1/chat/completions", json=body, headers=headers)).is_success
        text = (await client.get("/metrics")).text  # every ended request is recorded first
    (record,) = sink.records
    return record["tags"], text


@pytest.mark.parametrize("redact", [False, True])
async def test_a_secret_in_a_tag_is_scrubbed_from_the_record_and_the_labels(
    tmp_path: Path, redact: bool
) -> None:
    tags, text = await _tagged(tmp_path, redact)
    for where in (str(tags), text):
        assert PROVIDER_KEY not in where and "sk-live4242424242" not in where
    assert tags["echo"] == "key ****" and tags["auth"] == "Bearer ****"
    assert 'tag="echo",value="key ****"' in text


async def test_an_email_tag_label_is_redacted_only_with_redact_pii_in_logs(
    tmp_path: Path,
) -> None:
    _, kept = await _tagged(tmp_path / "kept", redact=False)
    assert 'tag="user",value="jane@example.com"' in kept
    _, redacted = await _tagged(tmp_path / "redacted", redact=True)
    assert "jane@example.com" not in redacted
    assert 'tag="user",value="<EMAIL_ADDRESS>"' in redacted
