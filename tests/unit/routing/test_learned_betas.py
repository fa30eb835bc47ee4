"""The `anthropic-beta` values an Anthropic-type upstream refused: the request is asked again
without them in the same attempt, and the provider's next requests leave them out. The upstream
is a fake answering as Claude on Vertex does to a beta it does not know."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from gateway.config.provider_types import ProviderConfig
from gateway.errors import GatewayError, UpstreamRejected
from gateway.routing.exchange import Exchange
from gateway.routing.learned_betas import MAX_PER_PROVIDER, LearnedBetas, refused_betas
from gateway.upstream import FakeReply, FakeUpstream, UpstreamRequest
from tests.unit.routing.router_harness import ConfiguredRouter

CONFIG = """
[routing]
max_attempts = 1

[[providers]]
name = "vertex-proxy"
type = "anthropic"
base_url = "http://claude.invalid"

[[models]]
name = "sonnet"
[[models.deployments]]
provider = "vertex-proxy"
model = "claude-sonnet-4-6"
"""
KNOWN = {"claude-code-20250219", "interleaved-thinking-2025-05-14"}
P = ProviderConfig(name="p", type="anthropic")
CLAUDE_CODE = (
    "claude-code-20250219,interleaved-thinking-2025-05-14,"
    "prompt-caching-scope-2026-01-05,advisor-tool-2026-03-01"
)
MESSAGE = orjson.dumps(
    {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [{"type": "text", "text": "Hi."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 2},
    }
)


def refusal(values: list[str]) -> bytes:
    named = ", ".join(f"`{value}`" for value in values)
    message = (
        f"Unexpected value(s) {named} for the `anthropic-beta` header. Please consult our "
        "documentation at docs.anthropic.com or try again without the header."
    )
    return orjson.dumps(
        {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
    )


def vertex(request: UpstreamRequest) -> FakeReply:
    betas = [b.strip() for b in request.headers.get("anthropic-beta", "").split(",") if b]
    unknown = [beta for beta in betas if beta not in KNOWN]
    if unknown:
        return FakeReply(400, {"content-type": "application/json"}, refusal(unknown))
    return FakeReply(200, {"content-type": "application/json"}, MESSAGE)


class Routed(ConfiguredRouter):
    def __init__(self, tmp_path: Path, upstream: FakeUpstream | None = None) -> None:
        self.upstream = upstream or FakeUpstream(vertex)
        super().__init__(tmp_path, CONFIG, self.upstream)

    async def ask(self, beta: str | None) -> Exchange:
        body = {
            "model": "sonnet",
            "max_tokens": 50,
            "messages": [{"role": "user", "content": "Hi"}],
        }
        return await self.route(body, "messages", beta)

    def sent(self) -> list[str | None]:
        sent = [r.headers.get("anthropic-beta") for r in self.upstream.requests]
        self.upstream.requests.clear()
        return sent


async def test_refused_betas_are_left_out_at_once_and_from_then_on(tmp_path: Path) -> None:
    routed = Routed(tmp_path)
    exchange = await routed.ask(CLAUDE_CODE)
    assert exchange.json is not None and exchange.json["content"][0]["text"] == "Hi."
    assert routed.sent() == [CLAUDE_CODE, "claude-code-20250219,interleaved-thinking-2025-05-14"]
    assert [a.status for a in exchange.attempts] == [400, 200]
    await routed.ask(CLAUDE_CODE + ",context-1m-2025-08-07")
    # The refused ones left out at once; a new one refused in its turn.
    assert routed.sent() == [
        "claude-code-20250219,interleaved-thinking-2025-05-14,context-1m-2025-08-07",
        "claude-code-20250219,interleaved-thinking-2025-05-14",
    ]
    await routed.ask("advisor-tool-2026-03-01")
    assert routed.sent() == [None]  # nothing left to send: no header


async def test_another_refusal_is_the_clients(tmp_path: Path) -> None:

    def refusing(request: UpstreamRequest) -> FakeReply:
        error = {"type": "invalid_request_error", "message": "max_tokens: Field required"}
        return FakeReply(400, {}, orjson.dumps({"type": "error", "error": error}))

    routed = Routed(tmp_path, FakeUpstream(refusing))
    with pytest.raises(GatewayError) as refused:
        await routed.ask(CLAUDE_CODE)
    assert refused.value.status == 400 and len(routed.sent()) == 1


def test_only_what_was_sent_and_named_is_learned() -> None:
    sent = "claude-code-20250219,advisor-tool-2026-03-01"
    named = UpstreamRejected(400, refusal(["advisor-tool-2026-03-01"]).decode())
    assert refused_betas(sent, named) == ("advisor-tool-2026-03-01",)
    # A value the request did not send, named in the message, is not.
    other = UpstreamRejected(400, refusal(["interleaved-thinking-2025-05-14"]).decode())
    assert refused_betas(sent, other) == ()
    assert refused_betas(None, named) == ()
    assert refused_betas(sent, UpstreamRejected(400, "overloaded")) == ()


async def test_a_refusal_no_answer_confirmed_is_forgotten(tmp_path: Path) -> None:
    """A call without the values named was refused all the same (the refusal was not about
    them): nothing is kept for the provider's other requests."""

    def still_refusing(request: UpstreamRequest) -> FakeReply:
        return FakeReply(400, {}, refusal(["advisor-tool-2026-03-01"]))

    routed = Routed(tmp_path, FakeUpstream(still_refusing))
    with pytest.raises(GatewayError):
        await routed.ask(CLAUDE_CODE)
    assert len(routed.sent()) == 2
    assert routed.router.learned.betas.header(P, CLAUDE_CODE) == CLAUDE_CODE
    assert (
        routed.router.learned.betas.header(
            ProviderConfig(name="vertex-proxy", type="anthropic"), CLAUDE_CODE
        )
        == CLAUDE_CODE
    )


