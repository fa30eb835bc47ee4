"""The mock provider's Responses API: planning a `POST /v1/responses`, rendering the plan as a
response object or its event stream, and the store behind `previous_response_id`,
`GET /v1/responses/{id}` and `DELETE /v1/responses/{id}`.

A Responses request is planned as the chat request it translates to (the gateway's own
`requests_responses_to_chat`), so both endpoints answer the same text, tool calls and token
counts for the same conversation (a call of a custom or namespaced tool is answered as such, as
the gateway's translation answers it: `chat_tools`). The store keeps the ids of the responses
the mock made with `store` not false (the latest `STORED_MAX`), so a `previous_response_id`
that this mock never made (or forgot) answers 404 as OpenAI does. A request offering the
`web_search` tool searches once before its text (`web_search`).
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from typing import Any

from gateway.json_types import JSON
from gateway.mock_provider.behaviour import Choice, Plan, RequestError, plan_chat
from gateway.mock_provider.conversation import last_user_text
from gateway.mock_provider.render import Frame
from gateway.mock_provider.responses_reasoning import (
    check_output_limit,
    check_reasoning,
    compaction_output,
    reasoning_item,
    without_compactions,
)
from gateway.mock_provider.schema_checks import check_tool_schemas
from gateway.mock_provider.web_search import cited, search_call, searches
from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.responses.chat_tools import call_item, tool_origins
from gateway.providers.responses.compaction import compaction_requested
from gateway.providers.responses.events import ResponseEvents
from gateway.providers.responses.input_tokens import COUNTED_FIELDS, estimated_input_tokens
from gateway.providers.responses.objects import (
    message_item,
    response_object,
    responses_usage,
)
from gateway.providers.responses.requests_responses_to_chat import responses_request_to_chat

STORED_MAX = 10_000


def plan_responses(body: Any) -> Plan:
    """Plan the answer to an OpenAI `POST /v1/responses` body."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("model is required", "model")
    if "input" not in body:
        raise RequestError("input is required", "input")
    check_reasoning(body, model)
    check_output_limit(body)
    check_tool_schemas(body.get("tools"), flat=True)
    request = without_compactions({k: v for k, v in body.items() if k != "previous_response_id"})
    if compaction_requested(request):  # (OpenAI's rule: the trigger is the last item)
        request = {**request, "input": request["input"][:-1]}
    try:
        chat = responses_request_to_chat(request, model)
    except TranslationError as exc:
        raise RequestError(str(exc), exc.param or "input") from None
    chat.pop("stream", None)
    if "max_tokens" in chat:
        chat["max_completion_tokens"] = chat.pop("max_tokens")
    plan = plan_chat({**chat, "service_tier": body.get("service_tier")})
    stream = body.get("stream") is True
    return Plan(model, plan.choices[:1], plan.prompt_tokens, stream, True, tier=plan.tier)


def count_response_tokens(body: Any) -> int:
    """`POST /v1/responses/input_tokens`: the count of what `body` would take (tiktoken's, of
    the chat request it translates to), a field the count does not take refused as OpenAI
    refuses it."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    for name in body:
        if name not in COUNTED_FIELDS:
            raise RequestError(f"Unknown parameter: '{name}'.", name)
    try:
        return estimated_input_tokens(without_compactions(body))
    except TranslationError as exc:
        raise RequestError(str(exc), exc.param or "input") from None


def _incomplete(choice: Choice) -> str | None:
    return "max_output_tokens" if choice.finish == "length" else None


def _usage(plan: Plan) -> JSON:
    return responses_usage(plan.prompt_tokens, plan.completion_tokens)


def render_response(plan: Plan, request: JSON, response_id: str, created_at: int) -> JSON:
    """The `response` object."""
    choice = plan.choices[0]
    call = choice.tool_call
    if compaction_requested(request):
        output = [compaction_output(request["input"][:-1])]
    elif call is None:
        text = choice.text or ""
        item_id = f"msg_mock{zlib.crc32(text.encode()):08x}"
        if searches(request):
            query = _search_query(request)
            text, annotation = cited(text, query)
            output = [search_call(request, query), message_item(item_id, text)]
            output[1]["content"][0]["annotations"] = [annotation]
        else:
            output = [message_item(item_id, text)]
    else:
        origin = tool_origins(request).get(call.name)
        output = [call_item(origin, call.id, call.name, call.arguments, id_suffix=call.id)]
    if (thought := reasoning_item(request, plan.model)) is not None:
        output.insert(0, thought)
    reason = _incomplete(choice)
    response = response_object(
        request,
        response_id,
        plan.model,
        output,
        _usage(plan),
        status="incomplete" if reason else "completed",
        incomplete_reason=reason,
        created_at=created_at,
    )
    if plan.tier:
        response["service_tier"] = plan.tier
    return response


def render_stream(
    plan: Plan, request: JSON, response_id: str, created_at: int
) -> tuple[list[Frame], JSON]:
    """The typed events in frames (the opening events with the first delta, one delta per
    frame, the closing events with the last), and the final response object."""
    events = ResponseEvents(request, response_id, plan.model, created_at)
    if plan.tier:
        events.response["service_tier"] = plan.tier
    choice = plan.choices[0]
    call = choice.tool_call
    opening = events.start()
    if compaction_requested(request):
        opening += events.whole_item(compaction_output(request["input"][:-1]))
        return [opening + events.complete(_usage(plan))], events.response
    if (thought := reasoning_item(request, plan.model)) is not None:
        opening += events.summarized_reasoning(thought)
    if call is None and searches(request):
        query = _search_query(request)
        opening += events.whole_item(search_call(request, query)) + events.text("")
        text, annotation = cited(choice.text or "", query)
        pieces = [*choice.pieces, text[len(choice.text or "") :]]
        deltas = [events.text(piece) for piece in pieces]
        deltas[-1] += events.annotate(annotation)
    elif call is None:
        opening += events.text("")
        deltas = [events.text(piece) for piece in choice.pieces]
    else:
        origin = tool_origins(request).get(call.name)
        opening += events.call_start(0, call.id, call.name, origin)
        deltas = [events.call_arguments(0, piece) for piece in choice.pieces]
    closing = events.complete(_usage(plan), _incomplete(choice))
    if not deltas:
        return [opening + closing], events.response
    deltas[0] = opening + deltas[0]
    deltas[-1] = deltas[-1] + closing
    return deltas, events.response


def _search_query(request: JSON) -> str:
    """What the mock searches for: the last user message's text (the input, a string)."""
    items = request.get("input")
    return items if isinstance(items, str) else last_user_text(list(items or ()))


def not_found(response_id: str, param: str | None = None) -> JSON:
    """OpenAI's answer for a response id it does not know."""
    where = "Previous response" if param else "Response"
    return {
        "error": {
            "message": f"{where} with id '{response_id}' not found.",
            "type": "invalid_request_error",
            "param": param,
            "code": "previous_response_not_found" if param else "not_found",
        }
    }


class ResponseStore:
    """The responses this mock made and still remembers: id -> the response object's JSON."""

    def __init__(self, max_entries: int = STORED_MAX) -> None:
        self.max_entries = max_entries
        self._stored: OrderedDict[str, bytes] = OrderedDict()

    def add(self, response_id: str, payload: bytes) -> None:
        self._stored[response_id] = payload
        if len(self._stored) > self.max_entries:
            self._stored.popitem(last=False)

    def get(self, response_id: str) -> bytes | None:
        return self._stored.get(response_id)

    def delete(self, response_id: str) -> bool:
        return self._stored.pop(response_id, None) is not None
