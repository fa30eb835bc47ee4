"""Upstream answers for the fuzz tests, and the lies told in them: usual OpenAI and Anthropic
answers and stream events, the values upstreams get wrong (counts, the lists an answer is made
of), and the reply a fake upstream gives with one of them told."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from gateway.upstream import UpstreamError
from gateway.upstream.fake import FakeReply

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def openai_answer(seed: int) -> bytes:
    return json.dumps(
        {
            "id": "c",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"hi {seed}"},
                    "finish_reason": "stop",
                }
            ],
            "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }
    ).encode()


def anthropic_answer(seed: int) -> bytes:
    return json.dumps(
        {
            "id": "msg",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": f"hi {seed}"}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 3, "output_tokens": 1},
        }
    ).encode()


OPENAI_EVENTS: list[Any] = [
    {
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}
        ]
    },
    {"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": None}]},
    {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
    "[DONE]",
]
# A reasoning model's answer (DeepSeek's `reasoning_content`, the encrypted reasoning the
# Responses bridge carries in `reasoning_details`), which an Anthropic client that turned
# thinking on gets as thinking blocks.
_DETAILS = [{"type": "reasoning.encrypted", "data": "gw1-0~enc", "format": "openai-responses-v1"}]
OPENAI_REASONING_ANSWER: Any = {
    "id": "c",
    "object": "chat.completion",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "hi",
                "reasoning_content": "I think.",
                "reasoning_details": _DETAILS,
            },
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}
OPENAI_REASONING_EVENTS: list[Any] = [
    {"choices": [{"index": 0, "delta": {"reasoning_content": "I "}, "finish_reason": None}]},
    {"choices": [{"index": 0, "delta": {"reasoning": "think."}, "finish_reason": None}]},
    {"choices": [{"index": 0, "delta": {"reasoning_details": _DETAILS}, "finish_reason": None}]},
    *OPENAI_EVENTS,
]
ANTHROPIC_EVENTS: list[Any] = [
    {
        "type": "message_start",
        "message": {"id": "m", "usage": {"input_tokens": 3, "output_tokens": 0}},
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
    {"type": "message_stop"},
]


# What upstreams get wrong most: counts and the lists an answer is made of.
HOSTILE_VALUES: st.SearchStrategy[object] = st.sampled_from(
    [None, -1, -(10**9), 10**30, 2**53, "12", 1.5, [], {}, "x", [1]]
)


def mutate(value: Any, data: st.DataObject) -> Any:
    """`value` with one randomly chosen part replaced by a hostile or any JSON value (or left
    alone); the deeper the part, the likelier it is a leaf such as a usage count."""
    if isinstance(value, dict) and value and data.draw(st.integers(0, 3)) > 0:
        key = data.draw(st.sampled_from(sorted(value)))
        return {**value, key: mutate(value[key], data)}
    if isinstance(value, list) and value and data.draw(st.integers(0, 3)) > 0:
        index = data.draw(st.integers(0, len(value) - 1))
        return [*value[:index], mutate(value[index], data), *value[index + 1 :]]
    choice = data.draw(st.integers(0, 3))
    if choice == 0:
        return value
    return data.draw(HOSTILE_VALUES if choice > 1 else json_values)


# Where upstreams lie most: the usage counts and the lists an answer is made of.
HOT_PATHS: list[tuple[Any, ...]] = [
    ("usage",),
    ("usage", "prompt_tokens"),
    ("usage", "completion_tokens"),
    ("usage", "prompt_tokens_details"),
    ("usage", "input_tokens"),
    ("usage", "output_tokens"),
    ("usage", "cache_read_input_tokens"),
    ("message", "usage", "input_tokens"),
    ("choices",),
    ("choices", 0),
    ("choices", 0, "message"),
    ("choices", 0, "delta"),
    ("content",),
    ("content", 0),
    ("content", 0, "text"),
    ("delta",),
    ("choices", 0, "message", "reasoning_content"),
    ("choices", 0, "message", "reasoning_details"),
    ("choices", 0, "message", "reasoning_details", 0, "data"),
    ("choices", 0, "delta", "reasoning_content"),
    ("choices", 0, "delta", "reasoning_details"),
    ("data",),
    ("index",),
]


def replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """`value` with the part at `path` replaced by `new`, when that part exists."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict) and head in value:
        return {**value, head: replace(value[head], rest, new)}
    if isinstance(value, list) and isinstance(head, int) and head < len(value):
        return [*value[:head], replace(value[head], rest, new), *value[head + 1 :]]
    return value


def sse(events: list[Any], data: st.DataObject) -> list[bytes | UpstreamError]:
    lines = b""
    for event in events:
        text = event if isinstance(event, str) else json.dumps(event)
        name = f"event: {event['type']}\n" if isinstance(event, dict) and "type" in event else ""
        lines += f"{name}data: {text}\n\n".encode()
    lines += data.draw(st.sampled_from([b"", b"data: {not json\n\n", b": comment\n\n", b"data:"]))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(lines)), max_size=4)))
    pieces: list[bytes | UpstreamError] = [
        lines[a:b] for a, b in zip([0, *cuts], [*cuts, len(lines)], strict=True)
    ]
    if data.draw(st.integers(0, 9)) == 0:
        pieces.append(UpstreamError("reset", "connection reset by the fuzzer"))
    return pieces


def hostile_reply(
    data: st.DataObject,
    *,
    anthropic: bool,
    stream: bool,
    status: int,
    lie_at: tuple[Any, ...] | None,
    lie: Any,
    cut: str,
    answer: Any = None,
    events: list[Any] | None = None,
) -> FakeReply:
    """An upstream's reply with a lie in it: `lie` at `lie_at`, or anywhere (`mutate`); a
    stream (`stream` and 200) of `events` (the usual ones of the upstream's kind when None)
    that may stop early, or a JSON `answer` (the usual one of the upstream's kind when None, an
    error body when `status` >= 400) that `cut` may truncate."""

    def hostile(value: Any) -> Any:
        return replace(value, lie_at, lie) if lie_at is not None else mutate(value, data)

    if stream and status == 200:
        if events is None:
            events = ANTHROPIC_EVENTS if anthropic else OPENAI_EVENTS
        events = list(events)
        if cut != "whole":  # the stream stops early
            events = events[: data.draw(st.integers(0, len(events) - 1))]
        events = [hostile(event) if isinstance(event, dict) else event for event in events]
        return FakeReply(200, {"content-type": "text/event-stream"}, sse(events, data))
    if answer is None:
        answer = json.loads(anthropic_answer(1) if anthropic else openai_answer(1))
    if status >= 400:
        answer = {"error": {"message": "no", "type": "x", "code": None}}
    body = json.dumps(hostile(answer)).encode()
    cuts = {"whole": body, "half": body[: len(body) // 2], "nothing": b"", "binary": b"\xff"}
    return FakeReply(status, body=cuts[cut])
