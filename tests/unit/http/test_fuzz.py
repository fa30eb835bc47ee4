"""Fuzzing the gateway in-process: hostile request bodies on the three request endpoints, and
hostile upstream answers (JSON and SSE) behind them, with a fixed example budget.

Whatever comes in, from either side: no 500, no hang, every error in the endpoint's shape
(OpenAI on /v1/chat/completions and /v1/embeddings, Anthropic on /v1/messages), and one record
per request that can be written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.upstream import UpstreamError
from gateway.upstream.fake import FakeReply
from tests.unit.http.fuzz_harness import BUDGET, ENDPOINTS, Harness, check

# Hypothesis's failure report trips this warning of a dependency; the report must stay readable.
pytestmark = pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict:DeprecationWarning")


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    harness = Harness(tmp_path_factory.mktemp("fuzz"))
    yield harness
    harness.close()


# -- hostile requests ---------------------------------------------------------------------------

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
texts = st.text(max_size=40) | st.sampled_from(
    [
        "mail ja\u200bne@exa\u00admple.org",
        "card ４１１１ １１１１ １１１１ １１１１",
        "\u0000\ud7ff\U0001f600",
    ]
)
contents = (
    texts
    | st.lists(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["text", "image_url", "tool_result"]), "text": texts}
        )
        | json_values,
        max_size=3,
    )
    | json_values
)
messages = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "tool", "x"]) | json_values},
    optional={"content": contents, "tool_calls": json_values, "name": json_values},
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["gpt", "claude", "nope"]) | json_values,
        "messages": st.lists(messages, max_size=3) | json_values,
        "input": texts | st.lists(texts, max_size=3) | json_values,
        "system": contents,
        "stream": st.booleans() | json_values,
        "stream_options": json_values,
        "max_tokens": st.integers(min_value=-5, max_value=2**64) | json_values,
        "temperature": json_values,
        "n": json_values,
        "tools": json_values,
        "tool_choice": json_values,
    },
)
raw_bodies = (
    bodies.map(lambda b: json.dumps(b).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=60)
)


@BUDGET
@given(path=st.sampled_from(sorted(ENDPOINTS)), body=raw_bodies)
def test_hostile_requests_get_clean_answers(harness: Harness, path: str, body: bytes) -> None:
    harness.reply = FakeReply(
        200, body=_openai_answer(0) if "messages" not in path else _anthropic_answer(0)
    )
    before = len(harness.sink.records)
    check(harness, path, harness.post(path, body), before)


# Bodies that pass the checks every route makes (a known model, messages that are objects with a
# role, a valid max_tokens), hostile inside: what the translators between the OpenAI, Anthropic
# and Responses shapes read (content blocks, tool calls, tools, system, input items). "gpt" is
# served by an OpenAI upstream and "claude" by an Anthropic one, so every endpoint but the
# one matching the provider's own shape is translated.
blocks = json_values | st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["text", "image_url", "image", "document", "file", "tool_use", "tool_result"]
            + ["input_text", "input_image", "output_text", "function_call", "message"]
        )
    },
    optional={
        "text": texts | json_values,
        "image_url": json_values,
        "source": json_values,
        "file": json_values,
        "content": texts | st.lists(json_values, max_size=2) | json_values,
        "input": json_values,
        "id": json_values,
        "name": json_values,
        "role": st.sampled_from(["user", "assistant"]) | json_values,
        "arguments": json_values,
        "call_id": json_values,
    },
)
block_contents = texts | st.lists(blocks, max_size=3) | json_values
tool_calls = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "id": json_values,
            "type": st.just("function") | json_values,
            "function": json_values
            | st.fixed_dictionaries({}, optional={"name": json_values, "arguments": json_values}),
        },
    )
    | json_values,
    max_size=2,
)
routed_messages = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "developer", "tool"])},
    optional={
        "content": block_contents,
        "tool_calls": tool_calls | json_values,
        "tool_call_id": json_values,
    },
)
tools = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.just("function") | json_values,
            "function": json_values,
            "name": json_values,
            "input_schema": json_values,
            "parameters": json_values,
        },
    )
    | json_values,
    max_size=2,
)
routed_extras = {
    "system": block_contents,
    "tools": tools | json_values,
    "tool_choice": st.sampled_from(["auto", "none", "required"]) | json_values,
    "response_format": json_values,
    "stop": json_values,
    "metadata": json_values,
}
routed_bodies = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["gpt", "claude"]),
        "max_tokens": st.just(16),
        "messages": st.lists(routed_messages, min_size=1, max_size=3),
    },
    optional=routed_extras,
)
responses_bodies = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["gpt", "claude"]),
        "input": texts | st.lists(blocks, min_size=1, max_size=3),
    },
    optional={**routed_extras, "instructions": texts, "text": json_values},
)


@BUDGET
@given(
    path=st.sampled_from(
        ["/v1/chat/completions", "/v1/messages", "/v1/messages/count_tokens", "/v1/responses"]
    ),
    data=st.data(),
)
def test_hostile_requests_on_translated_routes_get_clean_answers(
    harness: Harness, path: str, data: st.DataObject
) -> None:
    """Regression: a message's content or a tool call of the wrong type (a number, an array of
    numbers) reached a translator, or the prompt's token count (a limit's estimate,
    count_tokens), and made it raise TypeError or AttributeError: a 500."""
    body: dict[str, Any] = data.draw(responses_bodies if path == "/v1/responses" else routed_bodies)
    harness.reply = FakeReply(
        200, body=_anthropic_answer(0) if body["model"] == "claude" else _openai_answer(0)
    )
    before = len(harness.sink.records)
    check(harness, path, harness.post(path, json.dumps(body).encode()), before)


# -- hostile upstream answers -------------------------------------------------------------------


def _openai_answer(seed: int) -> bytes:
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


def _anthropic_answer(seed: int) -> bytes:
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


def _mutate(value: Any, data: st.DataObject) -> Any:
    """`value` with one randomly chosen part replaced by a hostile or any JSON value (or left
    alone); the deeper the part, the likelier it is a leaf such as a usage count."""
    if isinstance(value, dict) and value and data.draw(st.integers(0, 3)) > 0:
        key = data.draw(st.sampled_from(sorted(value)))
        return {**value, key: _mutate(value[key], data)}
    if isinstance(value, list) and value and data.draw(st.integers(0, 3)) > 0:
        index = data.draw(st.integers(0, len(value) - 1))
        return [*value[:index], _mutate(value[index], data), *value[index + 1 :]]
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
    ("data",),
    ("index",),
]


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """`value` with the part at `path` replaced by `new`, when that part exists."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict) and head in value:
        return {**value, head: _replace(value[head], rest, new)}
    if isinstance(value, list) and isinstance(head, int) and head < len(value):
        return [*value[:head], _replace(value[head], rest, new), *value[head + 1 :]]
    return value


