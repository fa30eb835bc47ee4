"""Fuzzing the gateway in-process: hostile request bodies on the three request endpoints, and
hostile upstream answers (JSON and SSE) behind them, with a fixed example budget.

Whatever comes in, from either side: no 500, no hang, every error in the endpoint's shape
(OpenAI on /v1/chat/completions and /v1/embeddings, Anthropic on /v1/messages), and one record
per request that can be written.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.upstream.fake import FakeReply
from tests.unit.http.fuzz_harness import BUDGET, ENDPOINTS, Harness, check
from tests.unit.http.hostile_answers import (
    HOSTILE_VALUES,
    HOT_PATHS,
    OPENAI_REASONING_ANSWER,
    OPENAI_REASONING_EVENTS,
    anthropic_answer,
    hostile_reply,
    json_values,
    openai_answer,
)

# Hypothesis's failure report trips this warning of a dependency; the report must stay readable.
pytestmark = pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict:DeprecationWarning")


# -- hostile requests ---------------------------------------------------------------------------

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
        200, body=openai_answer(0) if "messages" not in path else anthropic_answer(0)
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
        200, body=anthropic_answer(0) if body["model"] == "claude" else openai_answer(0)
    )
    before = len(harness.sink.records)
    check(harness, path, harness.post(path, json.dumps(body).encode()), before)


# -- hostile upstream answers -------------------------------------------------------------------


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

    # A reasoning model's answer, and an Anthropic client that asked to see the thinking.
    reasoning = not anthropic_upstream and data.draw(st.booleans())
    harness.reply = hostile_reply(
        data,
        anthropic=anthropic_upstream,
        stream=stream,
        status=status,
        lie_at=lie_at,
        lie=lie,
        cut=cut,
        answer=OPENAI_REASONING_ANSWER if reasoning else None,
        events=OPENAI_REASONING_EVENTS if reasoning else None,
    )
    request: dict[str, Any] = {"model": "claude" if anthropic_upstream else "gpt"}
    if path == "/v1/messages" and data.draw(st.booleans()):
        request["thinking"] = data.draw(
            st.sampled_from([{"type": "adaptive"}, {"type": "adaptive", "display": "omitted"}])
        )
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
