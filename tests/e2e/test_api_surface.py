"""The API surface the current SDKs call beyond chat: token counting, model lookup, legacy
completions, CORS for browsers, and the Anthropic SDK's request id, through a real gateway over
the real mock provider, with the real `openai` and `anthropic` SDKs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from gateway import tokens
from tests.e2e.conftest import PROVIDER_SECRET
from tests.e2e.records import wait_for_record
from tests.procs import Proc, start_gateway

KEY = "sk-surface-key"
GUARDED_KEY = "sk-surface-guarded"
LIMITED_KEY = "sk-surface-limited"
ORIGIN = "https://app.example.com"
COUNT_BODY: dict[str, Any] = {
    "system": "You are terse.",
    "messages": [{"role": "user", "content": "How many tokens is this sentence, roughly?"}],
}


def estimate_input_tokens(body: dict[str, Any]) -> int:
    """What the mock provider counts, and the gateway's local estimate (no tools here)."""
    return tokens.count_messages(body["messages"], body.get("system"))


GUARDED_POLICY = """
[[guardrails]]
name = "project-codes"
type = "regex"
applies_to = "output"
patterns = ['\\bPRJ-\\d{4}\\b']
action = "redact"
"""


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def surface_config(upstream: str, log_path: Path) -> str:
    return f"""
[server]
cors_origins = ["{ORIGIN}"]

[logging]
path = "{log_path}"

[[providers]]
name = "oai"
type = "openai"
base_url = "{upstream}/v1"
api_key_env = "TEST_PROVIDER_KEY"

[[providers]]
name = "ant"
type = "anthropic"
base_url = "{upstream}"
api_key_env = "TEST_PROVIDER_KEY"

[[providers]]
name = "inproc"
type = "mock"

[[models]]
name = "gpt-mock"
[[models.deployments]]
provider = "oai"
model = "mock-small"
input_cost_per_1m = 1.0
output_cost_per_1m = 2.0

[[models]]
name = "echo"
[[models.deployments]]
provider = "oai"
model = "echo"

[[models]]
name = "claude-mock"
[[models.deployments]]
provider = "ant"
model = "mock-small"

[[models]]
name = "inproc-mock"
[[models.deployments]]
provider = "inproc"
model = "mock-small"

[[keys]]
id = "surface"
key_sha256 = "{_sha(KEY)}"

[[keys]]
id = "guarded"
key_sha256 = "{_sha(GUARDED_KEY)}"
policy = "guarded"

[[keys]]
id = "limited"
key_sha256 = "{_sha(LIMITED_KEY)}"
models = ["gpt-mock"]
"""


@pytest.fixture(scope="module")
def surface(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("surface")
    (root / "policies").mkdir()
    (root / "policies" / "default.toml").write_text("[limits]\nrpm = 100000\n")
    (root / "policies" / "guarded.toml").write_text(GUARDED_POLICY)
    log_path = root / "logs" / "requests.jsonl"
    config = root / "config.toml"
    config.write_text(surface_config(mock_upstream.url, log_path))
    proc = start_gateway(config, env={"TEST_PROVIDER_KEY": PROVIDER_SECRET})
    proc.log_path = log_path
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def claude(surface: Proc) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=surface.url, api_key=KEY, max_retries=0) as client:
        yield client


@pytest.fixture(scope="module")
def oai(surface: Proc) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=surface.url + "/v1", api_key=KEY, max_retries=0) as client:
        yield client


@pytest.fixture(scope="module")
def limited(surface: Proc) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=surface.url + "/v1", api_key=LIMITED_KEY, max_retries=0) as c:
        yield c


def mock_stats(mock_upstream: Proc) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(mock_upstream.url + "/_mock/stats").json()
    return stats


# -- POST /v1/messages/count_tokens ---------------------------------------------------------


def test_count_tokens_is_forwarded_to_an_anthropic_deployment(
    claude: anthropic.Anthropic, mock_upstream: Proc, surface: Proc
) -> None:
    raw = claude.messages.with_raw_response.count_tokens(model="claude-mock", **COUNT_BODY)
    counted = raw.parse()
    last = mock_stats(mock_upstream)["last_request"]
    assert last["path"] == "/v1/messages/count_tokens"
    assert last["body"]["model"] == "mock-small"  # the deployment's name went upstream
    assert last["headers"]["x-api-key"] == PROVIDER_SECRET
    assert counted.input_tokens == estimate_input_tokens(COUNT_BODY)  # what the mock counts
    assert "x-gateway-token-count" not in raw.headers
    assert surface.log_path is not None
    record = wait_for_record(surface.log_path, raw.headers["x-request-id"])
    assert record["endpoint"] == "/v1/messages/count_tokens"
    assert record["deployment"] == "ant/mock-small"
    assert record["status"] == 200
    assert (record["prompt_tokens"], record["cost_usd"]) == (0, 0.0)  # counting spends nothing


