"""Upstream error answers as the client's error: the real bodies of OpenAI and Anthropic, and
of OpenAI-compatible servers, keep their status, type, code, param and message."""

from __future__ import annotations

import json

import orjson

from gateway.config.types import DeploymentConfig
from gateway.errors import UpstreamRejected
from gateway.providers.upstream_errors import (
    FIELD_MAX_CHARS,
    error_from_upstream,
    stream_error_from_upstream,
)
from gateway.quoted_text import MESSAGE_MAX_CHARS
from gateway.scrub import Secrets

DEPLOYMENT = DeploymentConfig("oai", "gpt-4o")
CONTEXT = {
    "error": {
        "message": "This model's maximum context length is 128000 tokens. However, your messages "
        "resulted in 130412 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def test_an_openai_error_keeps_type_code_param_and_message() -> None:
    error = error_from_upstream(400, orjson.dumps(CONTEXT), DEPLOYMENT)
    assert error.status == 400
    assert json.loads(error.body("openai")) == CONTEXT
    # An Anthropic client gets the same message in its own shape, after the words Anthropic
    # begins an overflow with (its shape has no code).
    message = f"prompt is too long: {CONTEXT['error']['message']}"
    assert json.loads(error.body("anthropic")) == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": message},
    }


def test_quota_and_rate_limit_codes_survive() -> None:
    quota = {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota",
                       "param": None, "code": "insufficient_quota"}}  # fmt: skip
    error = error_from_upstream(429, orjson.dumps(quota), DEPLOYMENT)
    assert (error.status, error.type, error.code) == (
        429,
        "insufficient_quota",
        "insufficient_quota",
    )
    limited = {"error": {"message": "Rate limit reached", "type": "requests", "param": None,
                         "code": "rate_limit_exceeded"}}  # fmt: skip
    error = error_from_upstream(429, orjson.dumps(limited), DEPLOYMENT)
    assert (error.type, error.code) == ("requests", "rate_limit_exceeded")
    assert json.loads(error.body("anthropic"))["error"]["type"] == "rate_limit_error"


def test_an_account_out_of_quota_tells_the_sdks_not_to_retry() -> None:
    """OpenAI's 429 `insufficient_quota` ends when the account is paid, not after a wait: the
    client's answer says `x-should-retry: false`, which the OpenAI and Anthropic SDKs obey over
    the status (they retry every other 429). Before, the SDK waited out the bench's Retry-After
    (5 s) twice before raising. A rate limit carries no such header."""
    for field in ("code", "type"):
        quota = {
            "error": {"message": "You exceeded your current quota", field: "insufficient_quota"}
        }
        error = error_from_upstream(429, orjson.dumps(quota), DEPLOYMENT)
        assert error.headers.get("x-should-retry") == "false"
    limited = {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}}
    assert (
        "x-should-retry" not in error_from_upstream(429, orjson.dumps(limited), DEPLOYMENT).headers
    )


def test_anthropic_overloaded_is_529_for_anthropic_clients_and_503_for_openai_ones() -> None:
    error = error_from_upstream(529, orjson.dumps(OVERLOADED), DEPLOYMENT)
    assert error.status_on("anthropic") == 529 and error.status_on("openai") == 503
    assert json.loads(error.body("anthropic")) == OVERLOADED
    assert json.loads(error.body("openai"))["error"] == {
        "message": "Overloaded",
        "type": "overloaded_error",
        "param": None,
        "code": "overloaded",
    }


def test_server_errors_are_the_gateways_502_naming_the_deployment() -> None:
    body = {"error": {"message": "The server had an error", "type": "server_error",
                      "param": None, "code": None}}  # fmt: skip
    error = error_from_upstream(500, orjson.dumps(body), DEPLOYMENT)
    assert error.status == 502 and error.code == "upstream_error" and error.type == "server_error"
    assert "oai/gpt-4o" in error.message and "The server had an error" in error.message
    assert error_from_upstream(503, b"{}", DEPLOYMENT).status == 503


def test_other_shapes_of_openai_compatible_servers() -> None:
    vllm = {"object": "error", "message": "model 'x' does not exist", "type": "NotFoundError",
            "param": None, "code": 404}  # fmt: skip
    error = error_from_upstream(404, orjson.dumps(vllm), DEPLOYMENT)
    assert (error.status, error.message, error.code) == (404, "model 'x' does not exist", None)
    assert error_from_upstream(400, b'{"error": "bad input"}', DEPLOYMENT).message == "bad input"
    text = error_from_upstream(502, b"<html>Bad Gateway</html>", DEPLOYMENT)
    assert text.status == 502 and "oai/gpt-4o" in text.message


def test_the_providers_refusal_of_the_gateways_key_is_not_the_clients() -> None:
    body = {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                      "param": None, "code": "invalid_api_key"}}  # fmt: skip
    error = error_from_upstream(401, orjson.dumps(body), DEPLOYMENT)
    assert error.status == 401 and error.code == "upstream_auth_error"


