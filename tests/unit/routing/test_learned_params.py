"""Advisory fields a strict server refuses (Codex 0.155's `client_metadata` and
`access_programs`, a `prompt_cache_key` on Azure AI Foundry): the request is asked again without
them in the same attempt, and the provider's next requests leave them out. A field that changes
the answer is never dropped so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.errors import GatewayError, UpstreamRejected
from gateway.routing.exchange import Exchange
from gateway.routing.learned_params import LearnedDrops, refused_fields
from gateway.upstream import FakeReply, FakeUpstream, UpstreamRequest
from tests.unit.routing.router_harness import ConfiguredRouter, responses_answer

CONFIG = """
[routing]
max_attempts = 1

[[providers]]
name = "strict"
type = "openai"
base_url = "http://strict.invalid/v1"
responses = true

[[models]]
name = "m"
[[models.deployments]]
provider = "strict"
model = "open-model"
"""
KNOWN = {"model", "input", "instructions", "tools", "stream", "reasoning", "text", "include"}
RESPONSE = responses_answer("open-model")


def strict(request: UpstreamRequest) -> FakeReply:
    """A Responses server that refuses the first field it does not know, in its own words."""
    unknown = [name for name in orjson.loads(request.body) if name not in KNOWN]
    if unknown:
        error = {"message": f"[invalid_request_error] unknown parameter `{unknown[0]}`"}
        return FakeReply(400, {}, orjson.dumps({"error": error}))
    return FakeReply(200, {}, RESPONSE)


class Routed(ConfiguredRouter):
    """One router (one worker's lessons) over `upstream`."""

    def __init__(self, tmp_path: Path, upstream: FakeUpstream) -> None:
        super().__init__(tmp_path, CONFIG, upstream)

    async def ask(self, **fields: Any) -> Exchange:
        return await self.route({"model": "m", "input": "Fix it.", **fields}, "responses")


def sent_fields(upstream: FakeUpstream) -> list[set[str]]:
    return [set(orjson.loads(r.body)) - KNOWN for r in upstream.requests]


CODEX = {"client_metadata": {"source": "codex"}, "access_programs": {"cyber": "daybreak_blue"}}


async def test_codex_fields_a_strict_server_refuses_are_left_out(tmp_path: Path) -> None:
    upstream = FakeUpstream(strict)
    routed = Routed(tmp_path, upstream)
    await routed.ask(**CODEX, prompt_cache_key="s1")
    exchange = await routed.ask(**CODEX, prompt_cache_key="s2")
    assert exchange.json is not None and exchange.json["status"] == "completed"
    assert sent_fields(upstream) == [
        {"client_metadata", "access_programs", "prompt_cache_key"},  # refused: client_metadata
        {"access_programs", "prompt_cache_key"},  # refused: access_programs
        {"prompt_cache_key"},  # refused: prompt_cache_key
        set(),  # answered, in the same attempt
        set(),  # the next request: all three left out at once
    ]
    assert [a.status for a in exchange.attempts] == [200]  # (the second request's)


async def test_a_field_that_changes_the_answer_is_never_dropped(tmp_path: Path) -> None:
    upstream = FakeUpstream(strict)
    with pytest.raises(GatewayError) as refused:
        await Routed(tmp_path, upstream).ask(truncation="auto")
    assert refused.value.status == 400 and "truncation" in refused.value.message
    assert len(upstream.requests) == 1


@pytest.mark.parametrize(
    "message",
    [
        "Unrecognized request argument supplied: prompt_cache_key",  # Azure AI Foundry
        "Unknown parameter: 'prompt_cache_key'.",
        "body.prompt_cache_key: Extra inputs are not permitted",  # FastAPI, vLLM strict
        'Invalid JSON payload received. Unknown name "prompt_cache_key": Cannot find field.',
    ],
)
def test_the_servers_words_name_the_field(message: str) -> None:
    sent = orjson.dumps({"model": "m", "prompt_cache_key": "s"})
    assert refused_fields(sent, UpstreamRejected(400, message)) == ("prompt_cache_key",)
    # A field named that the body did not hold is not.
    assert refused_fields(b'{"model":"m"}', UpstreamRejected(400, message)) == ()
    drops = LearnedDrops()
    drops.commit("p", ("prompt_cache_key",))
    drops.commit("p", ("prompt_cache_key",))
    assert drops.dropped("p") == ("prompt_cache_key",) and drops.dropped("q") == ()


async def test_an_error_quoting_a_client_cannot_drop_a_field_for_others(tmp_path: Path) -> None:
    """An upstream error that quotes what a client sent, written to read like a refusal of
    `user`: the call without `user` is refused all the same, so nothing is kept, and the next
    client's `user` still goes."""

    def echoing(request: UpstreamRequest) -> FakeReply:
        body = orjson.loads(request.body)
        if "bad_field" in body:
            message = f"Invalid value {body['bad_field']!r}"
            return FakeReply(400, {}, orjson.dumps({"error": {"message": message}}))
        return FakeReply(200, {}, RESPONSE)

    upstream = FakeUpstream(echoing)
    routed = Routed(tmp_path, upstream)
    with pytest.raises(GatewayError):
        await routed.ask(user="u1", bad_field="Unknown parameter: 'user'")
    assert len(upstream.requests) == 2  # asked again without `user`: refused all the same
    await routed.ask(user="u2")
    assert orjson.loads(upstream.requests[-1].body)["user"] == "u2"
