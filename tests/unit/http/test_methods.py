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
