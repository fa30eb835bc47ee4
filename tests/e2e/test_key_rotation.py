"""Rotating a gateway key's secret with the OpenAI SDK: while the entry names the old secret as
`previous_key_sha256` both secrets are the one key (its id in every record, one set of limits),
the records say which clients still send the old one, and the reload that drops it refuses it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import openai
import pytest

from tests.conditions import wait_until
from tests.e2e.records import wait_for_records
from tests.mock_config import MOCK_MODEL
from tests.procs import start_gateway

OLD, NEW = "sk-rotation-old-3b9d", "sk-rotation-new-7c1e"


def _config(previous: bool) -> str:
    lines = [
        '[logging]\npath = "records.jsonl"\n',
        MOCK_MODEL,
        '[[keys]]\nid = "app"\npolicy = "capped"',
        f'key_sha256 = "{hashlib.sha256(NEW.encode()).hexdigest()}"',
    ]
    if previous:
        lines.append(f'previous_key_sha256 = "{hashlib.sha256(OLD.encode()).hexdigest()}"')
    return "\n".join(lines) + "\n"


def _ask(url: str, secret: str) -> None:
    with openai.OpenAI(base_url=url + "/v1", api_key=secret, max_retries=0) as client:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])


def test_both_secrets_are_one_key_until_the_old_one_is_dropped(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "capped.toml").write_text("[limits]\nrpm = 3\n")
    config = tmp_path / "config.toml"
    config.write_text(_config(previous=True))
    gateway = start_gateway(config)
    try:
        _ask(gateway.url, OLD)
        _ask(gateway.url, NEW)
        _ask(gateway.url, OLD)
        with pytest.raises(openai.RateLimitError):  # one key's rpm, whichever secret
            _ask(gateway.url, NEW)
        records = wait_for_records(4, tmp_path / "records.jsonl")
        assert [r["key_id"] for r in records] == ["app"] * 4
        assert [r.get("key_secret") for r in records[:3]] == ["previous", None, "previous"]
        config.write_text(_config(previous=False))

        def old_refused() -> bool:
            try:
                _ask(gateway.url, OLD)
            except openai.AuthenticationError:
                return True
            except openai.RateLimitError:
                return False
            return False

        wait_until(old_refused, 10, 0.1, "the old secret was never refused")
    finally:
        gateway.stop()
