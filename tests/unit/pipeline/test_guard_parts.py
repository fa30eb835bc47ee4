"""The texts of a body joined for one scan, and the edits written back part by part."""

from __future__ import annotations

from typing import Any

from gateway.guardrails.bodies import input_groups
from gateway.pipeline.guard import SEPARATOR, _join, _write_back


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