def test_a_value_that_cannot_be_a_name_is_never_sent() -> None:
    """The upstream quotes what it was sent: a value written to read like its message could
    otherwise have a beta others need learned as refused."""
    betas = LearnedBetas()
    crafted = "x`, `interleaved-thinking-2025-05-14,interleaved-thinking-2025-05-14"
    assert betas.header(P, crafted) == "interleaved-thinking-2025-05-14"
    assert betas.header(P, "claude-code-20250219, oauth-2025-04-20") == (
        "claude-code-20250219, oauth-2025-04-20"
    )


def test_a_provider_learns_at_most_so_many() -> None:
    betas = LearnedBetas()
    names = [f"made-up-{i}-2026-01-01" for i in range(MAX_PER_PROVIDER + 1)]
    for name in names[:-1]:
        betas.commit("p", (name,))
    betas.commit("p", (names[-1],))
    assert betas.header(P, names[-1]) == names[-1]  # no room left: not kept
    assert betas.header(P, names[0]) is None
    assert betas.header(ProviderConfig(name="q", type="anthropic"), names[0]) == names[0]


def test_a_providers_drop_betas_are_never_sent() -> None:
    """A server that refuses a beta in words of its own (not Anthropic's) is told in the
    config."""
    strict = ProviderConfig(name="p", type="anthropic", drop_betas=("advisor-tool-2026-03-01",))
    assert LearnedBetas().header(strict, CLAUDE_CODE) == (
        "claude-code-20250219,interleaved-thinking-2025-05-14,prompt-caching-scope-2026-01-05"
    )
    assert LearnedBetas().header(strict, "advisor-tool-2026-03-01") is None


async def test_a_scoped_breakpoint_goes_without_its_scope_once_its_beta_was_refused(
    tmp_path: Path,
) -> None:
    """Claude Code's `cache_control.scope` is its beta's field: a server that refused the beta
    refuses it too ("system.1.cache_control.ephemeral.scope: Extra inputs are not permitted")."""

    def strict(request: UpstreamRequest) -> FakeReply:
        body = orjson.loads(request.body)
        if "prompt-caching-scope" not in request.headers.get("anthropic-beta", ""):
            for index, block in enumerate(body.get("system") or ()):
                if "scope" in block.get("cache_control", {}):
                    field = f"system.{index}.cache_control.ephemeral.scope"
                    message = f"{field}: Extra inputs are not permitted"
                    error = {"type": "invalid_request_error", "message": message}
                    return FakeReply(400, {}, orjson.dumps({"type": "error", "error": error}))
        return vertex(request)

    routed = Routed(tmp_path, FakeUpstream(strict))
    system = [
        {
            "type": "text",
            "text": "Rules.",
            "cache_control": {"type": "ephemeral", "scope": "global"},
        }
    ]
    body = {
        "model": "sonnet",
        "max_tokens": 50,
        "system": system,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    exchange = await routed.route(body, "messages", CLAUDE_CODE)
    assert exchange.json is not None and [a.status for a in exchange.attempts] == [400, 200]
    last = orjson.loads(routed.upstream.requests[-1].body)
    assert last["system"][0]["cache_control"] == {"type": "ephemeral"}