@pytest.mark.parametrize("model", ["gpt-mock", "inproc-mock"])
def test_count_tokens_is_estimated_locally_for_other_deployments(
    model: str, claude: anthropic.Anthropic, mock_upstream: Proc
) -> None:
    before = mock_stats(mock_upstream)["requests"]
    raw = claude.messages.with_raw_response.count_tokens(model=model, **COUNT_BODY)
    assert raw.parse().input_tokens == estimate_input_tokens(COUNT_BODY) > 0
    assert raw.headers["x-gateway-token-count"] == "estimate"
    assert mock_stats(mock_upstream)["requests"] == before  # nothing went upstream


def test_count_tokens_errors_in_the_anthropic_shape(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        claude.messages.count_tokens(model="no-such-model", **COUNT_BODY)
    body = caught.value.body
    assert isinstance(body, dict)
    error = body["error"]
    assert error["type"] == "not_found_error" and "no-such-model" in error["message"]
    with pytest.raises(anthropic.BadRequestError, match="messages"):
        claude.messages.count_tokens(model="claude-mock", messages=[])


# -- GET /v1/models/{id} ------------------------------------------------------------------------


def test_models_retrieve_answers_a_model_the_key_may_use(limited: openai.OpenAI) -> None:
    model = limited.models.retrieve("gpt-mock")
    assert (model.id, model.object, model.owned_by) == ("gpt-mock", "model", "llm-gateway")
    assert model.created > 0


@pytest.mark.parametrize("name", ["claude-mock", "no-such-model"])
def test_models_retrieve_is_404_for_a_model_the_key_may_not_use(
    name: str, limited: openai.OpenAI
) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        limited.models.retrieve(name)
    assert caught.value.code == "model_not_found"
    assert caught.value.type == "invalid_request_error"


def test_the_anthropic_sdk_lists_and_retrieves_models_in_anthropics_shape(
    claude: anthropic.Anthropic,
) -> None:
    listed = [(m.id, m.type, m.display_name) for m in claude.models.list()]
    names = ["gpt-mock", "echo", "claude-mock", "inproc-mock"]
    assert listed == [(name, "model", name) for name in names]
    first = claude.models.list(limit=2)
    assert [m.id for m in first.data] == names[:2] and first.has_more
    assert (first.first_id, first.last_id) == ("gpt-mock", "echo")
    following = claude.models.list(limit=2, after_id="echo")
    assert [m.id for m in following.data] == names[2:] and not following.has_more
    earlier = claude.models.list(before_id="claude-mock")
    assert [m.id for m in earlier.data] == names[:2] and not earlier.has_more
    model = claude.models.retrieve("claude-mock")
    assert (model.id, model.type, model.display_name) == ("claude-mock", "model", "claude-mock")
    assert model.created_at.year >= 2024
    with pytest.raises(anthropic.NotFoundError) as caught:
        claude.models.retrieve("no-such-model")
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"


# -- POST /v1/completions -----------------------------------------------------------------------


def test_completions_create(oai: openai.OpenAI, surface: Proc) -> None:
    raw = oai.completions.with_raw_response.create(
        model="gpt-mock", prompt="Say something about llamas", max_tokens=50
    )
    completion = raw.parse()
    assert completion.object == "text_completion"
    assert completion.model == "mock-small"  # the upstream's name, as on chat
    assert completion.choices[0].text and completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    assert raw.headers["x-gateway-deployment"] == "oai/mock-small"
    assert raw.headers["x-ratelimit-limit-requests"] == "100000"
    assert surface.log_path is not None
    record = wait_for_record(surface.log_path, raw.headers["x-request-id"])
    assert record["endpoint"] == "/v1/completions"
    assert record["prompt_tokens"] == completion.usage.prompt_tokens
    assert record["completion_tokens"] == completion.usage.completion_tokens
    assert record["cost_usd"] > 0 and not record["usage_estimated"]


def test_completions_stream(oai: openai.OpenAI, surface: Proc) -> None:
    prompt = "Tell me a story"
    expected = oai.completions.create(model="gpt-mock", prompt=prompt, max_tokens=60)
    stream = oai.completions.create(
        model="gpt-mock",
        prompt=prompt,
        max_tokens=60,
        stream=True,
        stream_options={"include_usage": True},
    )
    with stream:
        chunks = list(stream)
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == expected.choices[0].text
    assert chunks[-1].usage is not None and expected.usage is not None
    assert chunks[-1].usage.completion_tokens == expected.usage.completion_tokens
    request_id = stream.response.headers["x-request-id"]
    assert surface.log_path is not None
    record = wait_for_record(surface.log_path, request_id)
    assert record["endpoint"] == "/v1/completions" and record["stream"] is True
    assert record["completion_tokens"] == chunks[-1].usage.completion_tokens
    assert record["ttft_ms"] is not None


def test_completions_answers_go_through_the_output_guardrails(surface: Proc) -> None:
    with openai.OpenAI(base_url=surface.url + "/v1", api_key=GUARDED_KEY, max_retries=0) as guarded:
        completion = guarded.completions.create(model="echo", prompt="The code is PRJ-1234.")
        assert "PRJ-1234" not in completion.choices[0].text
        assert completion.choices[0].text.startswith("The code is ")
        # A stream goes through the same guardrails (it was refused when they could not read it).
        stream = guarded.completions.create(model="echo", prompt="Code PRJ-1234 ok", stream=True)
        with stream:
            text = "".join(c.choices[0].text for c in stream if c.choices)
        assert text.startswith("Code <") and text.endswith("> ok") and "PRJ-1234" not in text


def test_completions_on_an_anthropic_deployment_is_a_clear_400(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="legacy completions") as refused:
        oai.completions.create(model="claude-mock", prompt="hi")
    assert isinstance(refused.value.body, dict) and refused.value.body["param"] == "model"
    with pytest.raises(openai.BadRequestError, match="serves embeddings") as refused:
        oai.embeddings.create(model="claude-mock", input="hi")
    assert isinstance(refused.value.body, dict) and refused.value.body["param"] == "model"


# -- CORS ---------------------------------------------------------------------------------------


def preflight(surface: Proc, path: str, origin: str) -> httpx.Response:
    return httpx.options(
        surface.url + path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": (
                "authorization, content-type, x-stainless-os, openai-organization, "
                "anthropic-version, x-api-key, x-not-allowed"
            ),
        },
    )