def _hostile(value: Any, data: st.DataObject) -> Any:
    """`value` made hostile: a lie at a usual place, or anywhere."""
    if data.draw(st.booleans()):
        path = data.draw(st.sampled_from(HOT_PATHS))
        return _replace(value, path, data.draw(HOSTILE_VALUES | json_values))
    return _mutate(value, data)


def _sse(events: list[Any], data: st.DataObject) -> list[bytes | UpstreamError]:
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


@settings(BUDGET, max_examples=100)
@given(
    path=st.sampled_from(sorted(ENDPOINTS)),
    anthropic_upstream=st.booleans(),
    stream=st.booleans(),
    status=st.sampled_from([200, 200, 200, 200, 200, 400, 401, 429, 500]),
    lie_at=st.sampled_from(HOT_PATHS) | st.none(),
    lie=HOSTILE_VALUES | json_values,
    cut=st.sampled_from(["whole", "whole", "whole", "half", "nothing", "binary"]),
    data=st.data(),
)
def test_hostile_upstream_answers_get_clean_answers(
    harness: Harness,
    path: str,
    anthropic_upstream: bool,
    stream: bool,
    status: int,
    lie_at: tuple[Any, ...] | None,
    lie: Any,
    cut: str,
    data: st.DataObject,
) -> None:
    embeddings = path == "/v1/embeddings"
    anthropic_upstream = anthropic_upstream and not embeddings
    stream = stream and not embeddings

    def hostile(value: Any) -> Any:
        return _replace(value, lie_at, lie) if lie_at is not None else _mutate(value, data)

    if stream and status == 200:
        events = list(ANTHROPIC_EVENTS if anthropic_upstream else OPENAI_EVENTS)
        if cut != "whole":  # the stream stops early
            events = events[: data.draw(st.integers(0, len(events) - 1))]
        events = [hostile(event) if isinstance(event, dict) else event for event in events]
        harness.reply = FakeReply(200, {"content-type": "text/event-stream"}, _sse(events, data))
    else:
        template = json.loads(_anthropic_answer(1) if anthropic_upstream else _openai_answer(1))
        if status >= 400:
            template = {"error": {"message": "no", "type": "x", "code": None}}
        body = json.dumps(hostile(template)).encode()
        body = {"whole": body, "half": body[: len(body) // 2], "nothing": b"", "binary": b"\xff"}[
            cut
        ]
        harness.reply = FakeReply(status, body=body)
    request: dict[str, Any] = {"model": "claude" if anthropic_upstream else "gpt"}
    if embeddings:
        request["input"] = data.draw(texts)
    else:
        request.update(stream=stream, max_tokens=16)
        request["messages"] = [{"role": "user", "content": data.draw(texts)}]
    before = len(harness.sink.records)
    response = harness.post(path, json.dumps(request).encode())
    check(harness, path, response, before)
    record = harness.sink.records[-1]
    assert 0 <= record["prompt_tokens"] < 2**53 and 0 <= record["completion_tokens"] < 2**53
    assert record["cost_usd"] >= 0
