"""Render a `Plan` in the OpenAI and Anthropic wire formats, exactly as the real APIs send them.

Streams come back as *frames*: each frame is a list of events written in one piece, and the
transport paces the stream between frames. A text stream has one frame per word: the first
frame also carries the opening events, the last one the closing events.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.mock_provider.behaviour import FINISH_TO_STOP_REASON, Choice, Plan, split_pieces
from gateway.mock_provider.paused_turns import PAUSED_TOKENS, paused_blocks
from gateway.mock_provider.web_search import anthropic_search_blocks

Event = dict[str, Any]
Frame = list[Event]
FINGERPRINT = "fp_mock"
MODEL_IDS = (
    "mock-small",
    "mock-large",
    "mock-embed",
    "echo",
    "fail-500",
    "fail-429",
    "fail-quota",
    "fail-529",
    "fail-400-context",
    "fail-timeout",
    "drop-mid-stream",
    "error-mid-stream",
    "malformed",
)
_MODELS_CREATED = 1700000000


# ---------------------------------------------------------------------------------------------
# OpenAI


def openai_usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _openai_message(choice: Choice) -> dict[str, Any]:
    call = choice.tool_call
    if call is None:
        return {"role": "assistant", "content": choice.text, "refusal": None}
    tool_call = {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }
    return {"role": "assistant", "content": None, "tool_calls": [tool_call], "refusal": None}


def openai_completion(plan: Plan, response_id: str, created: int) -> dict[str, Any]:
    """The `chat.completion` object."""
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": created,
        "model": plan.model,
        "choices": [
            {"index": i, "message": _openai_message(c), "logprobs": None, "finish_reason": c.finish}
            for i, c in enumerate(plan.choices)
        ],
        "usage": openai_usage(plan.prompt_tokens, plan.completion_tokens),
        "system_fingerprint": FINGERPRINT,
        **({"service_tier": plan.tier} if plan.tier else {}),
    }


def openai_stream_frames(plan: Plan, response_id: str, created: int) -> list[Frame]:
    """The `chat.completion.chunk` objects in frames (the transport adds `data: [DONE]`)."""
    base: dict[str, Any] = {
        "id": response_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": plan.model,
        "system_fingerprint": FINGERPRINT,
    }
    if plan.tier:  # every chunk names it, as OpenAI's do
        base["service_tier"] = plan.tier
    if plan.include_usage:
        base["usage"] = None

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> Event:
        return {
            **base,
            "choices": [
                {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            ],
        }

    frames: list[Frame] = []
    for index, choice in enumerate(plan.choices):
        call = choice.tool_call
        if call is None:
            opening = chunk(index, {"role": "assistant", "content": ""})
            deltas = [chunk(index, {"content": piece}) for piece in choice.pieces]
        else:
            first = {
                "index": 0,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            opening = chunk(index, {"role": "assistant", "content": None, "tool_calls": [first]})
            deltas = [
                chunk(index, {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                for piece in choice.pieces
            ]
        frames += _frames([opening], deltas, [chunk(index, {}, choice.finish)])
    if plan.include_usage:
        usage_chunk = {
            **base,
            "choices": [],
            "usage": openai_usage(plan.prompt_tokens, plan.completion_tokens),
        }
        frames[-1].append(usage_chunk)
    return frames


def _frames(opening: Frame, deltas: list[Event], closing: Frame) -> list[Frame]:
    if not deltas:
        return [opening + closing]
    frames = [[event] for event in deltas]
    frames[0] = opening + frames[0]
    frames[-1] += closing
    return frames


def openai_error(
    message: str, kind: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def models_list() -> dict[str, Any]:
    return {"object": "list", "data": [model_object(name) for name in MODEL_IDS]}


def model_object(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": _MODELS_CREATED, "owned_by": "mock-provider"}


# ---------------------------------------------------------------------------------------------
# Anthropic


def _anthropic_usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _anthropic_block(choice: Choice) -> dict[str, Any]:
    call = choice.tool_call
    if call is None:
        return {"type": "text", "text": choice.text}
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}


def anthropic_message(plan: Plan, message_id: str) -> dict[str, Any]:
    """The Messages API `message` object (Anthropic has no `n`: the first choice); a search's
    turn Claude paused (`paused_turns`) says `pause_turn` after its search."""
    choice = plan.choices[0]
    usage = _anthropic_usage(plan.prompt_tokens, choice.completion_tokens)
    content = [_anthropic_block(choice)]
    stop = FINISH_TO_STOP_REASON[choice.finish]
    if plan.search is not None and plan.paused is not None:
        content, stop = paused_blocks(plan.search, plan.paused), "pause_turn"
        usage = _anthropic_usage(plan.prompt_tokens, PAUSED_TOKENS)
    elif plan.search is not None:
        content = anthropic_search_blocks(plan.search, choice.text or "")
    elif plan.thinking is not None:
        text, signature = plan.thinking
        content.insert(0, {"type": "thinking", "thinking": text, "signature": signature})
    if plan.search is not None:
        usage["server_tool_use"] = {"web_search_requests": 1}
    if plan.tier == "fast":
        usage["speed"] = "fast"
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": plan.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }


def _paused_frames(plan: Plan, message_id: str) -> list[Frame]:
    """A paused turn's stream, as Claude streams it: the text in deltas, the search's input in
    JSON pieces, its results whole; one frame per block."""
    message = anthropic_message(plan, message_id)
    text, use, result = message.pop("content")
    message.update(content=[], stop_reason=None, usage=_anthropic_usage(plan.prompt_tokens, 1))
    query = orjson.dumps(use["input"]).decode()
    frames: list[Frame] = [[{"type": "message_start", "message": message}]]
    for index, (start, kind, pieces) in enumerate(
        [
            ({"type": "text", "text": ""}, "text_delta", split_pieces(text["text"])),
            ({**use, "input": {}}, "input_json_delta", (query[:5], query[5:])),
            (result, "", ()),
        ]
    ):
        field = "text" if kind == "text_delta" else "partial_json"
        frames.append(
            [
                {"type": "content_block_start", "index": index, "content_block": start},
                *(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": kind, field: piece},
                    }
                    for piece in pieces
                ),
                {"type": "content_block_stop", "index": index},
            ]
        )
    end = {"stop_reason": "pause_turn", "stop_sequence": None}
    usage = {"output_tokens": PAUSED_TOKENS, "server_tool_use": {"web_search_requests": 1}}
    frames.append(
        [{"type": "message_delta", "delta": end, "usage": usage}, {"type": "message_stop"}]
    )
    return frames


def anthropic_stream_frames(plan: Plan, message_id: str) -> list[Frame]:
    """The Messages API stream events, grouped in frames; each event's `type` names it."""
    choice = plan.choices[0]
    if plan.search is not None and plan.paused is not None:
        return _paused_frames(plan, message_id)
    message: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": plan.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _anthropic_usage(plan.prompt_tokens, 1),
    }
    searched: Frame = []  # a search's blocks, whole, before the text
    if plan.search is not None:
        *blocks, cited = anthropic_search_blocks(plan.search, choice.text or "")
        for index, whole in enumerate(blocks):
            searched += [
                {"type": "content_block_start", "index": index, "content_block": whole},
                {"type": "content_block_stop", "index": index},
            ]
    if plan.thinking is not None:  # its block first (a search's answer has none)
        searched = _thinking_frames(*plan.thinking)
    at = len(searched) // 2 if plan.thinking is None else 1  # the text's (or call's) block
    if choice.tool_call is None:
        block: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [
            {
                "type": "content_block_delta",
                "index": at,
                "delta": {"type": "text_delta", "text": piece},
            }
            for piece in choice.pieces
        ]
        if plan.search is not None:
            block["citations"] = []
            citation = {"type": "citations_delta", "citation": cited["citations"][0]}
            deltas.insert(0, {"type": "content_block_delta", "index": at, "delta": citation})
    else:
        call = choice.tool_call
        block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        deltas = [
            {
                "type": "content_block_delta",
                "index": at,
                "delta": {"type": "input_json_delta", "partial_json": piece},
            }
            for piece in choice.pieces
        ]
    opening: Frame = [
        {"type": "message_start", "message": message},
        *searched,
        {"type": "content_block_start", "index": at, "content_block": block},
        {"type": "ping"},
    ]
    usage: dict[str, Any] = {"output_tokens": choice.completion_tokens}
    if plan.search is not None:  # Claude's cumulative usage says its searches too
        usage["server_tool_use"] = {"web_search_requests": 1}
    if plan.tier == "fast":
        usage["speed"] = "fast"
    closing: Frame = [
        {"type": "content_block_stop", "index": at},
        {
            "type": "message_delta",
            "delta": {"stop_reason": FINISH_TO_STOP_REASON[choice.finish], "stop_sequence": None},
            "usage": usage,
        },
        {"type": "message_stop"},
    ]
    return _frames(opening, deltas, closing)


def _thinking_frames(text: str, signature: str) -> Frame:
    """A thinking block's events, as Claude streams it: its text, then its signature."""
    deltas = [{"type": "thinking_delta", "thinking": text}] if text else []
    deltas.append({"type": "signature_delta", "signature": signature})
    return [
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
        *({"type": "content_block_delta", "index": 0, "delta": delta} for delta in deltas),
        {"type": "content_block_stop", "index": 0},
    ]


def anthropic_error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}
