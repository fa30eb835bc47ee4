"""gateway.http.methods.get_only: another method on /healthz, /readyz and /metrics is 405."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.config import load_config
from gateway.observability.recorder import MemorySink
from tests.mock_config import MOCK_MODEL


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
async def test_another_method_is_405_with_allow_and_no_record(tmp_path: Path, path: str) -> None:
    """Before, 404 `unknown_route` (the catch-all route took it) and a request record."""
    (tmp_path / "config.toml").write_text(MOCK_MODEL)
    sink = MemorySink()
    app = create_app(
        load_config(tmp_path / "config.toml", env={}), recorder=sink, watch_config=False
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        for method in ("POST", "DELETE", "OPTIONS"):
            answer = await client.request(method, path)
            assert (answer.status_code, answer.headers["allow"]) == (405, "GET, HEAD")
            assert answer.json()["error"]["code"] == "method_not_allowed"
        assert (await client.get(path)).status_code in (200, 503)  # /readyz before warm-up
    app.state.services.records.write_pending()
    await app.state.services.aclose()
    assert sink.records == []


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/v1/chat/completions", "POST"),
        ("GET", "/v1/embeddings", "POST"),
        ("PUT", "/v1/messages", "POST"),
        ("GET", "/v1/messages/count_tokens", "POST"),
        ("DELETE", "/v1/models/m", "GET, HEAD"),
        ("POST", "/v1/models", "GET, HEAD"),
        ("PUT", "/v1/responses/resp_1", "GET, DELETE"),
    ],
)
async def test_a_405_on_the_api_routes_says_what_is_allowed(
    tmp_path: Path, method: str, path: str, allow: str
) -> None:
    """RFC 9110 (15.5.6): a 405 MUST carry `Allow`. Before, only /healthz, /readyz, /metrics
    and /admin/* said it; the /v1/* routes answered 405 without it."""
    (tmp_path / "config.toml").write_text(MOCK_MODEL)
    app = create_app(
        load_config(tmp_path / "config.toml", env={}), recorder=MemorySink(), watch_config=False
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        answer = await client.request(method, path)
    await app.state.services.aclose()
    assert answer.status_code == 405
    assert answer.headers.get("allow") == allow
    error = answer.json()["error"]  # Anthropic's shape on /v1/messages*: a type, no code
    assert "not allowed" in error["message"] and error.get("code", "method_not_allowed") == (
        "method_not_allowed"
    )
