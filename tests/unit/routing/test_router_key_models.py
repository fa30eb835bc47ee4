"""Fallbacks respect the key's `[[keys]] models`: a model the key may not use is skipped, never
called, whichever fallback list leads to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import GatewayError
from gateway.routing.exchange import Exchange, RouteRequest
from tests.unit.routing.router_harness import Harness, answer, tried


def _request(h: Harness, model: str, models: tuple[str, ...], **kwargs: int) -> RouteRequest:
    request = h.request(model, **kwargs)
    request.models = models  # the key's `[[keys]] models`
    return request


async def _route(h: Harness, model: str, models: tuple[str, ...]) -> Exchange:
    exchange = Exchange()
    await h.router.route(_request(h, model, models), exchange)
    return exchange


async def _fail(
    h: Harness, model: str, models: tuple[str, ...], **kwargs: int
) -> tuple[GatewayError, Exchange]:
    exchange = Exchange()
    with pytest.raises(GatewayError) as caught:
        await h.router.route(_request(h, model, models, **kwargs), exchange)
    return caught.value, exchange


async def test_a_fallback_the_key_may_not_use_is_skipped_for_the_next_one(tmp_path: Path) -> None:
    h = Harness(tmp_path, answer)  # "cheap" fails; fallbacks = ["pricey", "fine"]
    exchange = await _route(h, "cheap", ("cheap", "fine"))
    assert "ok-pricey" not in h.sent() and h.sent()[-1] == "ok-fine"
    assert exchange.fallback_used and exchange.fallbacks_skipped == ("pricey",)
    assert {a.model for a in exchange.attempts} == {"cheap", "fine"}


async def test_every_fallback_skipped_answers_the_last_deployments_error(tmp_path: Path) -> None:
    h = Harness(tmp_path, answer)
    error, exchange = await _fail(h, "cheap", ("cheap",))
    assert error.status == 502  # the 500 of e500-cheap, as without fallbacks
    assert set(h.sent()) == {"e500-cheap"}
    assert not exchange.fallback_used and exchange.fallbacks_skipped == ("pricey", "fine")
    assert {deployment for deployment, _, _ in tried(exchange)} == {"up/e500-cheap"}


async def test_a_content_policy_fallback_the_key_may_not_use_is_skipped(tmp_path: Path) -> None:
    h = Harness(tmp_path, answer)  # "filtered": content_policy_fallbacks = ["fine"]
    error, exchange = await _fail(h, "filtered", ("filtered",))
    assert error.status == 400 and error.code == "content_policy_violation"
    assert h.sent() == ["policy-x"] and exchange.fallbacks_skipped == ("fine",)


async def test_a_context_window_fallback_the_key_may_not_use_is_skipped(tmp_path: Path) -> None:
    h = Harness(tmp_path, answer)  # "small": context_window = 10, context_window_fallbacks
    error, exchange = await _fail(h, "small", ("small",), prompt_tokens=50, body_bytes=200)
    assert error.status == 400 and error.code == "context_length_exceeded"
    assert h.sent() == [] and exchange.fallbacks_skipped == ("fine",)


async def test_a_key_allowed_the_fallback_still_falls_back(tmp_path: Path) -> None:
    h = Harness(tmp_path, answer)
    exchange = await _route(h, "broken", ("broken", "fine"))
    assert h.sent()[-1] == "ok-fine" and exchange.fallbacks_skipped == ()
