"""No request leaves a garbage cycle, whatever its end: its context (body, raw and parsed, and
all the request made) goes when the request is done, not at the cyclic collector's next full
pass. Errors kept past their `except` did: a 429 flood of 10 MB prompts grew the gateway by
220 MB a second."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from gateway.app import create_app
from gateway.config.load import load_config
from gateway.observability.recorder import MemorySink
from gateway.pipeline.context import RequestContext
from gateway.tracebacks import forget_tracebacks
from tests.mock_config import MOCK_MODEL, key_table

# The in-process mock serves "m" (limited to 429 by the policy), "free", and each fault model
# under its own name; "down" is an upstream nothing listens on (502 after its retries).
FAULTS = ("fail-500", "fail-429", "fail-400-context", "malformed", "drop-mid-stream")
MODELS = "".join(
    f'\n[[models]]\nname = "{name}"\n[[models.deployments]]\nprovider = "mock"\nmodel = "{model}"\n'
    for name, model in (("free", "mock-small"), *((fault, fault) for fault in FAULTS))
)
UNREACHABLE = """
[routing]
max_attempts = 2
backoff_base_s = 0.001

[[providers]]
name = "nowhere"
type = "openai"
base_url = "http://127.0.0.1:9/v1"

[[models]]
name = "down"
[[models.deployments]]
provider = "nowhere"
model = "x"
"""
CONFIG = (
    '[logging]\npath = "logs/requests.jsonl"\n\n'
    + MOCK_MODEL
    + MODELS
    + UNREACHABLE
    + key_table("k", policy="t")
)
HEADERS = {"authorization": "Bearer sk-demo"}
PROMPT = {"model": "m", "messages": [{"role": "user", "content": "word " * 200}]}


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def contexts_in_garbage() -> int:
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    found = sum(isinstance(thing, RequestContext) for thing in gc.garbage)
    gc.set_debug(0)
    gc.garbage.clear()
    return found


@pytest.mark.usefixtures("collector_off")
async def test_no_request_leaves_a_cycle(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "t.toml").write_text('[model_limits."m"]\ntpm = 10\n')  # "m": 429
    config = load_config(tmp_path / "config.toml")
    app = create_app(config, recorder=MemorySink(), watch_config=False)
    transport = httpx.ASGITransport(app=app)
    bodies = [
        orjson.dumps(PROMPT),
        b"{",
        orjson.dumps({**PROMPT, "model": "nope"}),
        orjson.dumps({**PROMPT, "model": "down"}),
        orjson.dumps({**PROMPT, "model": "free"}),
        orjson.dumps({**PROMPT, "model": "free", "stream": True}),
        *(orjson.dumps({**PROMPT, "model": fault, "stream": True}) for fault in FAULTS),
    ]
    plain = [orjson.dumps({**PROMPT, "model": fault}) for fault in FAULTS]
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        statuses = [
            (await client.post("/v1/chat/completions", content=body, headers=HEADERS)).status_code
            for body in bodies
        ]
        statuses_plain = [
            (await client.post("/v1/chat/completions", content=body, headers=HEADERS)).status_code
            for body in plain
        ]
        await client.get("/metrics")  # the records are written: their contexts are let go
    # 429 (tpm), 400 (bad JSON), 404 (no such model), 502 (unreachable), 200 (chat, stream);
    # the faults streamed (a dropped stream has begun: 200, then an error event), then not.
    assert statuses == [429, 400, 404, 502, 200, 200, 502, 429, 400, 502, 200]
    assert statuses_plain == [502, 429, 400, 502, 502]
    assert contexts_in_garbage() == 0


def test_forget_tracebacks_follows_causes_and_contexts() -> None:
    def fail() -> None:
        try:
            raise KeyError("inner")
        except KeyError as inner:
            raise ValueError("middle") from inner

    try:
        try:
            fail()
        except ValueError:
            raise RuntimeError("outer")  # noqa: B904 - the implicit context is the point
    except RuntimeError as outer:
        error = outer
    middle = error.__context__
    assert middle is not None and middle.__cause__ is not None
    chain = [error, middle, middle.__cause__]
    assert all(e.__traceback__ is not None for e in chain)
    forget_tracebacks(error)
    assert all(e.__traceback__ is None for e in chain)
    forget_tracebacks(None)  # nothing to do


@pytest.mark.usefixtures("collector_off")
async def test_no_request_of_any_endpoint_leaves_a_cycle(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "t.toml").write_text('[model_limits."m"]\ntpm = 10\n')
    app = create_app(
        load_config(tmp_path / "config.toml"), recorder=MemorySink(), watch_config=False
    )
    messages = {"max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    calls = [
        ("/v1/messages", {"model": "free", **messages}),
        ("/v1/messages", {"model": "free", "stream": True, **messages}),
        ("/v1/messages", {"model": "m", **messages}),
        ("/v1/messages", {"model": "fail-500", **messages}),
        ("/v1/responses", {"model": "free", "input": "hi"}),
        ("/v1/responses", {"model": "free", "input": "hi", "stream": True}),
        ("/v1/responses", {"model": "free", "input": "hi", "previous_response_id": "resp_none"}),
        ("/v1/embeddings", {"model": "free", "input": "hi"}),
        ("/v1/completions", {"model": "free", "prompt": "hi"}),
        ("/v1/completions", {"model": "fail-429", "prompt": "hi"}),
    ]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        statuses = [
            (await client.post(path, content=orjson.dumps(body), headers=HEADERS)).status_code
            for path, body in calls
        ]
        await client.get("/metrics")
    assert statuses == [200, 200, 429, 502, 200, 200, 400, 200, 200, 429]
    assert contexts_in_garbage() == 0
