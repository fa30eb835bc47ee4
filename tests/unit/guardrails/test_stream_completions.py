"""Streamed legacy completions (`text_completion` chunks): each choice's `text` goes through a
window of its own, so redact, mask, restore and block act as on chat streams, on values split
across chunks, on text held when the usage chunk arrives, on several choices, and on the prompt
that `echo` puts in the first chunk."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from gateway.config.types import GuardrailAction, GuardrailConfig
from gateway.errors import ContentBlocked
from gateway.guardrails.base import Placeholders
from gateway.guardrails.compiled import GuardrailSet
from gateway.guardrails.stream_completions import GuardedCompletion
from gateway.sse import encode_event
from tests.unit.guardrails.test_reasoning import run
from tests.unit.guardrails.test_stream import Passthrough

USAGE = {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12}
DONE = b"data: [DONE]\n\n"


def chunk(*choices: dict[str, Any], **extra: Any) -> bytes:
    event = {"id": "cmpl-1", "object": "text_completion", "model": "m", "choices": list(choices)}
    return encode_event(orjson.dumps({**event, **extra}))


def choice(index: int, text: str, finish: str | None = None) -> dict[str, Any]:
    return {"text": text, "index": index, "logprobs": None, "finish_reason": finish}


def texts(sent: list[dict[str, Any]]) -> dict[int, str]:
    """Each choice's text as a client builds it (by the choice's `index`)."""
    built: dict[int, str] = {}
    for event in sent:
        assert event["object"] == "text_completion"
        for item in event["choices"]:
            built[item["index"]] = built.get(item["index"], "") + item["text"]
    return built


def guarded(
    guards: GuardrailSet, placeholders: Placeholders | None = None, judge: bool = False
) -> GuardedCompletion:
    return GuardedCompletion(
        Passthrough(), "openai", guards, placeholders, lambda d: None, judge_at_end=judge
    )


def pii(compile_set: Callable[..., GuardrailSet], action: GuardrailAction) -> GuardrailSet:
    config = GuardrailConfig(name="pii", type="pii", applies_to="output", action=action)
    return compile_set(config)


@pytest.mark.parametrize(
    ("action", "expected"),
    [("redact", "Mail <EMAIL_ADDRESS> now"), ("mask", "Mail j****@example.org now")],
)
def test_a_value_split_across_chunks_is_rewritten_whole(
    compile_set: Callable[..., GuardrailSet], action: GuardrailAction, expected: str
) -> None:
    events = [
        chunk(choice(0, "Mail jane.d")),
        chunk(choice(0, "oe@exa")),
        chunk(choice(0, "mple.org now")),
        chunk(choice(0, "", "stop")),
        DONE,
    ]
    sent = run(guarded(pii(compile_set, action)), events)
    assert texts(sent) == {0: expected}
    assert sent[-1]["choices"][0]["finish_reason"] == "stop"  # with the text it held


def test_the_usage_chunk_never_releases_half_a_value(
    compile_set: Callable[..., GuardrailSet],
) -> None:
    events = [
        chunk(choice(0, "Mail jane.doe@exa"), usage=None),
        chunk(choices=[], usage=USAGE),  # arrives while the window holds "jane.doe@exa"
        chunk(choice(0, "mple.org now"), usage=None),
        DONE,  # no finish reason came: [DONE] flushes what is held
    ]
    sent = run(guarded(pii(compile_set, "redact")), events)
    assert texts(sent) == {0: "Mail <EMAIL_ADDRESS> now"}
    assert "jane" not in orjson.dumps(sent).decode()
    assert [e["usage"] for e in sent if not e["choices"]] == [USAGE]


def test_each_choice_and_prompt_keeps_its_own_window(
    compile_set: Callable[..., GuardrailSet],
) -> None:
    # Two prompts with n = 2: four indexes, interleaved, each holding its own half value.
    events = [
        chunk(choice(0, "A: jane.doe@exa"), choice(1, "B: bob@exa")),
        chunk(choice(2, "C: 4111 1111 "), choice(3, "D: none")),
        chunk(choice(1, "mple.com ok", "stop"), choice(0, "mple.org ok")),
        chunk(choice(2, "1111 1111", "length"), choice(3, "", "stop")),
        chunk(choice(0, "", "stop")),
        DONE,
    ]
    sent = run(guarded(pii(compile_set, "redact")), events)
    assert texts(sent) == {
        0: "A: <EMAIL_ADDRESS> ok",
        1: "B: <EMAIL_ADDRESS> ok",
        2: "C: <CREDIT_CARD>",
        3: "D: none",
    }


def test_the_prompt_echo_puts_in_the_first_chunk_is_scanned(
    compile_set: Callable[..., GuardrailSet],
) -> None:
    echoed = "Summarise the mail from jane.doe@example.org:"
    events = [chunk(choice(0, echoed)), chunk(choice(0, " It asks for a call.", "stop")), DONE]
    sent = run(guarded(pii(compile_set, "redact")), events)
    assert texts(sent) == {0: "Summarise the mail from <EMAIL_ADDRESS>: It asks for a call."}


def test_restore_puts_back_a_placeholder_cut_across_chunks() -> None:
    placeholders = Placeholders()
    token = placeholders.placeholder("EMAIL_ADDRESS", "ana@example.com")
    events = [
        chunk(choice(0, "Write to " + token[:7])),
        chunk(choices=[], usage=USAGE),
        chunk(choice(0, token[7:] + " today", "stop")),
        DONE,
    ]
    sent = run(guarded(GuardrailSet(), placeholders), events)
    assert texts(sent) == {0: "Write to ana@example.com today"}


def test_block_stops_the_stream(compile_set: Callable[..., GuardrailSet]) -> None:
    converter = guarded(pii(compile_set, "block"))
    converter.feed(chunk(choice(0, "Mail jane.doe@exa")))
    with pytest.raises(ContentBlocked, match="pii"):
        converter.feed(chunk(choice(0, "mple.org now", "stop")))


def test_a_finish_kept_for_a_verdict_goes_out_after_the_text(
    compile_set: Callable[..., GuardrailSet],
) -> None:
    converter = guarded(pii(compile_set, "redact"), judge=True)
    events = [chunk(choice(0, "Hi jane.doe@example.org", "stop"), usage=None), DONE]
    out = b"".join(b for event in events for b in converter.feed(event))
    # Nothing the client could take as the end went out before `finish` (the verdict).
    assert b"stop" not in out and b"[DONE]" not in out
    assert b"<EMAIL_ADDRESS>" in out
    sent = run(converter, [])
    assert [e["choices"] for e in sent] == [[{**choice(0, "", "stop")}]]
