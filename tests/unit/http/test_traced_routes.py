"""Every request that leaves a record is traced, as the proxied ones are: `GET /v1/models`,
`GET /v1/models/{model_id}` and the catch-all 404 start their trace from the client's
`traceparent` (its sampled flag honoured) and hand the tracer their HTTP method and route
template (never the path), which name their span."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.config.load import load_config
from gateway.observability.recorder import MemorySink
from gateway.observability.trace_context import TraceIds, new_ids, parent_sampled
from tests.mock_config import DEMO_KEY, MOCK_MODEL, key_table

CLIENT_TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SAMPLED = f"00-{CLIENT_TRACE:032x}-00f067aa0ba902b7-01"
UNSAMPLED = f"00-{CLIENT_TRACE:032x}-00f067aa0ba902b7-00"


class Recording:
    """A `RequestTracer` that keeps what it is asked to export."""

    def __init__(self) -> None:
        self.exported: list[tuple[Mapping[str, Any], TraceIds]] = []
        self.rng = random.Random(1)

    def start(self, headers: Mapping[str, str]) -> TraceIds | None:
        if parent_sampled(headers.get("traceparent")) is False:
            return None
        return new_ids(headers, self.rng)

    def export(
        self,
        record: Mapping[str, Any],
        ids: TraceIds,
        attempt_span_ids: Sequence[int | None],
        content: tuple[Any, Any] | None,
    ) -> None:
        self.exported.append((record, ids))

    def shutdown(self) -> None:
        pass


async def exported(tmp_path: Path, path: str, traceparent: str = SAMPLED) -> list[Any]:
    (tmp_path / "config.toml").write_text(MOCK_MODEL + key_table("k"))
    sink = MemorySink()
    app = create_app(
        load_config(tmp_path / "config.toml", env={}), recorder=sink, watch_config=False
    )
    services = app.state.services
    services.tracer = services.records.tracer = recording = Recording()
    headers = {"authorization": f"Bearer {DEMO_KEY}", "traceparent": traceparent}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        await client.get(path, headers=headers)
    services.records.write_pending()
    await services.aclose()
    assert len(sink.records) == 1  # one record, as before
    return [(r["http_method"], r["http_route"], ids.trace_id) for r, ids in recording.exported]


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/v1/models", "/v1/models"),
        ("/v1/models/m", "/v1/models/{model_id}"),
        ("/v1/nowhere/42", None),
    ],
)
async def test_each_route_is_traced_with_its_method_and_template(
    tmp_path: Path, path: str, route: str | None
) -> None:
    assert await exported(tmp_path, path) == [("GET", route, CLIENT_TRACE)]


async def test_the_clients_unsampled_trace_is_not_exported(tmp_path: Path) -> None:
    assert await exported(tmp_path, "/v1/models", UNSAMPLED) == []


async def test_another_method_on_a_proxied_route_is_traced_as_what_it_was(tmp_path: Path) -> None:
    """A `GET` refused with 405 on a proxied route was exported as a `chat` span whose
    `http.request.method` said POST."""
    assert await exported(tmp_path, "/v1/chat/completions") == [
        ("GET", "/v1/chat/completions", CLIENT_TRACE)
    ]
