"""Every label a client's input reaches is bounded: a client sending ever new model names,
tags, session ids, end users, prompt references, keys and paths cannot grow the number of
series /metrics exposes (model names not in the config count as `_unknown`, tag values past
`tag_values_max` as `other`, the rest never become labels)."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.config import load_config
from gateway.observability.recorder import MemorySink
from tests.mock_config import MOCK_MODEL, key_table

CONFIG = '[metrics]\ntag_labels = ["team"]\ntag_values_max = 3\n' + MOCK_MODEL + key_table("k")
PATHS = ("/v1/chat/completions", "/v1/messages", "/v1/responses", "/v1/completions")


async def series(client: httpx.AsyncClient) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    text = (await client.get("/metrics")).text
    return {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def hostile(client: httpx.AsyncClient, n: int) -> None:
    """Requests whose every client-chosen field is new (`n` makes them so), good and bad."""
    headers = {
        "authorization": "Bearer sk-demo",
        "x-gateway-tags": f"team=t{n},other=o{n}",
        "x-gateway-session-id": f"s{n}",
        "traceparent": f"00-{n:032x}-{n + 1:016x}-01",
    }
    if n % 4 == 0:
        headers["x-gateway-prompt"] = f"p{n}@1"
    for model in ("m", f"model-{n}"):
        body = {
            "model": model,
            "messages": [{"role": "user", "content": f"c{n}"}],
            "input": f"c{n}",
            "prompt": f"c{n}",
            "max_tokens": 8,
            "user": f"u{n}",
            "stream": n % 2 == 0,
        }
        await client.post(PATHS[n % len(PATHS)], json=body, headers=headers)
    await client.post(PATHS[0], json={"model": "m"}, headers={"authorization": f"Bearer k{n}"})
    await client.get(f"/v1/models/model-{n}", headers=headers)
    await client.get(f"/nowhere-{n}")


async def test_a_client_cannot_grow_the_series(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG)
    app = create_app(
        load_config(tmp_path / "config.toml", env={}), recorder=MemorySink(), watch_config=False
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        for n in range(24):  # every kind of request, every status, each tag value cap reached
            await hostile(client, n)
        before = await series(client)
        for n in range(24, 72):
            await hostile(client, n)
        after = await series(client)
    await app.state.services.aclose()
    assert len(before) > 100  # the traffic did reach the request series
    assert after == before
