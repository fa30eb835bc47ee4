"""What the mock provider answers to a request body, decided once per distinct body: a plan
rendered with placeholders for the response's id and timestamp, a JSON answer, an error, or a
fault named by the requested model. The handler (`handler.py`) caches these decisions and fills
the placeholders of each reply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from gateway.mock_provider import render
from gateway.mock_provider.behaviour import (
    Plan,
    RequestError,
    count_message_tokens,
    plan_chat,
    plan_messages,
)
from gateway.mock_provider.completions import (
    plan_completion,
    text_completion,
    text_completion_frames,
)
from gateway.mock_provider.embeddings import embeddings_response
from gateway.mock_provider.errors import (
    ERROR_FAULTS,
    error_answer,
    failed_response,
    fault_error,
    stream_error_event,
)
from gateway.mock_provider.responses import (
    count_response_tokens,
    plan_responses,
    render_response,
    render_stream,
)
from gateway.mock_provider.responses_reasoning import (
    check_thinking_room,
    check_token_limit_field,
    check_tools_with_reasoning,
    compacted_response,
)
from gateway.mock_provider.schema_checks import check_tool_schemas
from gateway.mock_provider.tool_pairs import (
    check_anthropic_tool_pairs,
    check_openai_tool_pairs,
    check_server_tool_blocks,
)
from gateway.providers.responses.input_tokens import input_tokens_answer
from gateway.providers.responses.responses_only import CHAT_REFUSAL, responses_only_model
from gateway.sse import encode_event

FAULT_MODELS = ERROR_FAULTS | {"fail-timeout", "drop-mid-stream", "malformed"}
# A stream of `error-mid-stream` ends with the error event of its API after this many frames;
# not streamed, a Responses request gets a failed response, any other an ordinary answer.
ERROR_MID_STREAM = "error-mid-stream"
ERROR_AFTER_FRAMES = 3
DONE = b"data: [DONE]\n\n"
# Placeholders exactly as long as what replaces them (16 hex digits; 10 digits of Unix time).
_OPENAI_ID = "chatcmpl-mock" + "#" * 16
_COMPLETION_ID = "cmpl-mock" + "#" * 16
_ANTHROPIC_ID = "msg_mock" + "#" * 16
_RESPONSES_ID = "resp_mock" + "#" * 16
_CREATED = 1000000000
CREATED_PLACEHOLDER = b'"created":1000000000,'
CREATED_AT_PLACEHOLDER = b'"created_at":1000000000,'
_STREAMING = ("chat", "messages", "responses", "completions")


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a request body; computed once per distinct body and cached."""

    action: str  # "plan" | "json" | "error" | "timeout" | "drop" | "malformed"
    wire: str  # "openai" | "anthropic" | "responses" (OpenAI errors)
    model: str | None = None
    status: int = 200
    payload: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    stream: bool = False
    # For rendered plans: the id placeholder inside `payload` and, for streams, piece offsets.
    id_placeholder: bytes = b""
    bounds: tuple[int, ...] = ()
    # Responses: the response object to remember (with the same placeholders), and the
    # `previous_response_id` the request names.
    stored: bytes = b""
    previous: str | None = None


def _rendered_responses(
    plan: Plan, request: dict[str, Any], model: str | None, action: str = "plan"
) -> Decision:
    """A Responses plan rendered once, with placeholders for the id and `created_at`; the
    response object to remember too, unless `store` is false."""
    placeholder = _RESPONSES_ID
    previous = request.get("previous_response_id")
    previous = previous if isinstance(previous, str) else None
    common: dict[str, Any] = {"id_placeholder": quoted(placeholder), "previous": previous}
    if not plan.stream:
        response = render_response(plan, request, placeholder, _CREATED)
        payload = orjson.dumps(response)
        stored = payload if request.get("store") is not False else b""
        return Decision(action, "responses", model, payload=payload, stored=stored, **common)
    frames, final = render_stream(plan, request, placeholder, _CREATED)
    pieces = [
        b"".join([encode_event(orjson.dumps(e), e["type"]) for e in frame]) for frame in frames
    ]
    stored = orjson.dumps(final) if request.get("store") is not False else b""
    return Decision(
        action, "responses", model, payload=b"".join(pieces), stored=stored,
        bounds=_bounds(pieces), stream=True, **common,
    )  # fmt: skip


def _bounds(pieces: list[bytes]) -> tuple[int, ...]:
    bounds = [0]
    for piece in pieces:
        bounds.append(bounds[-1] + len(piece))
    return tuple(bounds)


# How a plan renders: (id placeholder, the JSON answer, the stream's frames).
_Shape = tuple[str, Callable[[Plan, str, int], Any], Callable[[Plan, str, int], list[render.Frame]]]
_CHAT: _Shape = (_OPENAI_ID, render.openai_completion, render.openai_stream_frames)
_COMPLETION: _Shape = (_COMPLETION_ID, text_completion, text_completion_frames)
_MESSAGES: _Shape = (
    _ANTHROPIC_ID,
    lambda plan, message_id, _: render.anthropic_message(plan, message_id),
    lambda plan, message_id, _: render.anthropic_stream_frames(plan, message_id),
)


