"""The texts of a body joined for one scan, and the edits written back part by part."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, SupportsIndex, cast

from gateway.config.types import GuardrailConfig
from gateway.guardrails.bodies import SEPARATOR, input_groups
from gateway.guardrails.compiled import compile_guardrails
from gateway.pipeline.context import RequestContext
from gateway.pipeline.guard import _apply, _join, _write_back
from gateway.pipeline.services import Services


def test_parts_of_a_message_join_without_a_separator() -> None:
    body: dict[str, Any] = {
        "system": "sys",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "a@ex"},
                    {"type": "text", "text": "ample.org"},
                ],
            },
            {"role": "assistant", "content": "ok"},
        ],
    }
    groups = input_groups(body, "chat")
    joined, spans = _join(groups)
    assert joined == f"sys{SEPARATOR}a@example.org{SEPARATOR}ok"
    assert [joined[a:b] for a, b in spans] == ["sys", "a@ex", "ample.org", "ok"]


def test_an_edit_across_parts_keeps_the_parts() -> None:
    parts = [{"text": "mail a@ex"}, {"text": "ample.org now"}]
    slots = [(parts[0], "text"), (parts[1], "text")]
    joined, spans = _join([slots])
    start = joined.index("a@")
    _write_back(slots, spans, [(start, start + len("a@example.org"), "<EMAIL>")])
    assert parts == [{"text": "mail <EMAIL>"}, {"text": " now"}]


class Visits(list[tuple[int, int, str]]):
    """Edits that count how many of them are looked at."""

    visits = 0

    def __iter__(self) -> Iterator[tuple[int, int, str]]:
        for item in super().__iter__():
            Visits.visits += 1
            yield item

    def __getitem__(self, index: SupportsIndex) -> Any:  # type: ignore[override]
        Visits.visits += 1
        return super().__getitem__(index)


def test_edits_are_written_back_in_one_pass() -> None:
    messages = 2000
    parts = [{"text": f"a{m}@ex.com b"} for m in range(messages)]
    groups = [[(part, "text")] for part in parts]
    joined, spans = _join(groups)
    edits = Visits(
        (start, start + len(f"a{m}@ex.com"), "<E>") for m, (start, _) in enumerate(spans)
    )
    _write_back([slot for group in groups for slot in group], spans, edits)
    assert all(part["text"] == "<E> b" for part in parts)
    assert Visits.visits < 10 * messages  # every edit for every part: messages * messages


def test_a_value_glued_to_the_next_part_is_still_found() -> None:
    (guard,) = compile_guardrails([GuardrailConfig(name="pii", type="pii", action="redact")]).input
    parts = [
        {"type": "text", "text": "mail jane.doe@example.org"},
        {"type": "text", "text": "thanks, card 4111 1111 1111 1111"},
        {"type": "text", "text": "2 more"},
    ]
    body: dict[str, Any] = {"messages": [{"role": "user", "content": parts}]}
    ctx = cast(RequestContext, SimpleNamespace(guardrails=[]))
    groups = input_groups(body, "chat")
    asyncio.run(_apply((guard,), groups, "input", ctx, cast(Services, None), None))
    assert [p["text"] for p in parts] == [
        "mail <EMAIL_ADDRESS>",
        "thanks, card <CREDIT_CARD>",
        "2 more",
    ]


def test_parts_apart_are_separated_like_groups() -> None:
    parts = [{"text": "ab"}, {"text": "cd"}]
    groups = [[(parts[0], "text"), (parts[1], "text")], [({"t": "ef"}, "t")]]
    joined, spans = _join(groups, apart=True)
    assert joined == f"ab{SEPARATOR}cd{SEPARATOR}ef"
    assert [joined[a:b] for a, b in spans] == ["ab", "cd", "ef"]
