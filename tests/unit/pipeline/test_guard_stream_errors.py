"""An upstream stream event the output guard cannot read (a choice `index` that is a list) is an
`upstream_malformed` failure, as it is for the adapter's own converter: a 502 before the stream
started, an error event after; never a bare 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest

from gateway.config.types import GuardrailConfig
from gateway.errors import UpstreamFailed
from gateway.guardrails.compiled import compile_guardrails
from gateway.pipeline.context import RequestContext
from gateway.pipeline.guard_stream import guard_stream
from gateway.pipeline.services import Services
from tests.unit.guardrails.test_stream import Passthrough

GUARDS = compile_guardrails(
    [GuardrailConfig(name="pii", type="pii", applies_to="output", action="redact")]
)


def event(index: Any, text: str) -> bytes:
    choice = {"index": index, "delta": {"content": text}, "finish_reason": None}
    return b"data: " + orjson.dumps({"id": "c", "choices": [choice]}) + b"\n\n"


async def chunks(items: list[bytes]) -> AsyncIterator[bytes]:
    for item in items:
        yield item


def streaming(pending: list[bytes]) -> tuple[RequestContext, Any]:
    reply = SimpleNamespace(converter=Passthrough(), pending=pending, chunks=None)
    ctx = SimpleNamespace(
        stream_reply=reply,
        endpoint=SimpleNamespace(kind="chat", wire="openai"),
        guardrails=[],
    )
    return cast(RequestContext, ctx), reply


async def test_an_unreadable_first_event_is_malformed() -> None:
    ctx, _ = streaming([event(0, "hello "), event([0], "world")])
    with pytest.raises(UpstreamFailed, match="malformed"):
        await guard_stream(ctx, cast(Services, None), GUARDS, None)


async def test_an_unreadable_later_event_is_malformed() -> None:
    ctx, reply = streaming([event(0, "hello ")])
    reply.chunks = chunks([event([0], "world")])
    await guard_stream(ctx, cast(Services, None), GUARDS, None)
    with pytest.raises(UpstreamFailed, match="malformed"):
        async for _ in reply.chunks:
            pass
