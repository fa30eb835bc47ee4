"""Claude's thinking blocks kept for the OpenAI clients that do not send them back.

A chat answer from Claude carries its signed thinking blocks in `reasoning_details`
(`providers.anthropic.carried_thinking`); a client that sends the message back as it came
gives Claude its blocks back. LangChain's `ChatOpenAI` and most agents write the assistant
message themselves, with its tool calls only: a thinking Claude then refuses the loop's next
call, and Fable 5, Mythos 5 and Opus 5.5 cannot be asked not to think. So the gateway keeps
the blocks of an answer that calls tools (`remember_thinking`, the stage after the answer,
before its last bytes reach the client: a stream's once the upstream ended), under the first
tool call's id and who may use them (the key's team, else the key: another team cannot have
its blocks put into a conversation), for `[state] responses_ttl_s`, on the state backend (any
replica finds them). A request that returns tool results to an assistant message without
`reasoning_details` gets them back on that message (`restore_thinking`, before the call), and
the translation gives them to Claude if they are the deployment's (sealed with it).

The state backend down: the request goes without them (thinking off where the model takes it,
as before), the failure logged and counted in `gateway_state_errors_total`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson

from gateway.config.types import KeyConfig
from gateway.json_types import JSON
from gateway.pipeline.context import RequestContext
from gateway.pipeline.conversations import owner
from gateway.pipeline.services import Services
from gateway.providers.anthropic.adapters import AnthropicToOpenAIStreamAdapter
from gateway.providers.anthropic.carried_thinking import claude_entries
from gateway.providers.base import innermost
from gateway.state import StateUnavailable

log = logging.getLogger("gateway")
KEY_PREFIX = "thinking:"


def _key(key: KeyConfig | None, call_id: str) -> str:
    """Where the blocks of `call_id` are kept, for who may use them (`conversations.owner`)."""
    return f"{KEY_PREFIX}{owner(key) if key is not None else 'key:'}:{call_id}"


def _returned_to(body: JSON) -> tuple[int, str] | None:
    """(index, first tool call id) of the assistant message the chat body `body` returns tool
    results to, when that message carries no `reasoning_details`; else None."""
    messages = body.get("messages")
    if type(messages) is not list or not messages:
        return None
    last = messages[-1]
    if type(last) is not dict or last.get("role") != "tool":
        return None  # nearly every request: no tool results to return
    for index in range(len(messages) - 2, -1, -1):
        message = messages[index]
        if type(message) is not dict or message.get("role") == "tool":
            continue
        calls = message.get("tool_calls")
        if message.get("role") != "assistant" or "reasoning_details" in message:
            return None
        if type(calls) is not list or not calls or type(calls[0]) is not dict:
            return None
        call_id = calls[0].get("id")
        return (index, call_id) if isinstance(call_id, str) and call_id else None
    return None


async def restore_thinking(ctx: RequestContext, services: Services) -> None:
    """Pipeline stage (chat, before the call): the thinking blocks kept for the tool calls the
    request returns results to, back on their message (see the module doc)."""
    body = ctx.body
    found = _returned_to(body) if body is not None else None
    if found is None or body is None:
        return
    index, call_id = found
    try:
        raw = await services.state.recall(_key(ctx.key, call_id), services.clock.time())
    except StateUnavailable as exc:
        services.metrics.state_error(exc.kind)
        log.warning("cannot look up kept thinking blocks: the state backend is down")
        return
    try:
        entries = orjson.loads(raw) if raw is not None else None
    except orjson.JSONDecodeError:
        return
    if type(entries) is not list or not entries:
        return
    messages = list(body["messages"])
    messages[index] = {**messages[index], "reasoning_details": entries}
    ctx.body = {**body, "messages": messages}


async def remember_thinking(ctx: RequestContext, services: Services) -> None:
    """Pipeline stage (chat, after the answer): keep the thinking blocks of an answer that
    calls tools (a JSON answer now; a stream's when the upstream ended, before its end reaches
    the client)."""
    reply = ctx.stream_reply
    if reply is not None:
        converter = innermost(reply.converter)
        if isinstance(converter, AnthropicToOpenAIStreamAdapter):
            reply.chunks = _kept_when_done(reply.chunks, converter, ctx, services)
        return
    answer = ctx.exchange.json
    choices = answer.get("choices") if answer is not None and ctx.cache != "hit" else None
    first = choices[0] if type(choices) is list and choices else None
    message = first.get("message") if type(first) is dict else None
    if type(message) is not dict or "reasoning_details" not in message:
        return
    entries = claude_entries(message)
    calls = message.get("tool_calls")
    if entries and type(calls) is list and calls and type(calls[0]) is dict:
        call_id = calls[0].get("id")
        if isinstance(call_id, str) and call_id:
            await _keep(ctx, services, call_id, entries)


async def _kept_when_done(
    chunks: AsyncIterator[bytes],
    converter: AnthropicToOpenAIStreamAdapter,
    ctx: RequestContext,
    services: Services,
) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        yield chunk
    entries, call_ids = converter.carried_thinking()
    if entries and call_ids:
        await _keep(ctx, services, call_ids[0], entries)


async def _keep(ctx: RequestContext, services: Services, call_id: str, entries: list[Any]) -> None:
    ttl_s = ctx.runtime.config.state.responses_ttl_s
    try:
        await services.state.remember(
            _key(ctx.key, call_id), orjson.dumps(entries), ttl_s, services.clock.time()
        )
    except StateUnavailable as exc:
        services.metrics.state_error(exc.kind)
        log.warning("cannot keep the thinking blocks of %s: the state backend is down", call_id)
