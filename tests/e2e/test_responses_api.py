"""`POST /v1/responses` through the gateway with the real `openai` SDK, against an upstream that
speaks Responses (passed through), one that only speaks chat completions (translated) and an
Anthropic one (translated through chat), all three served by mock providers. Two gateway
replicas share a Redis, so a `previous_response_id` follow-up can arrive at either."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import cast

import httpx
import openai
import pydantic
import pytest
from openai.types.responses import (
    EasyInputMessageParam,
    FunctionToolParam,
    ResponseFunctionToolCallParam,
    ResponseInputParam,
    WebSearchToolParam,
)

from tests.conditions import wait_until
from tests.e2e.records import wait_for_record
from tests.procs import Proc, start_gateways, start_mock_provider
from tests.redis_server import RedisServer, start_redis

KEY = "sk-responses-test"
MODELS = ["pass", "chat-only", "claude", "inproc"]
WEATHER: FunctionToolParam = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
    "strict": None,  # the param requires the key; None leaves it to the default, as omitting it
}


class Weather(pydantic.BaseModel):
    city: str
    celsius: int


def config(root: Path, first: str, second: str, redis_url: str) -> str:
    """`pass` and `pair` speak Responses, `chat-only` and `chat-pair` do not, `claude` is
    Anthropic, `inproc` the in-process mock; the pairs have one deployment on each mock
    provider."""
    providers = "".join(
        f'[[providers]]\nname = "{name}"\ntype = "{kind}"\n'
        + (f'base_url = "{url}"\n' if url else "")
        + f"{extra}\n"
        for name, kind, url, extra in (
            ("oai", "openai", f"{first}/v1", "responses = true"),
            ("oai2", "openai", f"{second}/v1", "responses = true"),
            ("chat", "openai", f"{first}/v1", ""),
            ("chat2", "openai", f"{second}/v1", ""),
            ("ant", "anthropic", first, ""),
            ("inproc", "mock", "", ""),
        )
    )
    models = "".join(
        f'[[models]]\nname = "{name}"\nstrategy = "round_robin"\n'
        + "".join(
            f'[[models.deployments]]\nprovider = "{p}"\nmodel = "mock-small"\n'
            "input_cost_per_1m = 1.0\noutput_cost_per_1m = 2.0\n"
            for p in providers_of
        )
        for name, providers_of in (
            ("pass", ["oai"]),
            ("pair", ["oai", "oai2"]),
            ("chat-only", ["chat"]),
            ("chat-pair", ["chat", "chat2"]),
            ("claude", ["ant"]),
            ("inproc", ["inproc"]),
        )
    )
    models += (
        '[[models]]\nname = "drop"\n[[models.deployments]]\nprovider = "oai"\n'
        'model = "drop-mid-stream"\n'
    )
    return f"""
[logging]
path = "{root}/requests.jsonl"

[state]
backend = "redis"
redis_url = "{redis_url}"

