"""Attribution headers sent as UTF-8 are recorded as the text the application sent."""

from __future__ import annotations

from pathlib import Path

import httpx

from gateway.app import create_app
from gateway.config import load_config
from gateway.observability.recorder import MemorySink
from tests.mock_config import DEMO_KEY, MOCK_MODEL, key_table


async def test_utf8_tags_and_session_are_recorded_as_sent(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(MOCK_MODEL + key_table("k"))
    sink = MemorySink()
    app = create_app(
        load_config(tmp_path / "config.toml", env={}), recorder=sink, watch_config=False
    )
    headers = {
        b"authorization": f"Bearer {DEMO_KEY}".encode(),
        b"x-gateway-tags": "feature=café,env=日本".encode(),
        b"x-gateway-session-id": "sé".encode(),
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gw"
    ) as client:
        answer = await client.post(
            "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
            headers=headers,
        )
        await client.get("/metrics")  # every ended request is recorded first
    assert answer.status_code == 200
    (record,) = sink.records
    assert record["tags"] == {"feature": "café", "env": "日本"}
    assert record["session_id"] == "sé"


async def test_tags_sent_on_several_header_lines_are_all_kept(tmp_path: Path) -> None:
    # A list header on several lines is one list (proxies and clients split them).
    (tmp_path / "config.toml").write_text(MOCK_MODEL + key_table("k"))
    sink = MemorySink()
    app = create_app(
        load_config(tmp_path / "config.toml", env={}), recorder=sink, watch_config=False
    )
    headers = [
        ("authorization", f"Bearer {DEMO_KEY}"),
        ("x-gateway-tags", "feature=search"),
        ("x-gateway-tags", "env=prod"),
    ]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gw"
    ) as client:
        await client.post(
            "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
            headers=headers,
        )
        await client.get("/metrics")
    (record,) = sink.records
    assert record["tags"] == {"feature": "search", "env": "prod"}