@pytest.mark.parametrize(
    "path", ["/v1/chat/completions", "/v1/messages", "/v1/models/gpt-mock", "/v1/responses"]
)
def test_a_preflight_from_an_allowed_origin_gets_the_cors_headers(surface: Proc, path: str) -> None:
    answer = preflight(surface, path, ORIGIN)
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in answer.headers["access-control-allow-methods"]
    allowed = {h.strip() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert allowed == {
        "authorization",
        "content-type",
        "x-stainless-os",
        "openai-organization",
        "anthropic-version",
        "x-api-key",
    }


def test_a_preflight_from_another_origin_gets_no_cors_headers(surface: Proc) -> None:
    allowed = preflight(surface, "/v1/chat/completions", ORIGIN)
    assert allowed.headers["access-control-allow-origin"] == ORIGIN  # the same route, allowed
    answer = preflight(surface, "/v1/chat/completions", "https://evil.example.net")
    assert not [name for name in answer.headers if name.startswith("access-control-")]
    assert answer.status_code == 405  # the route's own answer to OPTIONS


def test_an_allowed_origin_can_read_the_gateway_headers(surface: Proc) -> None:
    answer = httpx.post(
        surface.url + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {KEY}", "Origin": ORIGIN},
        json={"model": "gpt-mock", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    exposed = {h.strip() for h in answer.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "retry-after", "x-ratelimit-remaining-requests"} <= exposed
    assert "x-ratelimit-remaining-requests" in answer.headers


# -- Anthropic SDK fidelity ---------------------------------------------------------------------


def test_the_anthropic_sdk_sees_the_request_id(claude: anthropic.Anthropic) -> None:
    raw = claude.messages.with_raw_response.create(
        model="claude-mock", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    message = raw.parse()
    assert message._request_id == raw.headers["x-request-id"]
    assert message._request_id.startswith("req_")
    with pytest.raises(anthropic.NotFoundError) as caught:
        claude.messages.create(
            model="no-such-model", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.request_id is not None and caught.value.request_id.startswith("req_")
