"""A target or judge that answers garbage costs its own row, never the whole replay."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from gateway.replay.answers import extract_answer
from gateway.replay.runner import ReplayOptions, Runner
from gateway.replay.target import Target

HEADERS = {"x-gateway-deployment": "mock/new", "x-request-id": "req_new"}
GARBAGE: dict[str, Any] = {
    "tool_calls": {"choices": [{"message": {"content": "x", "tool_calls": 5}}]},
    "content": {"type": "message", "content": 5},
}


def _record(i: int, text: str) -> dict[str, Any]:
    return {
        "id": f"req_{i}",
        "ts": 1.0,
        "model": "old",
        "endpoint": "/v1/chat/completions",
        "status": 200,
        "latency_ms": 10.0,
        "request": {"model": "old", "messages": [{"role": "user", "content": text}]},
        "response": {"choices": [{"message": {"role": "assistant", "content": text}}]},
    }


def _target(answer: Any) -> Target:
    async def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["model"] == "judge":
            reply = '{"score": 1' + "0" * 400 + "}"
            return httpx.Response(200, headers=HEADERS, json=answer(reply))
        text = body["messages"][-1]["content"]
        payload = GARBAGE.get(text) or answer(text)
        return httpx.Response(200, headers=HEADERS, json=payload)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://gw")
    return Target(client, "fake", lambda request_id: None, {})


def _chat(text: str) -> dict[str, Any]:
    return {"choices": [{"message": {"role": "assistant", "content": text}}]}


@pytest.mark.parametrize("body", list(GARBAGE.values()))
def test_an_answer_whose_calls_or_blocks_are_no_list_has_none(body: dict[str, Any]) -> None:
    """`tool_calls: 5` or an Anthropic `content: 5` raised TypeError."""
    answer = extract_answer(body)
    assert answer is not None and answer.tool_calls == ()


async def test_garbage_from_the_target_or_the_judge_stays_in_its_row() -> None:
    records = [_record(i, text) for i, text in enumerate(["ok", "tool_calls", "content", "ok"])]
    fake = _target(_chat)
    async with fake.client:
        rows = await Runner(fake, ReplayOptions("new", judge_model="judge")).run(records)
    assert [row.id for row in rows] == ["req_0", "req_1", "req_2", "req_3"]
    assert rows[0].exact_match and rows[3].exact_match
    assert rows[1].answer_new == "x" and rows[2].answer_new == ""
    # The judge's 400-digit score is no score: the rows are unscored, not the run aborted.
    assert all(row.judge_score is None for row in rows)
    assert rows[0].judge_reason == "could not read a score from the judge's reply"


async def test_a_row_that_raises_is_a_failed_row_not_a_lost_replay() -> None:
    """Anything a row raises (a defect yet unknown) became the exception of `asyncio.run`: the
    replay ended with a traceback and no report, every answer already paid for lost."""

    class Broken(Runner):
        async def replay_one(self, record: dict[str, Any]) -> Any:
            if record["id"] == "req_1":
                raise KeyError("boom")
            return await super().replay_one(record)

    records = [_record(i, "ok") for i in range(3)]
    fake = _target(_chat)
    async with fake.client:
        rows = await Broken(fake, ReplayOptions("new")).run(records)
    assert [row.id for row in rows] == ["req_0", "req_1", "req_2"]
    assert rows[0].ok and rows[2].ok
    assert rows[1].error == "the replay failed on this record: KeyError: 'boom'"
    assert rows[1].status_new is None and rows[1].similarity == 0.0
