"""Re-send logged requests to another model and score each new answer against the logged one.

Each record's `request` goes to the record's endpoint (`/v1/chat/completions` or
`/v1/messages`) with `model` replaced and streaming turned off (answers are compared whole);
every other parameter is kept. A record that used a registered prompt is sent with that
prompt (its id, logged version and variables): the log keeps only the client's messages, and the
new model must see what the old one saw. At most `concurrency` requests are in flight. A prompt
replay (`prompt`) keeps each record's model and asks the gateway to render the candidate version
of the prompt with the variables the record logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from gateway.observability.cost import cost_usd
from gateway.observability.log_reader import Record
from gateway.providers import Usage as GatewayUsage
from gateway.replay import scorers
from gateway.replay.answers import (
    Answer,
    InvalidUsage,
    Usage,
    extract_answer,
    extract_usage,
    has_tools,
    wants_json,
)
from gateway.replay.judge import DEFAULT_RUBRIC, judge_request, parse_score
from gateway.replay.progress import Progress
from gateway.replay.report import Row
from gateway.replay.target import Target


@dataclass(frozen=True)
class ReplayOptions:
    # None: each record's own model (a prompt replay compares prompt versions, not models).
    model: str | None
    concurrency: int = 8
    judge_model: str | None = None
    rubric: str = DEFAULT_RUBRIC
    # (prompt id, candidate version): render that version instead of the logged one.
    prompt: tuple[str, int] | None = None


def replay_body(request: dict[str, Any], model: str) -> dict[str, Any]:
    """The logged request for `model`, non-streaming, every other parameter kept."""
    body = {k: v for k, v in request.items() if k not in ("stream", "stream_options")}
    body["model"] = model
    return body


def candidate_prompt(record: Record, prompt_id: str, version: int) -> dict[str, Any]:
    """The `prompt` field that renders `version` with the variables the record logged."""
    variables = record.get("prompt_variables")
    return {"id": prompt_id, "version": version, "variables": variables or {}}


def logged_prompt(record: Record) -> dict[str, Any] | None:
    """The `prompt` field that renders again the version the record used, or None when it used
    no registered prompt."""
    prompt_id, version = record.get("prompt_id"), record.get("prompt_version")
    if not isinstance(prompt_id, str) or not isinstance(version, int) or isinstance(version, bool):
        return None
    variables = record.get("prompt_variables")
    return {"id": prompt_id, "version": version, "variables": variables or {}}


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return f"HTTP {response.status_code}: {message or str(body)[:200]}"


def _old_row(record: Record, model: str) -> Row:
    request = record["request"]
    old = extract_answer(record.get("response"))
    # A response-cache hit cost nothing and took no model time: its latency and cost measure
    # the cache, not the model, and stay out of those comparisons (the replay is never cached).
    hit = record.get("cache") == "hit"
    cost = None if hit else record.get("cost_usd")
    return Row(
        id=record.get("id"),
        ts=record.get("ts"),
        endpoint=record["endpoint"],
        model_old=record.get("model"),
        model_new=model,
        deployment_old=record.get("deployment"),
        status_old=record.get("status"),
        json_asked=wants_json(request),
        json_valid_old=scorers.json_valid(old.text)
        if old is not None and wants_json(request)
        else None,
        tools_asked=has_tools(request) or bool(old and old.tool_calls),
        latency_ms_old=None if hit else record.get("latency_ms"),
        prompt_tokens_old=int(record.get("prompt_tokens") or 0),
        completion_tokens_old=int(record.get("completion_tokens") or 0),
        cost_usd_old=float(cost) if isinstance(cost, (int, float)) else None,
        answer_old=old.render() if old is not None else "",
    )


class Runner:
    def __init__(
        self, target: Target, options: ReplayOptions, progress: Progress | None = None
    ) -> None:
        self.target = target
        self.options = options
        self.progress = progress

    async def run(self, records: Sequence[Record]) -> list[Row]:
        """One row per record, in the records' order."""
        rows: list[Row | None] = [None] * len(records)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for index in range(len(records)):
            queue.put_nowait(index)

        async def worker() -> None:
            while not queue.empty():
                index = queue.get_nowait()
                row = await self._row(records[index])
                rows[index] = row
                if self.progress is not None:
                    self.progress.advance(row.ok)

        workers = max(1, min(self.options.concurrency, len(records)))
        await asyncio.gather(*(worker() for _ in range(workers)))
        if self.progress is not None:
            self.progress.close()
        return [row for row in rows if row is not None]

    async def _row(self, record: Record) -> Row:
        """`replay_one`, or a failed row when it raises: a defect met on one record (a shape
        no parser foresaw) costs that row, never the replay and the answers already paid for."""
        try:
            return await self.replay_one(record)
        except Exception as exc:
            model = self.options.model or str(record.get("model"))
            row = Row(
                id=record.get("id"),
                ts=record.get("ts"),
                endpoint=str(record.get("endpoint")),
                model_old=record.get("model"),
                model_new=model,
                status_old=record.get("status"),
            )
            return self._failed(
                row, f"the replay failed on this record: {type(exc).__name__}: {exc}"
            )

    async def replay_one(self, record: Record) -> Row:
        model = self.options.model or str(record.get("model"))
        row = _old_row(record, model)
        old = extract_answer(record.get("response")) or Answer("", tools_known=False)
        body = replay_body(record["request"], model)
        prompt = (
            candidate_prompt(record, *self.options.prompt)
            if self.options.prompt is not None
            else logged_prompt(record)
        )
        if prompt is not None:
            body["prompt"] = prompt
        started = time.perf_counter()
        try:
            response = await self._post(row.endpoint, body)
        except httpx.HTTPError as exc:
            return self._failed(row, f"{type(exc).__name__}: {exc}".rstrip(": "))
        except TimeoutError:
            return self._failed(row, f"timed out: no whole answer in {self.target.deadline_s} s")
        elapsed_ms = (time.perf_counter() - started) * 1000
        row.status_new = response.status_code
        row.deployment_new = response.headers.get("x-gateway-deployment")
        new_record = self.target.take_record(response.headers.get("x-request-id", ""))
        row.latency_ms_new = round(new_record["latency_ms"] if new_record else elapsed_ms, 3)
        if response.status_code != 200:
            return self._failed(row, _error_message(response))
        try:
            payload = response.json()
        except ValueError:
            return self._failed(row, "the response is not JSON")
        new = extract_answer(payload)
        if new is None:
            return self._failed(row, "the response has no answer")
        try:
            self._usage_and_cost(row, payload, new_record)
        except InvalidUsage as exc:
            return self._failed(row, f"the response's usage is invalid: {exc}")
        row.answer_new = new.render()
        row.exact_match = scorers.exact_match(old, new)
        row.similarity = scorers.similarity(old, new)
        if row.json_asked:
            row.json_valid_new = scorers.json_valid(new.text)
        if row.tools_asked:
            row.tool_agreement = scorers.tool_agreement(old, new)
        if self.options.judge_model:
            await self._judge(row, record["request"])
        return row

    async def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """POST `body` and read the whole answer within the target's deadline (TimeoutError)."""
        async with asyncio.timeout(self.target.deadline_s):
            return await self.target.client.post(path, json=body)

    def _failed(self, row: Row, error: str) -> Row:
        row.error = error
        if row.json_asked:
            row.json_valid_new = False
        if row.tools_asked:
            row.tool_agreement = False
        return row

    def _usage_and_cost(self, row: Row, payload: Any, record: Record | None) -> None:
        if record is not None:
            row.prompt_tokens_new = int(record.get("prompt_tokens") or 0)
            row.completion_tokens_new = int(record.get("completion_tokens") or 0)
            row.cost_usd_new = float(record.get("cost_usd") or 0.0)
            return
        usage = extract_usage(payload) or Usage()
        row.prompt_tokens_new = usage.prompt_tokens
        row.completion_tokens_new = usage.completion_tokens
        deployment = self.target.deployments.get(row.deployment_new or "")
        if deployment is not None:
            priced = GatewayUsage(
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.cached_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                cache_write_1h_tokens=usage.cache_write_1h_tokens,
                web_searches=usage.web_searches,
            )
            row.cost_usd_new = cost_usd(priced, deployment)

    async def _judge(self, row: Row, request: dict[str, Any]) -> None:
        assert self.options.judge_model is not None
        body = judge_request(
            self.options.judge_model, request, row.answer_old, row.answer_new, self.options.rubric
        )
        try:
            response = await self._post("/v1/chat/completions", body)
        except (httpx.HTTPError, TimeoutError) as exc:
            row.judge_reason = f"judge request failed: {type(exc).__name__}"
            return
        self.target.take_record(response.headers.get("x-request-id", ""))
        if response.status_code != 200:
            row.judge_reason = f"judge request failed: {_error_message(response)}"
            return
        try:
            answer = extract_answer(response.json())
        except ValueError:
            answer = None
        score, reason = parse_score(answer.text if answer else "")
        row.judge_score = score
        row.judge_reason = (
            reason if score is not None else "could not read a score from the judge's reply"
        )