def _rendered(
    wire: str, plan: Plan, model: str | None, action: str = "plan", completion: bool = False
) -> Decision:
    """Render the plan once, with placeholders where each response's id and timestamp go;
    `completion`: as a legacy text completion."""
    anthropic = wire == "anthropic"
    placeholder, whole, frames_of = _MESSAGES if anthropic else _COMPLETION if completion else _CHAT
    id_placeholder = quoted(placeholder)
    if not plan.stream:
        payload = orjson.dumps(whole(plan, placeholder, _CREATED))
        return Decision(action, wire, model, payload=payload, id_placeholder=id_placeholder)
    pieces = [
        b"".join([encode_event(orjson.dumps(e), e["type"] if anthropic else None) for e in frame])
        for frame in frames_of(plan, placeholder, _CREATED)
    ]
    if not anthropic:
        pieces[-1] += DONE
    return Decision(
        action, wire, model, payload=b"".join(pieces), id_placeholder=id_placeholder,
        bounds=_bounds(pieces), stream=True,
    )  # fmt: skip


def quoted(text: str) -> bytes:
    return b'"' + text.encode() + b'"'


def decide(endpoint: str, wire: str, body: bytes) -> Decision:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return error_decision(
            wire,
            400,
            f"We could not parse the JSON body of your request: {exc}",
            "invalid_request_error",
        )
    model = data.get("model") if isinstance(data, dict) else None
    model = model if isinstance(model, str) else None
    stream = isinstance(data, dict) and data.get("stream") is True
    try:
        if model in FAULT_MODELS:
            return _fault(model, endpoint, wire, data, stream)
        if model == ERROR_MID_STREAM and stream and endpoint in _STREAMING:
            return _ending_in_error(_rendered_stream(endpoint, wire, data, model, "plan"))
        if model == ERROR_MID_STREAM and endpoint == "responses":
            payload = orjson.dumps(failed_response(_RESPONSES_ID, model))
            return Decision(
                "plan", "responses", model, payload=payload, id_placeholder=quoted(_RESPONSES_ID)
            )
        if endpoint in ("chat", "completions") and model and responses_only_model(model):
            return error_decision(
                wire, 404, CHAT_REFUSAL, "invalid_request_error", param="model", model=model
            )
        if endpoint == "chat":
            check_token_limit_field(data)
            check_thinking_room(data)
            check_tools_with_reasoning(data)
            check_tool_schemas(data.get("tools") if isinstance(data, dict) else None)
            check_openai_tool_pairs(_messages(data))
            return _rendered(wire, plan_chat(data), model)
        if endpoint == "completions":
            return _rendered(wire, plan_completion(data), model, completion=True)
        if endpoint == "messages":
            check_anthropic_tool_pairs(_messages(data))
            check_server_tool_blocks(_messages(data))
            return _rendered(wire, plan_messages(data), model)
        if endpoint == "responses":
            return _rendered_responses(plan_responses(data), data, model)
        if endpoint == "compact":
            return json_decision(wire, compacted_response(data), model)
        if endpoint == "count_tokens":
            return json_decision(wire, {"input_tokens": count_message_tokens(data)}, model)
        if endpoint == "input_tokens":
            return json_decision(wire, input_tokens_answer(count_response_tokens(data)), model)
        return json_decision(wire, embeddings_response(data), model)
    except RequestError as exc:
        return error_decision(
            wire, 400, exc.message, "invalid_request_error", exc.code, param=exc.param, model=model
        )


def _messages(data: Any) -> list[Any]:
    messages = data.get("messages") if isinstance(data, dict) else None
    return messages if isinstance(messages, list) else []


def _fault(model: str, endpoint: str, wire: str, data: Any, stream: bool) -> Decision:
    if model in ERROR_FAULTS:
        answer = fault_error(model, wire)
        return Decision(
            "error", wire, model, status=answer.status, payload=answer.payload,
            headers=answer.headers,
        )  # fmt: skip
    if model == "fail-timeout":
        return Decision("timeout", wire, model)
    if model == "drop-mid-stream":
        if stream and endpoint in _STREAMING:
            return _rendered_stream(endpoint, wire, data, model, "drop")
        return Decision("drop", wire, model)
    return Decision("malformed", wire, model, stream=stream and endpoint in _STREAMING)


def _rendered_stream(endpoint: str, wire: str, data: Any, model: str, action: str) -> Decision:
    """The plan of `endpoint` rendered in its wire format, with `action`."""
    if endpoint == "responses":
        return _rendered_responses(plan_responses(data), data, model, action)
    if endpoint == "completions":
        return _rendered(wire, plan_completion(data), model, action, completion=True)
    plan = plan_chat(data) if endpoint == "chat" else plan_messages(data)
    return _rendered(wire, plan, model, action)


def _ending_in_error(decision: Decision) -> Decision:
    """The first `ERROR_AFTER_FRAMES` frames of a rendered stream, then the error event its
    API ends a failed stream with (after the 200 and the first tokens), and a clean end."""
    kept_bounds = decision.bounds[: ERROR_AFTER_FRAMES + 1]
    kept = decision.payload[: kept_bounds[-1]]
    response_id = decision.id_placeholder[1:-1].decode()
    event = stream_error_event(decision.wire, response_id, decision.model)
    bounds = (*kept_bounds, len(kept) + len(event))
    return replace(decision, payload=kept + event, bounds=bounds, stored=b"")


def error_decision(
    wire: str,
    status: int,
    message: str,
    kind: str,
    code: str | None = None,
    *,
    param: str | None = None,
    model: str | None = None,
) -> Decision:
    answer = error_answer(wire, status, message, kind, code, param=param)
    return Decision("error", wire, model, status=status, payload=answer.payload)


def json_decision(wire: str, data: Any, model: str | None = None) -> Decision:
    return Decision("json", wire, model, payload=orjson.dumps(data))


MODELS = json_decision("openai", render.models_list())
