"""Azure OpenAI's Responses API as `compat_upstream` serves it: `POST /openai/responses` (the
deployment named as the body's `model`, not in the path), `GET` and `DELETE
/openai/responses/{id}`, from api-version 2025-03-01-preview on (an older one is Azure's 404);
and the 400 Azure answers a chat completion to a model that has the Responses API only (the
codex models)."""

from __future__ import annotations

import json
from typing import Any

# The first api-version with the Responses API; the codex deployments, which have no chat.
RESPONSES_SINCE = "2025-03-01"
RESPONSES_ONLY = ("gpt-5-codex-prod",)
NOT_FOUND = {"error": {"code": "404", "message": "Resource not found"}}
TEXT = "Hello from Azure"


def operation_not_supported(model: str) -> dict[str, Any]:
    """Azure's answer to a chat completion asked of a Responses-only model."""
    return {
        "error": {
            "code": "OperationNotSupported",
            "message": f"The chatCompletion operation does not work with the specified model, "
            f"{model}. Please choose different model and try again. You can learn more about "
            "which models can be used with each operation here: "
            "https://go.microsoft.com/fwlink/?linkid=2197993.",
        }
    }


def api_version_has_responses(query: str) -> bool:
    versions = [
        part.split("=", 1)[1] for part in query.split("&") if part.startswith("api-version=")
    ]
    return bool(versions) and versions[0][:10] >= RESPONSES_SINCE


def response(response_id: str, model: str, status: str = "completed") -> dict[str, Any]:
    message = {
        "id": f"msg_{response_id}",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": TEXT, "annotations": []}],
    }
    done = status == "completed"
    return {
        "id": response_id,
        "object": "response",
        "created_at": 1,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "model": model,
        "output": [message] if done else [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 5,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 4,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 9,
        }
        if done
        else None,
    }


def stream(response_id: str, model: str) -> list[bytes]:
    """The events of `response(...)`, streamed as Azure streams them."""
    final = response(response_id, model)
    item = {**final["output"][0], "status": "in_progress", "content": []}
    part = {"type": "output_text", "text": "", "annotations": []}
    at = {"item_id": item["id"], "output_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response(response_id, model, "in_progress")},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.content_part.added", **at, "content_index": 0, "part": part},
        {"type": "response.output_text.delta", **at, "content_index": 0, "delta": TEXT},
        {"type": "response.output_text.done", **at, "content_index": 0, "text": TEXT},
        {"type": "response.output_item.done", "output_index": 0, "item": final["output"][0]},
        {"type": "response.completed", "response": final},
    ]
    return [
        f"event: {event['type']}\ndata: {json.dumps({**event, 'sequence_number': n})}\n\n".encode()
        for n, event in enumerate(events)
    ]
