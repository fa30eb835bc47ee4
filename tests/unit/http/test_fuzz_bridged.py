"""The lies of test_fuzz.py's hostile upstream answers, told in the Responses API's shapes to
the chat and Anthropic clients of a deployment served through it (`api = "responses"`): its
answers and its stream's typed events become chat completions and Messages answers, and every
lie still gets a clean answer in the client's own shape, and a record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.upstream.fake import FakeReply
from tests.unit.http.fuzz_harness import BUDGET, Harness, check
from tests.unit.http.hostile_answers import HOSTILE_VALUES, hostile_reply, json_values

pytestmark = pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict:DeprecationWarning")

USAGE = {
    "input_tokens": 3,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 2,
    "output_tokens_details": {"reasoning_tokens": 0},
}
MESSAGE = {
    "type": "message",
    "id": "msg_1",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "Hello", "annotations": []}],
}
CALL = {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": "{}"}
ANSWER = {
    "id": "resp_1",
    "object": "response",
    "status": "completed",
    "model": "m",
    "output": [MESSAGE, CALL],
    "usage": USAGE,
}
EVENTS: list[Any] = [
    {"type": "response.created", "response": {"id": "resp_1", "model": "m", "output": []}},
    {"type": "response.output_item.added", "output_index": 0, "item": {**MESSAGE, "content": []}},
    {"type": "response.output_text.delta", "output_index": 0, "delta": "Hel"},
    {"type": "response.output_text.delta", "output_index": 0, "delta": "lo"},
    {"type": "response.output_item.added", "output_index": 1, "item": {**CALL, "arguments": ""}},
    {"type": "response.function_call_arguments.delta", "output_index": 1, "delta": "{}"},
    {"type": "response.completed", "response": ANSWER},
]
# Where a Responses answer lies most.
HOT_PATHS: list[tuple[Any, ...]] = [
    ("usage",),
    ("usage", "input_tokens"),
    ("usage", "output_tokens"),
    ("output",),
    ("output", 0),
    ("output", 0, "content"),
    ("output", 1, "arguments"),
    ("response",),
    ("response", "usage", "output_tokens"),
    ("response", "status"),
    ("item",),
    ("delta",),
    ("output_index",),
]


@settings(BUDGET, max_examples=80)
@given(
    path=st.sampled_from(["/v1/chat/completions", "/v1/messages"]),
    stream=st.booleans(),
    status=st.sampled_from([200, 200, 200, 200, 400, 429, 500]),
    lie_at=st.sampled_from(HOT_PATHS) | st.none(),
    lie=HOSTILE_VALUES | json_values,
    cut=st.sampled_from(["whole", "whole", "half", "nothing", "binary"]),
    text=st.text(max_size=40),
    data=st.data(),
)
def test_hostile_responses_answers_get_chat_and_anthropic_clients_clean_answers(
    harness: Harness,
    path: str,
    stream: bool,
    status: int,
    lie_at: tuple[Any, ...] | None,
    lie: Any,
    cut: str,
    text: str,
    data: st.DataObject,
) -> None:
    harness.reply = hostile_reply(
        data,
        anthropic=False,
        stream=stream,
        status=status,
        lie_at=lie_at,
        lie=lie,
        cut=cut,
        answer=ANSWER,
        events=EVENTS,
    )
    request: dict[str, Any] = {
        "model": "bridged",
        "messages": [{"role": "user", "content": text}],
        "max_tokens": 16,
        "stream": stream,
    }
    before = len(harness.sink.records)
    check(harness, path, harness.post(path, json.dumps(request).encode()), before)
    record = harness.sink.records[-1]
    assert 0 <= record["prompt_tokens"] < 2**53 and 0 <= record["completion_tokens"] < 2**53


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
def test_a_truthful_answer_is_served(tmp_path: Path, path: str) -> None:
    # The fuzz test's baseline: the same answer with no lie in it is a 200 with its text (a
    # gateway of its own: the fuzzed one may be cooling the deployment down after a 429).
    fresh = Harness(tmp_path)
    try:
        fresh.reply = FakeReply(200, body=json.dumps(ANSWER).encode())
        request = {"model": "bridged", "messages": [{"role": "user", "content": "hi"}]}
        answer = fresh.post(path, json.dumps({**request, "max_tokens": 16}).encode())
    finally:
        fresh.close()
    assert answer.status_code == 200, answer.text
    assert "Hello" in answer.text and '"c1"' in answer.text
