"""The send that frees a request's concurrency slot: nothing before the message that ends the
answer (the start, a stream's chunks), the slot free as that message leaves, every message
passed on in order."""

from __future__ import annotations

import time
from pathlib import Path

from starlette.types import Message

from gateway.app import create_app
from gateway.config import load_config
from gateway.observability.recorder import MemorySink
from gateway.pipeline.context import Endpoint, RequestContext
from gateway.pipeline.finish import free_slots_before_last_byte
from gateway.pipeline.services import Services
from gateway.pipeline.stages import authenticate, check_limits, parse_body, resolve_model
from tests.unit.pipeline.test_check_limits import CONFIG


def services(tmp_path: Path) -> Services:
    (tmp_path / "config.toml").write_text(CONFIG)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "limited.toml").write_text("[limits]\nmax_concurrent = 1\n")
    config = load_config(tmp_path / "config.toml", env={})
    app = create_app(config, recorder=MemorySink(), watch_config=False)
    result: Services = app.state.services
    return result


async def test_the_slot_is_freed_by_the_message_that_ends_the_answer(tmp_path: Path) -> None:
    svc = services(tmp_path)
    ctx = RequestContext(
        Endpoint("/v1/chat/completions", "chat", "openai"),
        svc.runtime,
        "req_1",
        time.time(),
        time.monotonic(),
        {"authorization": "Bearer sk-demo"},
    )
    ctx.raw_body = b'{"model": "m", "messages": [{"role": "user", "content": "hello"}]}'
    for stage in (authenticate, parse_body, resolve_model, check_limits):
        await stage(ctx, svc)
    sent: list[tuple[Message, float]] = []

    async def send(message: Message) -> None:
        usage = await svc.limiter.state.usage("key", "k", time.time())
        sent.append((message, usage["concurrent"]))

    out = free_slots_before_last_byte(ctx, svc, send)
    messages: list[Message] = [
        {"type": "http.response.start", "status": 200, "headers": []},
        {"type": "http.response.body", "body": b"a", "more_body": True},
        {"type": "http.response.body", "body": b"b", "more_body": False},
    ]
    for message in messages:
        await out(message)
    assert [message for message, _ in sent] == messages
    assert [held for _, held in sent] == [1.0, 1.0, 0.0]  # freed as the last one leaves
    await svc.aclose()
