"""The limits stage: one reservation per request (with the model's breakers read in the same
round trip), the rate headers built at once from results made in process and off the request's
path from a reply still to parse, a 429 past the limit."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.config import load_config
from gateway.errors import RateLimited
from gateway.limits.estimate import estimate_request
from gateway.observability.recorder import MemorySink
from gateway.pipeline.context import Endpoint, RequestContext
from gateway.pipeline.services import Services
from gateway.pipeline.stages import authenticate, check_limits, parse_body, resolve_model
from gateway.state import AcquireResult, LimitCheck, MemoryState
from gateway.state.prepared import PreparedChecks
from tests.mock_config import MOCK_MODEL, key_table

CONFIG = MOCK_MODEL + key_table("k", policy="limited")
LIMITED = "[limits]\nrpm = 2\n"
HELLO = b'{"model": "m", "messages": [{"role": "user", "content": "hello"}]}'


def services(tmp_path: Path, policy: str = LIMITED) -> Services:
    (tmp_path / "config.toml").write_text(CONFIG)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "limited.toml").write_text(policy)
    config = load_config(tmp_path / "config.toml", env={})
    app = create_app(config, recorder=MemorySink(), watch_config=False)
    result: Services = app.state.services
    return result


def rate_headers(ctx: RequestContext) -> dict[bytes, bytes]:
    """The request's rate headers as built so far (none yet: empty)."""
    return dict(ctx.rate_headers or ())


async def limited(svc: Services, body: bytes = HELLO) -> RequestContext:
    """A request (key sk-demo, model m) taken through the stages up to the limits check."""
    ctx = RequestContext(
        Endpoint("/v1/chat/completions", "chat", "openai"),
        svc.runtime,
        "req_1",
        time.time(),
        time.monotonic(),
        {"authorization": "Bearer sk-demo"},
    )
    ctx.raw_body = body
    for stage in (authenticate, parse_body, resolve_model, check_limits):
        await stage(ctx, svc)
    return ctx


async def test_the_stage_reserves_and_reads_the_breakers_in_one_go(tmp_path: Path) -> None:
    svc = services(tmp_path)
    ctx = await limited(svc)
    held = ctx.limits_held
    assert held is not None and held.breakers is not None
    assert held.breakers["mock/mock-small"].state == "closed"  # the router needs no read
    headers = rate_headers(ctx)  # made with the acquire
    assert headers[b"x-ratelimit-limit-requests"] == b"2"
    assert headers[b"x-ratelimit-remaining-requests"] == b"1"
    await svc.aclose()


class LazyState(MemoryState):
    """Answers as Redis does: an allowed acquire's numbers are made when first read (and, as
    Redis, it prepares no plan: every acquire goes through `acquire`)."""

    def prepare(self, checks: Sequence[LimitCheck]) -> PreparedChecks | None:
        return None

    async def acquire(
        self,
        checks: Sequence[LimitCheck],
        now: float,
        breakers: Sequence[str] = (),
        *,
        token: str | None = None,
        hold_s: float | None = None,
        shape: object = None,
    ) -> AcquireResult:
        result = await super().acquire(checks, now, breakers, token=token, hold_s=hold_s)
        made = result.results
        result.parts = lambda: made
        return result


async def test_rate_headers_from_a_reply_still_to_parse_are_made_with_the_acquire(
    tmp_path: Path,
) -> None:
    svc = services(tmp_path)
    svc.limiter.state = LazyState()
    ctx = await limited(svc)
    headers = rate_headers(ctx)  # made with the acquire, not put off
    assert headers[b"x-ratelimit-limit-requests"] == b"2"
    assert headers[b"x-ratelimit-remaining-requests"] == b"1"
    await svc.aclose()


async def test_a_request_past_the_limit_is_refused_with_retry_after(tmp_path: Path) -> None:
    svc = services(tmp_path)
    await limited(svc)
    await limited(svc)
    with pytest.raises(RateLimited) as refused:
        await limited(svc)
    assert refused.value.status == 429 and int(refused.value.headers["retry-after"]) >= 1
    await svc.aclose()


@pytest.mark.parametrize("prepared", [True, False])
async def test_tpm_reserves_the_prompt_and_every_choice_s_max_tokens(
    tmp_path: Path, prepared: bool
) -> None:
    """The tokens reserved are `estimate_request`'s, on the prepared path (in process) as on
    `acquire`'s (as on Redis)."""
    svc = services(tmp_path, "[limits]\ntpm = 100000\nmax_concurrent = 5\n")
    if not prepared:
        svc.limiter.state = LazyState()
    body = (
        b'{"model": "m", "n": 3, "max_tokens": 7, "messages": [{"role": "user", "content": "hi"}]}'
    )
    ctx = await limited(svc, body)
    assert ctx.body is not None and ctx.model is not None
    estimate = estimate_request(ctx.body, "chat", ctx.model, ctx.prompt_estimate())
    assert estimate.completion_tokens == 21
    remaining = 100000 - estimate.prompt_tokens - 21
    assert rate_headers(ctx)[b"x-ratelimit-remaining-tokens"] == b"%d" % remaining
    await svc.aclose()
