"""`arrived`: the context every endpoint starts a request with."""

from __future__ import annotations

import re
import time
from typing import cast

from starlette.types import Scope

from gateway.http.arrival import arrived
from gateway.pipeline.context import Endpoint, RequestContext
from gateway.runtime import Runtime

_ENDPOINT = Endpoint("/v1/chat/completions", "chat", "openai")
_RUNTIME = cast(Runtime, object())


def _scope(*headers: tuple[bytes, bytes]) -> Scope:
    return {"type": "http", "method": "POST", "headers": list(headers)}


def test_a_new_context_has_its_endpoint_runtime_headers_and_the_clocks_of_its_arrival() -> None:
    wall, mono = time.time(), time.monotonic()
    ctx = arrived(_ENDPOINT, _RUNTIME, _scope((b"x-gateway-tags", b"a=1")))
    assert ctx.endpoint is _ENDPOINT and ctx.runtime is _RUNTIME
    assert ctx.headers == {"x-gateway-tags": "a=1"}
    assert wall <= ctx.ts <= time.time()
    assert mono <= ctx.started <= time.monotonic()


def test_every_other_field_is_at_its_default() -> None:
    ctx = arrived(_ENDPOINT, _RUNTIME, _scope())
    fresh = RequestContext(_ENDPOINT, _RUNTIME, ctx.request_id, ctx.ts, ctx.started, {})
    assert ctx == fresh
    assert (ctx.key, ctx.trace, ctx.status, ctx.cache, ctx.raw_body) == (
        None,
        None,
        0,
        "bypass",
        b"",
    )


def test_request_ids_are_unique_and_shaped_as_before() -> None:
    ids = {arrived(_ENDPOINT, _RUNTIME, _scope()).request_id for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"req_[0-9a-f]{32}", id_) for id_ in ids)


def test_a_header_sent_on_several_lines_is_one_list() -> None:
    scope = _scope((b"x-gateway-tags", b"a=1"), (b"x-gateway-tags", b"b=2"), (b"x-other", b"1"))
    assert arrived(_ENDPOINT, _RUNTIME, scope).headers == {
        "x-gateway-tags": "a=1,b=2",
        "x-other": "1",
    }
