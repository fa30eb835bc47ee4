"""The replay runner: each logged request sent again to the new model (with the prompt version
it was made with) and the answer compared with the logged one (words, JSON, tool calls, tokens,
cost), a bounded number at a time, judged when asked. An answer whose usage is no count, or a
deadline passed, costs only its own row; a logged cache hit stays out of the latency and cost
comparisons."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import httpx
import pytest

from gateway.config import DeploymentConfig
from gateway.replay.progress import Progress
from gateway.replay.report import summarize
from gateway.replay.runner import ReplayOptions, Runner, replay_body
from gateway.replay.target import Target
from tests.unit.replay.logged_records import record

TOOLS = [{"type": "function", "function": {"name": "get", "parameters": {}}}]


def chat(
    content: str | None,
    tool_calls: list[dict[str, Any]] | None = None,
    prompt: int = 10,
    completion: int = 5,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion},
    }


class Upstream:
    """A fake gateway: answers by the last user message; counts requests in flight."""

    def __init__(self, delay: float = 0.0) -> None:
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        self.inflight = 0
        self.peak = 0
        self.delay = delay

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append((request.url.path, body))
        self.inflight += 1
        self.peak = max(self.peak, self.inflight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.inflight -= 1
        headers = {"x-gateway-deployment": "mock/new", "x-request-id": "req_new"}
        text = body["messages"][-1]["content"]
        if text == "fail":
            return httpx.Response(
                502, json={"error": {"message": "upstream broke"}}, headers=headers
            )
        if text == "drop":
            raise httpx.ConnectError("connection refused")
        if text.startswith("usage "):  # a target that is no gateway: counts that are not counts
            answer = chat(text)
            answer["usage"] = json.loads(text.removeprefix("usage "))
            raw = json.dumps(answer).replace('"INF"', "1e400")
            return httpx.Response(200, headers=headers, content=raw.encode())
        if request.url.path == "/v1/messages":
            return httpx.Response(
                200,
                headers=headers,
                json={
                    "type": "message",
                    "content": [{"type": "text", "text": text}],
                    "usage": {"input_tokens": 3, "output_tokens": 2},
                },
            )
        if body.get("model") == "judge":
            return httpx.Response(
                200, headers=headers, json=chat('```json\n{"score": 7, "reason": "close"}\n```')
            )
        if body.get("tools"):
            call = {
                "id": "c",
                "type": "function",
                "function": {"name": "get", "arguments": '{"q": 1}'},
            }
            return httpx.Response(200, headers=headers, json=chat(None, [call]))
        return httpx.Response(200, headers=headers, json=chat(text, prompt=20, completion=10))


def target(upstream: Upstream, priced: bool = True) -> Target:
    client = httpx.AsyncClient(transport=httpx.MockTransport(upstream), base_url="http://gateway")
    prices = {
        "mock/new": DeploymentConfig(
            provider="mock", model="new", input_cost_per_1m=1.0, output_cost_per_1m=2.0
        )
    }
    return Target(client, "fake", lambda request_id: None, prices if priced else {})


def test_replay_body_replaces_model_and_turns_streaming_off() -> None:
    request = {
        "model": "a",
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.3,
        "messages": [{"role": "user", "content": "x"}],
        "tools": TOOLS,
    }
    body = replay_body(request, "b")
    assert body == {
        "model": "b",
        "temperature": 0.3,
        "messages": request["messages"],
        "tools": TOOLS,
    }
    assert request["model"] == "a" and request["stream"] is True  # the record is not changed


async def test_rows_compare_answers_and_price_new_usage() -> None:
    upstream = Upstream()
    records = [
        record(
            0, {"model": "old", "messages": [{"role": "user", "content": "same"}]}, chat("same")
        ),
        record(
            1,
            {"model": "old", "messages": [{"role": "user", "content": "new words"}]},
            chat("old words"),
        ),
        record(
            2,
            {
                "model": "old",
                "messages": [{"role": "user", "content": "{}"}],
                "response_format": {"type": "json_object"},
            },
            chat("{}"),
        ),
        record(
            3,
            {"model": "old", "messages": [{"role": "user", "content": "t"}], "tools": TOOLS},
            chat(
                None,
                [
                    {
                        "id": "x",
                        "type": "function",
                        "function": {"name": "get", "arguments": '{"q":1}'},
                    }
                ],
            ),
        ),
        record(
            4,
            {"model": "old", "stream": True, "messages": [{"role": "user", "content": "streamed"}]},
            {"text": "streamed"},
        ),
        record(
            5,
            {"model": "old", "max_tokens": 9, "messages": [{"role": "user", "content": "hey"}]},
            {"type": "message", "content": [{"type": "text", "text": "hey"}]},
            endpoint="/v1/messages",
        ),
        record(
            6,
            {"model": "old", "messages": [{"role": "user", "content": "fail"}], "tools": TOOLS},
            chat("x"),
        ),
        record(7, {"model": "old", "messages": [{"role": "user", "content": "drop"}]}, chat("x")),
    ]
    fake = target(upstream)
    async with fake.client:
        rows = await Runner(fake, ReplayOptions(model="new")).run(records)
    assert [r.id for r in rows] == [f"req_{i}" for i in range(8)]
    assert all(body["model"] == "new" and "stream" not in body for _, body in upstream.bodies)
    assert upstream.bodies[5][0] == "/v1/messages"
    same, differs, json_row, tools, stream, messages, failed, dropped = rows
    assert same.exact_match and same.similarity == 1.0 and same.error is None
    assert not differs.exact_match and differs.similarity == 0.5
    assert (
        json_row.json_asked and json_row.json_valid_new is True and json_row.json_valid_old is True
    )
    assert tools.tools_asked and tools.tool_agreement is True and tools.exact_match
    assert stream.exact_match and stream.tool_agreement is None
    assert messages.exact_match and (
        messages.prompt_tokens_new,
        messages.completion_tokens_new,
    ) == (3, 2)
    assert (
        failed.error == "HTTP 502: upstream broke"
        and failed.status_new == 502
        and failed.tool_agreement is False
    )
    assert dropped.error is not None and dropped.error.startswith("ConnectError")
    # Cost from the response's usage and the deployment's prices: 20 * 1 + 10 * 2 per 1M tokens.
    assert same.cost_usd_new == pytest.approx(40 / 1_000_000) and same.cost_usd_old == 0.00002
    assert (
        same.deployment_new == "mock/new"
        and same.latency_ms_new is not None
        and same.latency_ms_old == 100.0
    )


async def test_concurrency_is_bounded_and_progress_counts() -> None:
    upstream = Upstream(delay=0.01)
    records = [
        record(i, {"model": "old", "messages": [{"role": "user", "content": str(i)}]}, chat(str(i)))
        for i in range(20)
    ]
    stream = io.StringIO()
    progress = Progress(len(records), stream=stream)
    fake = target(upstream, priced=False)
    async with fake.client:
        rows = await Runner(fake, ReplayOptions("new", concurrency=3), progress).run(records)
    assert len(rows) == 20 and upstream.peak == 3
    assert all(r.cost_usd_new is None for r in rows)  # no prices known for this deployment
    lines = stream.getvalue().splitlines()
    assert lines[-1].startswith("replay [" + "#" * 30 + "] 20/20 100%")
    assert len(lines) == 11  # not a terminal: one line per 10 %


async def test_judge_scores_each_answer() -> None:
    upstream = Upstream()
    records = [
        record(0, {"model": "old", "messages": [{"role": "user", "content": "q"}]}, chat("q"))
    ]
    fake = target(upstream)
    async with fake.client:
        rows = await Runner(fake, ReplayOptions("new", judge_model="judge")).run(records)
    assert rows[0].judge_score == 7.0 and rows[0].judge_reason == "close"
    judge_body = upstream.bodies[1][1]
    assert judge_body["model"] == "judge" and judge_body["response_format"] == {
        "type": "json_object"
    }
    prompt = judge_body["messages"][-1]["content"]
    assert (
        "<reference_answer>\nq\n</reference_answer>" in prompt
        and "<new_answer>\nq\n</new_answer>" in prompt
    )


@pytest.mark.parametrize(
    "usage",
    [
        '{"prompt_tokens": "x", "completion_tokens": 1}',
        '{"prompt_tokens": 1, "completion_tokens": "INF"}',
        '{"prompt_tokens": -5}',
        '{"input_tokens": 1, "output_tokens": 10000000000000000000000000000000}',
        '{"prompt_tokens": 1, "prompt_tokens_details": {"cached_tokens": 0.5}}',
    ],
)
async def test_an_answer_whose_usage_is_no_count_keeps_an_error_in_its_row(usage: str) -> None:
    """A ValueError or OverflowError (int("x"), int(1e400)) aborted the whole replay."""
    upstream = Upstream()
    records = [
        record(i, {"model": "old", "messages": [{"role": "user", "content": text}]}, chat(text))
        for i, text in enumerate(["ok", f"usage {usage}", "ok"])
    ]
    fake = target(upstream)
    async with fake.client:
        rows = await Runner(fake, ReplayOptions(model="new")).run(records)
    ok, bad, after = rows
    assert ok.error is None and after.error is None and after.exact_match
    assert bad.error is not None and bad.error.startswith("the response's usage is invalid")
    assert bad.similarity == 0.0 and bad.status_new == 200


async def test_a_request_past_its_deadline_keeps_a_timeout_in_its_row() -> None:
    upstream = Upstream(delay=5.0)
    records = [record(0, {"model": "old", "messages": [{"role": "user", "content": "q"}]}, None)]
    fake = target(upstream)
    fake.deadline_s = 0.05
    async with fake.client:
        rows = await asyncio.wait_for(Runner(fake, ReplayOptions("new")).run(records), 2)
    assert rows[0].error == "timed out: no whole answer in 0.05 s"


async def test_a_record_that_used_a_prompt_is_replayed_with_that_prompt_version() -> None:
    # The log keeps only the client's messages: without its prompt the new model would never
    # see the system prompt the old one answered under.
    upstream = Upstream()
    used = {
        "prompt_id": "support-bot",
        "prompt_version": 3,
        "prompt_alias": "production",
        "prompt_hash": "0123456789abcdef",
        "prompt_variables": {"product": "Acme"},
    }
    records = [
        record(0, {"model": "old", "messages": [{"role": "user", "content": "hi"}]}, chat("hi"))
        | used,
        record(1, {"model": "old", "messages": [{"role": "user", "content": "yo"}]}, chat("yo")),
    ]
    fake = target(upstream)
    async with fake.client:
        await Runner(fake, ReplayOptions(model="new")).run(records)
    bodies = {body["messages"][-1]["content"]: body for _, body in upstream.bodies}
    assert bodies["hi"]["prompt"] == {
        "id": "support-bot",
        "version": 3,
        "variables": {"product": "Acme"},
    }
    assert "prompt" not in bodies["yo"]


async def test_a_logged_cache_hit_stays_out_of_the_latency_and_cost_comparisons() -> None:
    # A hit cost $0 and took no model time; the replay is never cached. Counting it would make
    # any model look dearer and slower than the logged traffic.
    upstream = Upstream()
    records = [
        record(0, {"model": "old", "messages": [{"role": "user", "content": "a"}]}, chat("a")),
        record(
            1,
            {"model": "old", "messages": [{"role": "user", "content": "b"}]},
            chat("b"),
            cache="hit",
            cost_usd=0.0,
            latency_ms=0.5,
        ),
    ]
    fake = target(upstream)
    async with fake.client:
        rows = await Runner(fake, ReplayOptions(model="new")).run(records)
    assert rows[1].cost_usd_old is None and rows[1].latency_ms_old is None
    summary = summarize(rows)
    assert summary["cost_old"] == pytest.approx(0.00002)
    assert summary["cost_new"] == pytest.approx(40 / 1_000_000)  # the hit's row is left out
    assert summary["latency_p50_old"] == 100.0 and summary["ok_count"] == 2
