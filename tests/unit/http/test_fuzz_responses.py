"""The lies of test_fuzz.py's hostile upstream answers, told to the two routes that translate
them into another shape again: the Responses API (chat and messages answers and streams become
a `response` and its typed events; a stored response is remembered; a compaction, either way,
the summary's `compaction` item) and the two counts (count_tokens, responses/input_tokens)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.http.fuzz_harness import BUDGET, Harness, check
from tests.unit.http.hostile_answers import HOSTILE_VALUES, HOT_PATHS, hostile_reply, json_values

pytestmark = pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict:DeprecationWarning")


@settings(BUDGET, max_examples=80)
@given(
    path=st.sampled_from(
        [
            "/v1/responses",
            "/v1/responses",
            "/v1/messages/count_tokens",
            "/v1/responses/input_tokens",
        ]
    ),
    anthropic_upstream=st.booleans(),
    stream=st.booleans(),
    store=st.booleans(),
    status=st.sampled_from([200, 200, 200, 200, 400, 429, 500]),
    lie_at=st.sampled_from(HOT_PATHS) | st.none(),
    lie=HOSTILE_VALUES | json_values,
    cut=st.sampled_from(["whole", "whole", "half", "nothing", "binary"]),
    text=st.text(max_size=40),
    compaction=st.sampled_from(["", "", "trigger", "endpoint"]),
    data=st.data(),
)
def test_hostile_upstream_answers_on_responses_and_count_tokens_get_clean_answers(
    harness: Harness,
    path: str,
    anthropic_upstream: bool,
    stream: bool,
    store: bool,
    status: int,
    lie_at: tuple[Any, ...] | None,
    lie: Any,
    cut: str,
    text: str,
    compaction: str,
    data: st.DataObject,
) -> None:
    counting = path == "/v1/messages/count_tokens"
    if compaction == "endpoint" and not counting:
        path, stream = "/v1/responses/compact", False
    harness.reply = hostile_reply(
        data,
        anthropic=anthropic_upstream,
        stream=stream and not counting,
        status=status,
        lie_at=lie_at,
        lie=lie,
        cut=cut,
        answer={"input_tokens": 12} if counting else None,
    )
    model = "claude" if anthropic_upstream else "gpt"
    request: dict[str, Any] = {"model": model}
    if counting:
        request["messages"] = [{"role": "user", "content": text}]
    else:
        request.update(input=text, stream=stream, store=store, max_output_tokens=16)
        if compaction == "trigger":
            request["input"] = [{"role": "user", "content": text}, {"type": "compaction_trigger"}]
    before = len(harness.sink.records)
    check(harness, path, harness.post(path, json.dumps(request).encode()), before)
    record = harness.sink.records[-1]
    assert 0 <= record["prompt_tokens"] < 2**53 and 0 <= record["completion_tokens"] < 2**53
    assert record["cost_usd"] >= 0
