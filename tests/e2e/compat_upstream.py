"""An upstream that answers as Azure OpenAI and self-hosted OpenAI-compatible servers really do,
where they differ from OpenAI, chosen by the deployment in an Azure URL or else the body's
`model`:

- Azure deployment `old-api` (an older api-version, such as 2024-06-01): any `stream_options`
  is Azure's 400 "Unrecognized request argument supplied"; a stream opens with the
  `prompt_filter_results` chunk (empty `choices`, no id or model), its chunks carry
  `content_filter_results`, and it has no usage chunk;
- Azure deployments `throttled` and `filtered`: Azure's 429 and its content filter's 400;
- Azure deployment `entra-only` (a resource with key auth disabled), in the URL or as the
  `model` of Azure's v1 API (`/openai/v1/...`): a request without a bearer token, or with an
  `api-key`, is Azure's 401; `echo-token` answers 401 quoting the token sent;
- Azure deployment `filtered-stream`: a stream as Azure's asynchronous content filter sends it,
  with annotation chunks that have a choice but no `delta` (`content_filter_offsets`), one after
  the finish, and the output filter ending it (`finish_reason: content_filter`);
- Azure deployment `o3-prod` (a reasoning model): `max_tokens` is Azure's 400 "Unsupported
  parameter" (it takes `max_completion_tokens`), and so are `stop` and the sampling settings
  (`temperature` and `top_p` other than 1: "Unsupported value"); `gpt-5.5-prod` the same unless
  `reasoning_effort` is "none"; `gpt-5.4-prod` the same when `reasoning_effort` is given and not
  "none" (gpt-5.1 to gpt-5.4 reason at "none" unless asked, gpt-5.5 at "medium");
- `no-usage`: a chat answer without `usage` (a stream: none either);
- `detail-400`, `detail-422`: FastAPI's `{"detail": ...}` error bodies (a string, and the
  validation list);
- `deepseek-reasoner` (DeepSeek's thinking mode): an assistant message without
  `reasoning_content` is DeepSeek's 400 "Missing `reasoning_content` field"; an answer carries
  its `reasoning_content` (a stream: two `reasoning_content` deltas before the text);
- Azure's Responses API (`azure_responses.py`): `POST /openai/responses`, `GET` and `DELETE
  /openai/responses/{id}`; a chat completion of deployment `gpt-5-codex-prod` is Azure's 400
  "OperationNotSupported" (the codex models have the Responses API only);
- `gemini-3-pro-preview` (Gemini through Google's OpenAI-compatible API: `gemini_compat.py`):
  tool calls signed, an unsigned one sent back refused in Google's error list;
- anything else: a plain OpenAI answer with its usage.

Every request is kept in `received` (path, query, headers, body).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import urlsplit

from tests.e2e import azure_responses, gemini_compat
from tests.e2e.network_upstream import Received

AZURE_STREAM_OPTIONS_400 = {
    "error": {
        "code": None,
        "message": "Unrecognized request argument supplied: stream_options",
        "param": None,
        "type": "invalid_request_error",
    }
}
# Azure's own answers: its 429 (a numeric `code`, no `type`; `retry-after-ms`, and only
# `apim-request-id` to name the request) and its content filter's 400 with the `innererror`
# saying which filter refused.
AZURE_429 = {
    "error": {
        "code": "429",
        "message": "Requests to the ChatCompletions_Create Operation under Azure OpenAI API "
        "version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing "
        "tier. Please retry after 2 seconds.",
    }
}
AZURE_429_HEADERS = {
    "retry-after": "2",
    "retry-after-ms": "1500",
    "apim-request-id": "3d37de60-f6c3-4ced-a637-92bc9d16d8b5",
    "x-ratelimit-remaining-requests": "0",
}
AZURE_FILTERED = {
    "error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's "
        "content management policy. Please modify your prompt and retry.",
        "type": None,
        "param": "prompt",
        "code": "content_filter",
        "status": 400,
        "innererror": {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": {
                "hate": {"filtered": False, "severity": "safe"},
                "jailbreak": {"filtered": False, "detected": False},
                "self_harm": {"filtered": False, "severity": "safe"},
                "sexual": {"filtered": False, "severity": "safe"},
                "violence": {"filtered": True, "severity": "medium"},
            },
        },
    }
}
AZURE_MAX_TOKENS_400 = {
    "error": {
        "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
        "Use 'max_completion_tokens' instead.",
        "type": "invalid_request_error",
        "param": "max_tokens",
        "code": "unsupported_parameter",
    }
}
# What a reasoning model refuses besides `max_tokens` (OpenAI's and Azure's words).
REASONING_REFUSES = (
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "stop",
)


REASONING_DEPLOYMENTS = ("o3-prod", "gpt-5.4-prod", "gpt-5.5-prod")


def _reasons(deployment: str, body: dict[str, Any]) -> bool:
    """Whether the reasoning model of `deployment` reasons for `body` (and then refuses the
    sampling settings): o3 always, gpt-5.5 unless told "none", gpt-5.4 only when told an
    effort other than "none"."""
    effort = body.get("reasoning_effort")
    if deployment == "o3-prod":
        return True
    if deployment == "gpt-5.4-prod":
        return effort not in (None, "none")
    return effort != "none"


def reasoning_refusal(name: str, value: object) -> dict[str, Any]:
    if name in ("temperature", "top_p"):
        message = (
            f"Unsupported value: '{name}' does not support {value} with this model. "
            "Only the default (1) value is supported."
        )
        code = "unsupported_value"
    else:
        message = f"Unsupported parameter: '{name}' is not supported with this model."
        code = "unsupported_parameter"
    error = {"message": message, "type": "invalid_request_error", "param": name, "code": code}
    return {"error": error}


AZURE_401 = {
    "error": {
        "code": "PermissionDenied",
        "message": "Key based authentication is disabled for this resource.",
    }
}
DETAIL_400 = {"detail": "max_tokens must be at least 1, got 0."}
DETAIL_422 = {
    "detail": [
        {"loc": ["body", "messages"], "msg": "field required", "type": "value_error.missing"}
    ]
}
_FILTERS = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}


@dataclass
class CompatUpstream:
    url: str
    received: list[Received] = field(default_factory=list)
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)  # Azure's, by id


def deepseek_missing_reasoning(index: int) -> dict[str, Any]:
    """DeepSeek's 400 for a thinking-mode conversation missing the model's reasoning."""
    message = (
        f"Missing `reasoning_content` field in the assistant message at message index {index}. "
        "For more information, please refer to "
        "https://api-docs.deepseek.com/guides/thinking_mode#tool-calls"
    )
    return {"error": {"message": message, "type": "invalid_request_error", "param": None}}


def _without_reasoning(body: dict[str, Any]) -> int | None:
    """The index of the first assistant message without `reasoning_content`, if any."""
    for index, message in enumerate(body.get("messages") or ()):
        if message.get("role") == "assistant" and "reasoning_content" not in message:
            return index
    return None


def _event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "c",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _azure_stream() -> list[bytes]:
    prompt_filter = {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _FILTERS}],
    }
    events = [_event(prompt_filter)]
    for delta, finish in (({"role": "assistant", "content": ""}, None), ({"content": "Hi"}, None)):
        chunk = _chunk(delta, finish)
        chunk["choices"][0]["content_filter_results"] = _FILTERS
        events.append(_event(chunk))
    events.append(_event(_chunk({}, "stop")))
    return [*events, b"data: [DONE]\n\n"]


def _annotation(offset: int) -> dict[str, Any]:
    """An asynchronous filter's verdict on the text so far: a choice without a delta."""
    offsets = {"check_offset": offset, "start_offset": offset, "end_offset": offset + 2}
    choice = {
        "index": 0,
        "finish_reason": None,
        "content_filter_results": _FILTERS,
        "content_filter_offsets": offsets,
    }
    return {"choices": [choice], "created": 0, "id": "", "model": "", "object": ""}


