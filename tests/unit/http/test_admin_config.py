"""gateway.http.admin_config: `GET /admin/config` never carries a secret of the config."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from gateway.config import load_config
from gateway.http.admin_config import masked_config, masked_url
from gateway.runtime import build_runtime
from tests.mock_config import DEMO_KEY_SHA256, MOCK_MODEL, key_table

SECRETS = (
    "Pr0xyPassw0rd",
    "hdr-secret-token-123456",
    "qs-secret-987654321",
    "RedisPassw0rd",
    "urlkey-55555",
    "otlp-pass-777",
    "sk-openai-s3cr3t",
    DEMO_KEY_SHA256,
)
CONFIG = f"""\
[state]
backend = "memory"
redis_url = "redis://gw:RedisPassw0rd@127.0.0.1:6379/0"

[tracing]
endpoint = "http://collector:4318/v1/traces?token=otlp-pass-777"  # (userinfo: a check problem)

[[providers]]
name = "corp"
type = "openai"
base_url = "http://127.0.0.1:9/v1?key=urlkey-55555"
api_key_env = "OPENAI_API_KEY"
proxy = "http://proxyuser:Pr0xyPassw0rd@127.0.0.1:3128"
headers = {{ "Authorization" = "Bearer hdr-secret-token-123456", "x-org" = "acme" }}
query = {{ "api-key" = "qs-secret-987654321" }}
{MOCK_MODEL}{key_table("k")}"""


def test_no_secret_of_the_config_reaches_the_answer(tmp_path: Path) -> None:
    (tmp_path / "gateway.toml").write_text(CONFIG)
    env = {"OPENAI_API_KEY": "sk-openai-s3cr3t"}
    runtime = build_runtime(load_config(tmp_path / "gateway.toml", env=env), env=env)
    data = masked_config(runtime)
    text = orjson.dumps(data).decode()
    assert [secret for secret in SECRETS if secret in text] == []
    corp = data["providers"]["corp"]
    assert corp["network"]["proxy"] == "http://proxyuser:****@127.0.0.1:3128"
    assert corp["headers"] == {"authorization": "****", "x-org": "****"}
    assert corp["query"] == {"api-key": "****"}
    assert corp["base_url"] == "http://127.0.0.1:9/v1?key=****"
    assert corp["api_key"] == "set (masked)"
    assert data["state"]["redis_url"] == "redis://gw:****@127.0.0.1:6379/0"
    assert data["tracing"]["endpoint"] == "http://collector:4318/v1/traces?token=****"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (None, None),
        ("", ""),
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
        ("redis://:pw-only@host:6379/2", "redis://:****@host:6379/2"),
        ("http://token-only@proxy:3128", "http://****@proxy:3128"),
        ("rediss://h:6379?ssl_password=pw&db", "rediss://h:6379?ssl_password=****&db"),
        ("http://u:p@host:notaport/", "****"),
    ],
)
def test_masked_url(url: str | None, shown: str | None) -> None:
    assert masked_url(url) == shown
