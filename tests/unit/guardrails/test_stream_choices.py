"""Chat answers with several choices (`n` > 1), streamed and JSON, and chunks that carry none
(the usage chunk of `stream_options.include_usage`, Azure's filter results): each choice has
windows of its own, and a chunk without choices ends no text, so a value it cuts is still found
whole."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest

from gateway.config.types import GuardrailConfig
from gateway.guardrails.bodies import output_groups
from gateway.guardrails.compiled import GuardrailSet
from gateway.guardrails.stream import GuardedConverter
from gateway.pipeline.context import RequestContext
from gateway.pipeline.guard import _apply
from gateway.pipeline.services import Services
from gateway.sse import encode_event
from tests.unit.guardrails.test_reasoning import run
from tests.unit.guardrails.test_stream import Passthrough


@pytest.fixture
def pii(compile_set: Callable[..., GuardrailSet]) -> GuardrailSet:
    return compile_set(
        GuardrailConfig(name="pii", type="pii", applies_to="output", action="redact")
    )


def chunk(*choices: dict[str, Any], **extra: Any) -> bytes:
    return encode_event(orjson.dumps({"id": "c", "choices": list(choices), **extra}))


def choice(index: int, text: str | None = None, finish: str | None = None) -> dict[str, Any]:
    delta = {} if text is None else {"content": text}
    return {"index": index, "delta": delta, "finish_reason": finish}


def texts(sent: list[dict[str, Any]]) -> dict[int, str]:
    """Each choice's text as a client builds it (by the choice's `index`)."""
    built: dict[int, str] = {}
    for event in sent:
        for item in event.get("choices") or ():
            built[item["index"]] = built.get(item["index"], "") + (
                item["delta"].get("content") or ""
            )
    return built


def converter(guards: GuardrailSet) -> GuardedConverter:
    return GuardedConverter(Passthrough(), "openai", guards, None, lambda d: None)


USAGE = {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12}


def test_a_chunk_without_choices_never_releases_half_a_value(pii: GuardrailSet) -> None:
    events = [
        chunk(choice(0, "Mail jane.doe@exa")),
        chunk(usage=USAGE),  # arrives while the window holds "jane.doe@exa"
        chunk(choice(0, "mple.org now", "stop")),
        b"data: [DONE]\n\n",
    ]
    sent = run(converter(pii), events)
    assert texts(sent) == {0: "Mail <EMAIL_ADDRESS> now"}
    assert "jane" not in orjson.dumps(sent).decode()
    assert [e for e in sent if not e["choices"]] == [{"id": "c", "choices": [], "usage": USAGE}]


def test_each_choice_keeps_its_own_held_text(pii: GuardrailSet) -> None:
    events = [
        chunk(choice(0, "A: mail jane.doe@exa")),
        chunk(choice(1, "B: mail bob@exa")),
        chunk(choice(1, "mple.com ok"), choice(0, "mple.org ok")),
        chunk(choice(0, None, "stop")),
        chunk(usage=USAGE),
        chunk(choice(1, " bye", "stop")),
        b"data: [DONE]\n\n",
    ]
    sent = run(converter(pii), events)
    assert texts(sent) == {0: "A: mail <EMAIL_ADDRESS> ok", 1: "B: mail <EMAIL_ADDRESS> ok bye"}


async def test_a_json_answer_with_several_choices_keeps_each_its_own(pii: GuardrailSet) -> None:
    # No finding runs from one choice into the next, and each rewrite lands in its own choice.
    said = [("A jane.doe@example.org", "thinks of bob@example.com"), ("B 4111", "none")]
    messages = [{"role": "assistant", "content": t, "reasoning_content": r} for t, r in said]
    data = {"choices": [{"index": n, "message": m} for n, m in enumerate(messages)]}
    ctx = cast(RequestContext, SimpleNamespace(guardrails=[]))
    groups = output_groups(data, "openai")
    await _apply(pii.output, groups, "output", ctx, cast(Services, None), None)
    assert [(m["content"], m["reasoning_content"]) for m in messages] == [
        ("A <EMAIL_ADDRESS>", "thinks of <EMAIL_ADDRESS>"),
        ("B 4111", "none"),
    ]