def _filtered_stream(wants_usage: bool) -> list[bytes]:
    events = _azure_stream()[:3]  # the prompt filter's chunk, the role, "Hi"
    events.append(_event(_annotation(0)))
    events.append(_event(_chunk({}, "content_filter")))
    events.append(_event(_annotation(2)))
    if wants_usage:
        usage = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
        events.append(_event({**_chunk({}), "choices": [], "usage": usage}))
    return [*events, b"data: [DONE]\n\n"]


def _reasoning_deltas(model: str) -> list[dict[str, Any]]:
    """DeepSeek's thinking mode streams its reasoning first, with `content` null."""
    if model != "deepseek-reasoner":
        return []
    first = {"role": "assistant", "content": None, "reasoning_content": "The user "}
    return [first, {"content": None, "reasoning_content": "greets me."}]


def _answer(model: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": "Hello there"}
    if model == "deepseek-reasoner":
        message["reasoning_content"] = "The user greets me."
    return {
        "id": "chatcmpl-c",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: ClassVar[CompatUpstream]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length))
        url = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server_state.received.append(Received(url.path, url.query, headers, body))
        parts = url.path.split("/")
        azure = parts[3] if url.path.startswith("/openai/deployments/") else None
        model = str(body.get("model"))
        if url.path == "/openai/responses":
            return self._azure_response(url.query, headers, body)
        if azure in azure_responses.RESPONSES_ONLY:
            return self._json(400, azure_responses.operation_not_supported(azure))
        if azure == "old-api" and "stream_options" in body:
            return self._json(400, AZURE_STREAM_OPTIONS_400)
        bearer = headers.get("authorization", "").startswith("Bearer eyJ")
        if "entra-only" in (azure, model) and (not bearer or "api-key" in headers):
            return self._json(401, AZURE_401)
        if azure == "echo-token":
            sent = headers.get("authorization", "").removeprefix("Bearer ")
            message = f"Invalid token: {sent}"  # the token alone, without its scheme word
            return self._json(401, {"error": {"code": "401", "message": message}})
        if azure in REASONING_DEPLOYMENTS and "max_tokens" in body:
            return self._json(400, AZURE_MAX_TOKENS_400)
        refused = [n for n in REASONING_REFUSES if n in body and body[n] != 1]
        if azure in REASONING_DEPLOYMENTS and refused and _reasons(azure, body):
            return self._json(400, reasoning_refusal(refused[0], body[refused[0]]))
        if azure == "throttled":
            return self._json(429, AZURE_429, AZURE_429_HEADERS)
        if azure == "filtered":
            return self._json(400, AZURE_FILTERED, {"apim-request-id": "apim-filtered"})
        if model == "deepseek-reasoner" and (missing := _without_reasoning(body)) is not None:
            return self._json(400, deepseek_missing_reasoning(missing))
        if model == gemini_compat.MODEL and (unsigned := gemini_compat.missing_signature(body)):
            return self._json(400, unsigned)
        if model in ("detail-400", "detail-422"):
            return self._json(int(model[-3:]), DETAIL_400 if model.endswith("400") else DETAIL_422)
        if body.get("stream"):
            if azure == "old-api":
                return self._stream(_azure_stream())
            wants_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            if azure == "filtered-stream":
                return self._stream(_filtered_stream(wants_usage))
            events = [_event(_chunk(delta)) for delta in _reasoning_deltas(model)]
            if model == gemini_compat.MODEL and gemini_compat.calls_a_tool(body):
                deltas = gemini_compat.tool_stream_deltas(body)
                events = [_event(_chunk(delta)) for delta in deltas]
                events.append(_event(_chunk({}, "tool_calls")))
                return self._stream([*events, b"data: [DONE]\n\n"])
            events.append(_event(_chunk({"role": "assistant", "content": "Hi"})))
            events.append(_event(_chunk({}, "stop")))
            if wants_usage and model != "no-usage":
                usage = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
                events.append(_event({**_chunk({}), "choices": [], "usage": usage}))
            return self._stream([*events, b"data: [DONE]\n\n"])
        if model == gemini_compat.MODEL and gemini_compat.calls_a_tool(body):
            return self._json(200, gemini_compat.tool_answer(body))
        answer = _answer(model)
        if model == "no-usage":
            del answer["usage"]
        return self._json(200, answer)

    def _azure_response(self, query: str, headers: dict[str, str], body: dict[str, Any]) -> None:
        if not azure_responses.api_version_has_responses(query) or "api-key" not in headers:
            return self._json(404 if "api-key" in headers else 401, azure_responses.NOT_FOUND)
        response_id = f"resp_azure{len(self.server_state.responses)}"
        model = str(body.get("model"))
        self.server_state.responses[response_id] = azure_responses.response(response_id, model)
        if body.get("stream"):
            return self._stream(azure_responses.stream(response_id, model))
        return self._json(200, self.server_state.responses[response_id])

    def do_GET(self) -> None:
        self._stored(delete=False)

    def do_DELETE(self) -> None:
        self._stored(delete=True)

    def _stored(self, delete: bool) -> None:
        url = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server_state.received.append(Received(url.path, url.query, headers, {}))
        response_id = url.path.removeprefix("/openai/responses/")
        stored = self.server_state.responses.get(response_id)
        if stored is None or "api-key" not in headers:
            return self._json(404, azure_responses.NOT_FOUND)
        if delete:
            del self.server_state.responses[response_id]
            return self._json(200, {"id": response_id, "object": "response", "deleted": True})
        return self._json(200, stored)

    def _json(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, events: list[bytes]) -> None:
        payload = b"".join(events)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@contextmanager
def running_compat_upstream() -> Iterator[CompatUpstream]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    state = CompatUpstream(f"http://127.0.0.1:{server.server_address[1]}")
    handler = type("Handler", (_Handler,), {"server_state": state})
    server.RequestHandlerClass = handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