{providers}
{models}
[[keys]]
id = "resp"
team = "qa"
key_sha256 = "{hashlib.sha256(KEY.encode()).hexdigest()}"
"""


@pytest.fixture(scope="module")
def second_upstream() -> Iterator[Proc]:
    proc = start_mock_provider()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory,
    mock_upstream: Proc,
    second_upstream: Proc,
    redis: RedisServer,
) -> Iterator[list[Proc]]:
    paths = []
    for name in ("a", "b"):
        root = tmp_path_factory.mktemp(f"responses-{name}")
        path = root / "config.toml"
        path.write_text(config(root, mock_upstream.url, second_upstream.url, redis.url))
        (root / "policies").mkdir()
        (root / "policies" / "default.toml").write_text('[cache]\nmode = "exact"\n')
        paths.append(path)
    procs = start_gateways(paths)
    for proc, path in zip(procs, paths):
        proc.log_path = path.parent / "requests.jsonl"
    yield procs
    for proc in procs:
        proc.stop()


@pytest.fixture(scope="module")
def client(replicas: list[Proc]) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=replicas[0].url + "/v1", api_key=KEY, max_retries=0) as sdk:
        yield sdk


@pytest.mark.parametrize("model", MODELS)
def test_create_json(client: openai.OpenAI, replicas: list[Proc], model: str) -> None:
    raw = client.responses.with_raw_response.create(
        model=model, input="Tell me about llamas.", instructions="Be brief.", metadata={"t": "1"}
    )
    response = raw.parse()
    assert response.object == "response" and response.status == "completed"
    assert response.output_text and response.instructions == "Be brief."
    assert response.metadata == {"t": "1"}
    assert response.usage is not None and response.usage.output_tokens > 0
    assert replicas[0].log_path is not None
    record = wait_for_record(replicas[0].log_path, raw.headers["x-request-id"])
    assert record["endpoint"] == "/v1/responses" and record["status"] == 200
    assert record["prompt_tokens"] == response.usage.input_tokens
    assert record["completion_tokens"] == response.usage.output_tokens
    assert record["cost_usd"] == pytest.approx(
        (response.usage.input_tokens * 1.0 + response.usage.output_tokens * 2.0) / 1e6
    )
    assert not record["usage_estimated"]


@pytest.mark.parametrize("model", MODELS)
def test_stream(client: openai.OpenAI, replicas: list[Proc], model: str) -> None:
    with client.responses.stream(model=model, input="Tell me about llamas.") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds.count("response.output_text.delta") >= 10
    assert kinds[-1] == "response.completed"
    assert final.output_text and final.usage is not None
    with client.responses.with_streaming_response.create(
        model=model, input="Tell me about llamas.", stream=True
    ) as raw:
        request_id = raw.headers["x-request-id"]
        assert b"event: response.completed" in raw.read()
    assert replicas[0].log_path is not None
    record = wait_for_record(replicas[0].log_path, request_id)
    assert record["stream"] and record["ttft_ms"] is not None and record["ttft_ms"] > 0
    assert record["completion_tokens"] == final.usage.output_tokens
    assert not record["usage_estimated"]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_function_tool_round_trip(client: openai.OpenAI, model: str, stream: bool) -> None:
    def ask(items: ResponseInputParam) -> openai.types.responses.Response:
        if not stream:
            return client.responses.create(model=model, input=items, tools=[WEATHER])
        with client.responses.stream(model=model, input=items, tools=[WEATHER]) as events:
            return events.get_final_response()

    question: EasyInputMessageParam = {"role": "user", "content": "Weather in Paris?"}
    first = ask([question])
    [call] = first.output
    assert call.type == "function_call" and call.name == "get_weather"
    assert call.arguments == '{"city":"test"}'
    # The call sent back as the SDK dumps it: its fields are those of the call's param.
    sent_call = cast(ResponseFunctionToolCallParam, call.model_dump(exclude_none=True))
    output = "sunny, 21 C"
    second = ask(
        [
            question,
            sent_call,
            {"type": "function_call_output", "call_id": call.call_id, "output": output},
        ]
    )
    assert second.output_text == "Tool result: sunny, 21 C"


@pytest.mark.parametrize("model", MODELS)
def test_parse_with_a_pydantic_model(client: openai.OpenAI, model: str) -> None:
    parsed = client.responses.parse(model=model, input="Weather in Paris?", text_format=Weather)
    assert parsed.output_parsed == Weather(city="test", celsius=1)


def test_errors_in_openai_shape(client: openai.OpenAI, replicas: list[Proc]) -> None:
    with pytest.raises(openai.BadRequestError) as missing:
        # input=None on purpose: the gateway's own 400 names the param.
        client.responses.create(model="pass", input=None)  # type: ignore[call-overload]
    body = missing.value.body
    assert isinstance(body, dict) and body["param"] == "input"
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="no-such-model", input="hi")
    with pytest.raises(openai.BadRequestError) as builtin:
        client.responses.create(
            model="chat-only", input="hi", tools=[{"type": "code_interpreter", "container": "c"}]
        )
    assert "code_interpreter" in builtin.value.message
    assert isinstance(builtin.value.body, dict) and builtin.value.body["param"] == "tools"
    metrics = httpx.get(replicas[0].url + "/metrics").text
    assert (
        'gateway_requests_total{cache="bypass",deployment="oai/mock-small",model="pass"' in metrics
    )


def deployment_of(headers: Mapping[str, str]) -> str:
    return headers["x-gateway-deployment"]


@pytest.fixture(scope="module")
def other_replica(replicas: list[Proc]) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=replicas[1].url + "/v1", api_key=KEY, max_retries=0) as sdk:
        yield sdk


@pytest.mark.parametrize("model", ["pair", "chat-pair"])
def test_previous_response_id_follows_its_deployment_across_replicas(
    client: openai.OpenAI, other_replica: openai.OpenAI, model: str
) -> None:
    """Round robin would alternate the two deployments; every follow-up, on either replica,
    stays on the one that made the first response (the other mock would answer 400)."""
    raw = client.responses.with_raw_response.create(model=model, input="My name is Ada.")
    first, where = raw.parse(), deployment_of(raw.headers)
    previous = first.id
    for turn, sdk in enumerate([other_replica, client, other_replica, client]):
        raw = sdk.responses.with_raw_response.create(
            model=model, input=f"Turn {turn}: what is my name?", previous_response_id=previous
        )
        assert deployment_of(raw.headers) == where
        previous = raw.parse().id
    with other_replica.responses.stream(
        model=model, input="And now?", previous_response_id=previous
    ) as stream:
        final = stream.get_final_response()
    assert final.output_text
    fetched = other_replica.responses.retrieve(previous)
    assert fetched.id == previous and fetched.output_text


def test_translated_follow_up_carries_the_conversation(
    client: openai.OpenAI, other_replica: openai.OpenAI, mock_upstream: Proc, second_upstream: Proc
) -> None:
    first = client.responses.create(model="chat-pair", input="My name is Ada.", instructions="Hi")
    raw = other_replica.responses.with_raw_response.create(
        model="chat-pair", input="What is my name?", previous_response_id=first.id
    )
    upstream = mock_upstream if deployment_of(raw.headers).startswith("chat/") else second_upstream
    sent = httpx.get(upstream.url + "/_mock/stats").json()["last_request"]["body"]
    assert sent["messages"] == [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": first.output_text},
        {"role": "user", "content": "What is my name?"},
    ]


def test_unknown_or_foreign_previous_response(client: openai.OpenAI) -> None:
    # OpenAI's answer: 400 (BadRequestError), code previous_response_not_found.
    with pytest.raises(openai.BadRequestError) as unknown:
        client.responses.create(model="pass", input="hi", previous_response_id="resp_nope")
    body = unknown.value.body
    assert isinstance(body, dict) and body["code"] == "previous_response_not_found"
    assert body["param"] == "previous_response_id"
    made_by_pass = client.responses.create(model="pass", input="hi")
    with pytest.raises(openai.ConflictError) as other_model:
        client.responses.create(model="claude", input="hi", previous_response_id=made_by_pass.id)
    assert "'pass'" in other_model.value.message
    not_stored = client.responses.create(model="chat-only", input="hi", store=False)
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="chat-only", input="hi", previous_response_id=not_stored.id)


@pytest.mark.parametrize("model", ["pass", "chat-only"])
def test_retrieve_and_delete(
    client: openai.OpenAI, other_replica: openai.OpenAI, model: str
) -> None:
    made = client.responses.create(model=model, input="hi")
    assert other_replica.responses.retrieve(made.id).output_text == made.output_text
    other_replica.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(made.id)


def test_exact_cache_answers_only_stateless_requests(client: openai.OpenAI) -> None:
    """`store: false` without `previous_response_id` is cached (JSON and streams apart);
    a stored response never is: its id must stay unique."""
    create = client.responses.with_raw_response.create
    first = create(model="chat-only", input="cache me", store=False)
    assert first.headers["x-gateway-cache"] == "miss"
    wait_until(
        lambda: (
            create(model="chat-only", input="cache me", store=False).headers["x-gateway-cache"]
            == "hit"
        ),
        5,
        0.02,
        "the answer was never cached",
    )
    hit = create(model="chat-only", input="cache me", store=False)
    assert hit.parse().output_text == first.parse().output_text

    def streamed() -> tuple[str, bytes]:
        with client.responses.with_streaming_response.create(
            model="chat-only", input="cache me", store=False, stream=True
        ) as raw:
            return raw.headers["x-gateway-cache"], raw.read()

    assert streamed()[0] == "miss"
    wait_until(lambda: streamed()[0] == "hit", 5, 0.02, "the stream was never cached")
    cached, replayed = streamed()
    assert cached == "hit" and replayed.rstrip().endswith(b"}")
    assert b"event: response.completed" in replayed
    for _ in range(2):
        stored = create(model="chat-only", input="cache me")
        assert stored.headers["x-gateway-cache"] == "bypass"


def test_a_stream_cut_mid_way_ends_with_an_error_event(client: openai.OpenAI) -> None:
    kinds: list[str] = []
    with pytest.raises(openai.APIError) as failed:
        for event in client.responses.create(model="drop", input="hi", stream=True):
            kinds.append(event.type)
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert "mid-stream" in failed.value.message


QUESTION = "Latest gateway release?"


@pytest.mark.parametrize("stream", [False, True])
def test_a_live_web_search_on_claude_is_claudes_search_with_its_citations(
    client: openai.OpenAI, stream: bool
) -> None:
    """Before, the `web_search` tool was left out for a Claude deployment: no search, no
    citation. Codex's default cached search (`external_web_access: false`) still is."""

    def answer(live: bool) -> openai.types.responses.Response:
        tool: WebSearchToolParam = {"type": "web_search", "external_web_access": live}
        if not stream:
            return client.responses.create(model="claude", input=QUESTION, tools=[tool])
        with client.responses.stream(model="claude", input=QUESTION, tools=[tool]) as events:
            return events.get_final_response()

    [message] = answer(live=True).output
    assert message.type == "message" and message.content[0].type == "output_text"
    part = message.content[0]
    [annotation] = part.annotations
    assert annotation.type == "url_citation" and annotation.url.startswith("https://search.")
    assert part.text[annotation.start_index : annotation.end_index] == part.text
    [cached] = answer(live=False).output
    assert cached.type == "message" and cached.content[0].type == "output_text"
    assert not cached.content[0].annotations
