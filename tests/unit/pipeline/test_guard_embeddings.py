"""Guardrails on embeddings: each input text is scanned (and redacted: the vector is then the
redacted text's), and the answer, vectors without text, is never walked for strings."""

from __future__ import annotations

import base64
import struct
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest

from gateway.config.types import GuardrailConfig
from gateway.guardrails.base import Placeholders
from gateway.guardrails.compiled import compile_guardrails
from gateway.pipeline.context import RequestContext
from gateway.pipeline.guard import guard_input, guard_output
from gateway.pipeline.services import Services

RESTORE = compile_guardrails(
    [GuardrailConfig(name="pii", type="pii", applies_to="both", action="restore")]
)


def context(body: dict[str, Any]) -> RequestContext:
    ctx = SimpleNamespace(
        key=SimpleNamespace(policy="guarded"),
        runtime=SimpleNamespace(guardrails={"guarded": RESTORE}),
        endpoint=SimpleNamespace(kind="embeddings", wire="openai"),
        stream=False,
        stream_reply=None,
        body=body,
        placeholders=None,
        guardrails=[],
        response_json=None,
        response_body=None,
    )
    return cast(RequestContext, ctx)


def embedding(index: int) -> str:
    return base64.b64encode(struct.pack("<4f", index, 0.5, 0.25, 0.125)).decode()


async def test_each_input_is_scanned_and_the_answer_is_left_as_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body: dict[str, Any] = {
        "model": "m",
        "input": ["write to jane.doe@example.org", "no address here", "or bob@example.com"],
        "encoding_format": "base64",
    }
    ctx = context(body)
    await guard_input(ctx, cast(Services, None))
    assert body["input"] == [
        "write to <EMAIL_ADDRESS_1>",
        "no address here",
        "or <EMAIL_ADDRESS_2>",
    ]
    answer = {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": embedding(i)} for i in range(3)],
        "model": "m",
        "usage": {"prompt_tokens": 12, "total_tokens": 12},
    }
    sent = orjson.dumps(answer)
    ctx.response_json, ctx.response_body = answer, sent
    restored: list[str] = []
    real = Placeholders.restore

    def counting(self: Placeholders, text: str, *args: Any) -> str:
        restored.append(text)
        return real(self, text, *args)

    monkeypatch.setattr(Placeholders, "restore", counting)
    await guard_output(ctx, cast(Services, None))
    # A batch of vectors has no text to put values back into: not one string of it is read
    # (a float batch of 2,048 x 3,072 numbers walked for strings held the loop for seconds).
    assert restored == []
    assert ctx.response_body is sent