def test_anthropic_prompt_too_long_is_openais_context_length_exceeded() -> None:
    # What OpenAI clients (LangChain, agent SDKs) test to trim a conversation and retry.
    for message in (
        "prompt is too long: 208310 tokens > 200000 maximum",
        "input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000, "
        "decrease input length or `max_tokens` and try again",
    ):
        body = {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
        error = error_from_upstream(400, orjson.dumps(body), DEPLOYMENT)
        assert json.loads(error.body("openai"))["error"] == {
            "message": message,
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
        assert json.loads(error.body("anthropic")) == body
    other = {"type": "error", "error": {"type": "invalid_request_error", "message": "bad field"}}
    error = error_from_upstream(400, orjson.dumps(other), DEPLOYMENT)
    assert (error.code, error.param) == ("invalid_request_error", None)


def test_fastapi_detail_bodies_keep_their_message() -> None:
    # Servers built on FastAPI answer its own errors so: a string, or the validation list.
    text = {"detail": "max_tokens must be at least 1, got 0."}
    error = error_from_upstream(400, orjson.dumps(text), DEPLOYMENT)
    assert (error.status, error.message) == (400, "max_tokens must be at least 1, got 0.")
    invalid = {"detail": [{"loc": ["body", "messages"], "msg": "field required",
                           "type": "value_error.missing"}, {"msg": "extra"}]}  # fmt: skip
    error = error_from_upstream(422, orjson.dumps(invalid), DEPLOYMENT)
    assert error.message == "body.messages: field required; extra"
    unreadable = error_from_upstream(404, b'{"detail": [{"nope": 1}]}', DEPLOYMENT)
    assert unreadable.message == "upstream oai/gpt-4o answered status 404"


def test_self_hosted_context_overflows_are_openais_context_length_exceeded() -> None:
    vllm = {
        "object": "error",
        "message": "This model's maximum context length is 4096 tokens. However, you requested "
        "5000 tokens.",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
    llamacpp = {
        "error": {
            "code": 400,
            "message": "request (4476 tokens) exceeds the available context size (4096 tokens), "
            "try increasing it",
            "type": "exceed_context_size_error",
            "n_prompt_tokens": 4476,
            "n_ctx": 4096,
        }
    }
    tgi = {
        "error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. "
        "Given: 4000 `inputs` tokens and 200 `max_new_tokens`",
        "error_type": "validation",
    }
    vllm_engine = {
        "error": {
            "message": "The decoder prompt (length 5000) is longer than the maximum model length "
            "of 4096. Make sure that `max_model_len` is no smaller than the number of text tokens.",
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        }
    }
    for status, body in ((400, vllm), (400, vllm_engine), (400, llamacpp), (422, tgi)):
        error = error_from_upstream(status, orjson.dumps(body), DEPLOYMENT)
        assert (error.status, error.code, error.param) == (
            status,
            "context_length_exceeded",
            "messages",
        )
    # Only a refused prompt: another 400 is no overflow (its code, only the status again, is
    # none: OpenAI's codes are names or null), nor is a server error.
    other = {"error": {"code": 400, "message": "bad grammar", "type": "invalid_request_error"}}
    refused = error_from_upstream(400, orjson.dumps(other), DEPLOYMENT)
    assert (refused.code, refused.kind) == (None, "invalid_request_error")
    assert json.loads(refused.body("openai"))["error"]["code"] is None
    assert error_from_upstream(500, orjson.dumps(vllm), DEPLOYMENT).code == "400"
    # A code of the upstream's own is kept.
    coded = {"error": {"message": "This model's maximum context length is 8", "code": "too_big"}}
    assert error_from_upstream(400, orjson.dumps(coded), DEPLOYMENT).code == "too_big"


def test_an_error_said_mid_stream_keeps_the_upstreams_type() -> None:
    error = stream_error_from_upstream(OVERLOADED["error"], anthropic=True)
    assert json.loads(error.body("anthropic"))["error"] == {
        "type": "overloaded_error",
        "message": "upstream stream error: Overloaded",
    }
    assert json.loads(error.body("openai"))["error"]["type"] == "overloaded_error"
    assert (error.kind, error.rate_limited) == ("overloaded", True)
    assert error.status_on("anthropic") == 529 and error.status_on("openai") == 503
    limited = {"type": "rate_limit_error", "message": "slow down"}
    assert stream_error_from_upstream(limited, anthropic=True).status == 429
    # An OpenAI-shaped overload without a code gets the one that says so.
    busy = stream_error_from_upstream({"type": "overloaded_error", "message": "x"}, anthropic=False)
    assert (busy.status, busy.kind, busy.upstream_fault) == (529, "overloaded", False)
    # OpenAI-compatible error chunks: vLLM's numeric code is none, TGI's error is a string.
    vllm = {"object": "error", "message": "boom", "type": "InternalServerError", "code": 500}
    error = stream_error_from_upstream(vllm, anthropic=False)
    assert (error.status, error.type, error.code, error.upstream_fault) == (
        502,
        "InternalServerError",
        "upstream_error",
        True,
    )
    # A 4xx code names the refusal it is: the request's fault.
    refused = {"object": "error", "message": "bad", "type": "BadRequestError", "code": 400}
    error = stream_error_from_upstream(refused, anthropic=False)
    assert error.rejection is not None and error.rejection.status == 400
    assert not error.upstream_fault
    assert json.loads(error.body("anthropic"))["error"]["type"] == "api_error"
    tgi = stream_error_from_upstream("Request failed during generation", anthropic=False)
    assert tgi.message == "upstream stream error: Request failed during generation"


def test_tgis_generation_failure_is_the_upstreams_failure() -> None:
    body = {
        "error": "Request failed during generation: Server error: OOM",
        "error_type": "generation",
    }
    error = error_from_upstream(424, orjson.dumps(body), DEPLOYMENT)
    assert (error.status, error.type, error.code) == (502, "api_error", "upstream_error")
    assert "oai/gpt-4o" in error.message and "Server error: OOM" in error.message


SECRET = "sk-live-0123456789abcdefghijklmnop"


def test_a_huge_error_text_is_capped_and_never_cut_inside_a_credential() -> None:
    """A megabyte of error text (a hostile or broken upstream) reaches the client, the record
    and the log as at most MESSAGE_MAX_CHARS; the cut never leaves part of a credential, which
    the scrubber, knowing the whole secret, would no longer find."""
    scrubber = Secrets([SECRET])
    for offset in range(len(SECRET) + 1):  # the cut at every place in the secret, and after
        filler = "x " * ((MESSAGE_MAX_CHARS - len(SECRET) + offset) // 2)
        message = filler[: MESSAGE_MAX_CHARS - len(SECRET) + offset] + SECRET + " " + "y" * 10**6
        body = {"error": {"message": message, "type": "t" * 10**5, "code": "c" * 10**5}}
        error = error_from_upstream(400, orjson.dumps(body), DEPLOYMENT)
        assert len(error.message) <= MESSAGE_MAX_CHARS + 40
        assert error.message.endswith("more characters)")
        assert len(error.type) <= FIELD_MAX_CHARS + 40 and len(error.code or "") <= 300
        scrubbed = scrubber.scrub(error.message)
        assert not any(SECRET[:n] in scrubbed for n in range(6, len(SECRET) + 1)), offset


def test_a_short_error_text_is_kept_whole() -> None:
    body = {"error": {"message": "bad request " * 300, "type": "invalid_request_error"}}
    error = error_from_upstream(400, orjson.dumps(body), DEPLOYMENT)
    assert error.message == "bad request " * 300


# Gemini's OpenAI-compatible API answers its errors in Google's form, in a list.
GEMINI_400 = [
    {
        "error": {
            "code": 400,
            "message": "Function call is missing a thought_signature in functionCall parts. "
            "This is required for tools to work correctly, and missing thought_signature may "
            "lead to degraded model performance. Additional data, function call "
            "`default_api:Bash` , position 3. Please refer to "
            "https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
            "status": "INVALID_ARGUMENT",
        }
    }
]
GEMINI_429 = [
    {
        "error": {
            "code": 429,
            "message": "You exceeded your current quota, please check your plan and billing "
            "details. Please retry in 37.1s.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"},
            ],
        }
    }
]


def test_geminis_error_list_keeps_its_message_and_names_its_status() -> None:
    error = error_from_upstream(400, orjson.dumps(GEMINI_400), DEPLOYMENT)
    assert (error.status, error.type, error.code) == (
        400,
        "invalid_request_error",
        "INVALID_ARGUMENT",
    )
    assert error.message == GEMINI_400[0]["error"]["message"]
    assert json.loads(error.body("openai"))["error"]["message"].startswith("Function call is")


def _gemini_429(retry_delay: object) -> bytes:
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}
    error = {"code": 429, "message": "Quota.", "status": "RESOURCE_EXHAUSTED", "details": [retry]}
    return orjson.dumps([{"error": error}])


def test_geminis_429_is_a_rate_limit_with_the_wait_its_body_asks_for() -> None:
    error = error_from_upstream(429, orjson.dumps(GEMINI_429), DEPLOYMENT)
    assert isinstance(error, UpstreamRejected)
    assert (error.status, error.type, error.code) == (
        429,
        "rate_limit_error",
        "rate_limit_exceeded",
    )
    assert error.message.startswith("You exceeded your current quota")
    assert error.retry_after_s == 37.0
    assert (
        getattr(error_from_upstream(429, _gemini_429("0.5s"), DEPLOYMENT), "retry_after_s") == 0.5
    )
    for delay in ("soon", "-5s", "1e9s", 37):
        odd = error_from_upstream(429, _gemini_429(delay), DEPLOYMENT)
        assert getattr(odd, "retry_after_s") is None
    assert getattr(error_from_upstream(400, b"[1, 2]", DEPLOYMENT), "retry_after_s") is None
