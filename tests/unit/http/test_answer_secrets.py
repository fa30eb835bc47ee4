"""An upstream's successful answer that holds the gateway's own provider key (an echo of the
request's headers, a model given the key in a prompt) reaches the client with `****` in its
place: JSON answers (Content-Length recomputed), streams (a key split across two upstream
reads, at any position), and answers served again from the cache. A credential's shape that
is not a configured secret (`sk-...` in a code sample) is left as it is."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from gateway.http import answer_scrub
from gateway.upstream import UpstreamRequest
from gateway.upstream.fake import FakeHandler, FakeReply
from tests.unit.pipeline.app_harness import open_gateway

PROVIDER_KEY = "sk-proj-answersecret0123456789abcd"
SAMPLE = "sk-example-notconfigured-0123456789"  # what a model writes in a code sample
CONFIG = """
[[providers]]
name = "oa"
type = "openai"
base_url = "http://oa.invalid/v1"
api_key_env = "ANSWER_SECRETS_KEY"

[[models]]
name = "m"
[[models.deployments]]
provider = "oa"
model = "gpt"

[[keys]]
id = "app"
key_sha256 = "{digest}"
{policy}
"""
CACHED = {"cached": '[cache]\nmode = "exact"\nttl_s = 60\n'}
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
STREAM = {**CHAT, "stream": True}


@pytest.fixture(autouse=True)
def provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANSWER_SECRETS_KEY", PROVIDER_KEY)


def echoed_key(request: UpstreamRequest) -> str:
    return request.headers["authorization"].removeprefix("Bearer ")


def json_echo(request: UpstreamRequest) -> FakeReply:
    """An answer with the key in a nested string, base64-encoded in another, and a sample."""
    key = echoed_key(request)
    encoded = base64.b64encode(f"user:{key}".encode()).decode()
    message = {"role": "assistant", "content": f"use {SAMPLE}, not {key}"}
    debug = {"headers": {"authorization": f"Basic {encoded}"}}
    answer = {
        "id": "c1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "debug": debug,
        "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
    }
    return FakeReply(200, {"content-type": "application/json"}, [orjson.dumps(answer)])


def chunk(content: str) -> bytes:
    choice = {"index": 0, "delta": {"content": content}, "finish_reason": None}
    return b"data: " + orjson.dumps({"id": "c1", "choices": [choice]}) + b"\n\n"


def stream_reads(key: str, split: int) -> list[bytes]:
    """A stream whose second event holds the key and a sample, cut into two reads at `split`."""
    event = chunk(f"use {SAMPLE}, not {key}.")
    stop = b'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    return [chunk("Hi. ") + event[:split], event[split:] + stop + b"data: [DONE]\n\n"]


def streaming(split: int) -> FakeHandler:
    def handler(request: UpstreamRequest) -> FakeReply:
        reads = stream_reads(echoed_key(request), split)
        return FakeReply(200, {"content-type": "text/event-stream"}, reads)

    return handler


def streamed_text(body: bytes) -> str:
    text = ""
    for event in body.split(b"\n\n"):
        if event.startswith(b"data: {"):
            text += orjson.loads(event[6:])["choices"][0]["delta"].get("content") or ""
    return text


async def test_a_json_answer_holds_no_configured_key(tmp_path: Path) -> None:
    async with open_gateway(tmp_path, CONFIG.replace("{policy}", ""), {}, json_echo) as gateway:
        answer = await gateway.client.post("/v1/chat/completions", json=CHAT)
    assert answer.status_code == 200
    assert int(answer.headers["content-length"]) == len(answer.content)
    body = answer.json()
    assert body["choices"][0]["message"]["content"] == f"use {SAMPLE}, not ****"
    basic = body["debug"]["headers"]["authorization"].removeprefix("Basic ")
    assert "****" in basic
    assert PROVIDER_KEY.encode() not in base64.b64decode(basic.replace("****", "") + "==")


@pytest.mark.parametrize("split", range(1, len(chunk(f"use {SAMPLE}, not {PROVIDER_KEY}."))))
async def test_a_stream_split_inside_the_key_holds_no_key(tmp_path: Path, split: int) -> None:
    config = CONFIG.replace("{policy}", "")
    async with open_gateway(tmp_path, config, {}, streaming(split)) as gateway:
        answer = await gateway.client.post("/v1/chat/completions", json=STREAM)
    assert answer.status_code == 200
    assert PROVIDER_KEY.encode() not in answer.content
    assert streamed_text(answer.content) == f"Hi. use {SAMPLE}, not ****."
    assert answer.content.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize(("request_body", "handler"), [(CHAT, json_echo), (STREAM, streaming(40))])
async def test_a_cached_answer_holds_no_key(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request_body: dict[str, object],
    handler: FakeHandler,
) -> None:
    config = CONFIG.replace("{policy}", 'policy = "cached"')
    stored: list[bytes] = []
    async with open_gateway(tmp_path, config, CACHED, handler) as gateway:
        state = gateway.services.state
        store = state.set

        async def recording_set(key: str, value: bytes, ttl_s: float, now: float) -> None:
            stored.append(value)
            await store(key, value, ttl_s, now)

        monkeypatch.setattr(state, "set", recording_set)
        first = await gateway.client.post("/v1/chat/completions", json=request_body)
        await gateway.background_done()
        again = await gateway.client.post("/v1/chat/completions", json=request_body)
    assert (first.headers["x-gateway-cache"], again.headers["x-gateway-cache"]) == ("miss", "hit")
    assert PROVIDER_KEY.encode() not in again.content
    assert SAMPLE.encode() in again.content
    assert len(stored) == 1
    assert PROVIDER_KEY.encode() not in stored[0]


async def test_a_scrub_is_logged_once_in_ten_seconds_naming_the_deployment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(answer_scrub, "_last_warned", [float("-inf")])
    async with open_gateway(tmp_path, CONFIG.replace("{policy}", ""), {}, json_echo) as gateway:
        for _ in range(2):
            await gateway.client.post("/v1/chat/completions", json=CHAT)
    warnings = [r.getMessage() for r in caplog.records if r.name == "gateway.http"]
    assert len(warnings) == 1
    assert "deployment=oa/gpt" in warnings[0] and PROVIDER_KEY not in warnings[0]


def key_in_deltas(request: UpstreamRequest) -> FakeReply:
    """A model that writes the key it was given a few characters per delta."""
    text = f"the key is {echoed_key(request)} and that is all."
    reads = [chunk(text[i : i + 3]) for i in range(0, len(text), 3)]
    stop = b'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    return FakeReply(
        200, {"content-type": "text/event-stream"}, [*reads, stop, b"data: [DONE]\n\n"]
    )


def delta_text(body: bytes) -> str:
    """The text a client puts together from the stream's deltas, on any of the three wires."""
    text = ""
    for line in body.split(b"\n"):
        if not line.startswith(b"data: {"):
            continue
        event = orjson.loads(line[6:])
        if "choices" in event and event["choices"]:  # chat completions
            text += event["choices"][0].get("delta", {}).get("content") or ""
        elif event.get("type") == "content_block_delta":  # Anthropic messages
            text += event["delta"].get("text", "")
        elif event.get("type") == "response.output_text.delta":  # Responses API
            text += event["delta"]
    return text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", STREAM),
        ("/v1/messages", {**STREAM, "max_tokens": 50}),
        ("/v1/responses", {"model": "m", "input": "hi", "stream": True}),
    ],
)
async def test_a_key_written_a_few_characters_per_delta_reaches_no_client(
    tmp_path: Path, path: str, body: dict[str, object]
) -> None:
    async with open_gateway(tmp_path, CONFIG.replace("{policy}", ""), {}, key_in_deltas) as gw:
        answer = await gw.client.post(path, json=body)
    assert answer.status_code == 200
    text = delta_text(answer.content)
    sent = text.removeprefix("the key is ").removesuffix(" and that is all.")
    assert sent.endswith("****") and PROVIDER_KEY.startswith(sent.removesuffix("****"))
    assert len(sent) <= len("sk-****")  # at most the key's first 3 characters before it


async def test_with_the_watch_off_a_key_written_in_deltas_is_not_looked_for(tmp_path: Path) -> None:
    """`[server] split_secret_watch = false`: each event is still scrubbed, but a key written a
    few characters per event goes as it was written (the operator chose the speed)."""
    config = "[server]\nsplit_secret_watch = false\n" + CONFIG.replace("{policy}", "")
    async with open_gateway(tmp_path, config, {}, key_in_deltas) as gw:
        answer = await gw.client.post("/v1/chat/completions", json=STREAM)
    assert delta_text(answer.content) == f"the key is {PROVIDER_KEY} and that is all."
