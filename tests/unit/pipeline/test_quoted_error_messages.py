"""An error message quoting what a client sent quotes at most `QUOTE_MAX_CHARS` of it: a 100 kB
model name, path, prompt id or field name comes back (and goes to the record) as its first
256 characters and how many more there were, on one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.upstream import UpstreamRequest
from gateway.upstream.fake import FakeReply
from tests.unit.pipeline.app_harness import open_gateway
from tests.unit.prompts.registry import SUPPORT

CONFIG = """
[[providers]]
name = "oai"
type = "openai"
base_url = "http://openai.invalid/v1"

[[models]]
name = "m"
[[models.deployments]]
provider = "oai"
model = "gpt-4o"

[[keys]]
id = "app"
key_sha256 = "{digest}"
"""
HUGE = "quoted-" + "q" * 100_000
# A URL's path: httpx refuses URLs past 64 kB.
LONG_PATH = "quoted-" + "q" * 60_000
# The message's own words, the first 256 characters quoted and "... (N more characters)".
MOST = 600


def answer(request: UpstreamRequest) -> FakeReply:
    raise AssertionError("no request in these tests reaches the upstream")


def chat(**extra: object) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}


async def send(
    tmp_path: Path, method: str, path: str, quotes: str = "qqqq", **kwargs: Any
) -> httpx.Response:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "support-bot.toml").write_text(SUPPORT)
    async with open_gateway(tmp_path, CONFIG, {}, answer) as gateway:
        response = await gateway.client.request(method, path, **kwargs)
        records = gateway.records()
    message = response.json()["error"]["message"]
    assert len(message) < MOST, message[:MOST]
    assert quotes in message and "more characters)" in message
    (record,) = records
    assert record["error_message"] == message
    return response


async def test_model_not_found(tmp_path: Path) -> None:
    response = await send(tmp_path, "POST", "/v1/chat/completions", json=chat(model=HUGE))
    error = response.json()["error"]
    assert (response.status_code, error["code"], error["param"]) == (
        404,
        "model_not_found",
        "model",
    )
    assert error["message"].startswith(f"the model '{HUGE[:200]}")


async def test_model_not_found_on_the_models_route(tmp_path: Path) -> None:
    response = await send(tmp_path, "GET", f"/v1/models/{LONG_PATH}")
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith(f"The model '{LONG_PATH[:200]}")


async def test_unknown_route(tmp_path: Path) -> None:
    response = await send(tmp_path, "POST", f"/v1/{LONG_PATH}", json={})
    assert (response.status_code, response.json()["error"]["code"]) == (404, "unknown_route")
    message = response.json()["error"]["message"]
    assert message.startswith(f"unknown route: POST /v1/{LONG_PATH[:200]}")
    assert message.endswith("and GET /v1/models")  # what is served is still said


async def test_method_not_allowed(tmp_path: Path) -> None:
    response = await send(tmp_path, "POST", f"/v1/models/{LONG_PATH}")
    assert response.status_code == 405
    assert response.json()["error"]["message"].startswith(
        "POST is not allowed on /v1/models/quoted-qqq"
    )


@pytest.mark.parametrize(
    ("prompt", "status", "code", "param"),
    [
        ({"id": HUGE}, 404, "prompt_not_found", "prompt.id"),
        ({"id": "support-bot", "version": HUGE}, 404, "prompt_version_not_found", None),
        ({"id": "support-bot", HUGE: 1}, 400, "invalid_prompt", None),
        (
            {"id": "support-bot", "version": 2, "variables": {"product": "", "plan": "", HUGE: ""}},
            400,
            None,
            None,
        ),
    ],
)
async def test_prompt_errors(
    tmp_path: Path, prompt: dict[str, Any], status: int, code: str | None, param: str | None
) -> None:
    response = await send(tmp_path, "POST", "/v1/chat/completions", json=chat(prompt=prompt))
    error = response.json()["error"]
    assert response.status_code == status
    if code is not None:
        assert error["code"] == code
    if param is not None:
        assert error["param"] == param
    # A param naming what the client sent is bounded as well.
    assert error["param"] is None or len(error["param"]) < MOST


async def test_response_not_found(tmp_path: Path) -> None:
    response = await send(tmp_path, "GET", f"/v1/responses/resp_{LONG_PATH}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "response_not_found"


async def test_invalid_tags_header(tmp_path: Path) -> None:
    headers = {"x-gateway-tags": HUGE}
    response = await send(tmp_path, "POST", "/v1/chat/completions", json=chat(), headers=headers)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_tags")


async def test_a_newline_in_a_quoted_name_cannot_start_a_log_line(tmp_path: Path) -> None:
    forged = "m\n2026-01-01 00:00:00 WARNING gateway: forged " + HUGE
    response = await send(
        tmp_path, "POST", "/v1/chat/completions", json=chat(model=forged), quotes="forged"
    )
    message = response.json()["error"]["message"]
    assert "\n" not in message and "m\\n2026-01-01" in message
