"""Where the CPU of key limits goes inside a request: limits_cost.py's run, with the pieces of
the limits path timed where they run (in a loaded gateway, whose caches other requests keep
cold), not in a tight loop.

    python loadtests/limits_stages.py [--rounds 3] [--requests 3000] [--concurrency 64]
                                      [--variants limits,limits+redis]

Runs `limits_cost.py` (same options: the real app in process, one event loop, `default` and
`limits`, interleaved rounds) with a timer (`time.perf_counter`) around:

    stage NAME       each pipeline stage that runs without awaiting on the memory state
                     (with Redis, `check_limits` awaits the round trip, and its time then
                     includes whatever other requests ran meanwhile)
    finish           `finish_request` (settlement of what is left, the record queued)
    last-byte send   the response's `send` as `free_slots_before_last_byte` wraps it (the
                     settlement before the last byte, and the send itself)
    plain send       the same `send` unwrapped (the default variant's, and the baseline of
                     the row above)
    acquire          `Limiter.acquire_prepared` (the memory state's prepared path; on Redis it
                     finds none, and the round trip is in the `check_limits` stage)
    headers          the rate headers' formatting (`rate_header_lines`)
    prompt estimate  the tiktoken estimate (`RequestContext.prompt_estimate`)
    estimate         `completion_tokens` and `priced_estimate` (max_tokens, the cost bound)

and prints, per variant, each piece's time per request (its total over the requests served).
Every timed piece carries one timer (~0.2-0.4 us); compare rows and variants, not the sum with
limits_cost.py's CPU per request. Figures: docs/performance.md.
"""

from __future__ import annotations

import collections
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import limits_cost

import gateway.app
import gateway.http.endpoint
import gateway.limits.estimate
import gateway.pipeline.finish
import gateway.pipeline.stages
from gateway.limits.held import Held
from gateway.limits.limiter import Limiter
from gateway.limits.prepared_plans import PreparedHeld
from gateway.pipeline.context import RequestContext

# The stages that never await on the memory state (the others wait on the upstream).
_TIMED_STAGES = frozenset(
    {
        "authenticate",
        "parse_body",
        "attribute",
        "resolve_model",
        "continue_conversation",
        "use_prompt",
        "check_limits",
    }
)

# (variant, piece) -> [seconds, calls]; a variant is known by its app's services.
_totals: dict[tuple[str, str], list[float]] = collections.defaultdict(lambda: [0.0, 0])
_variant_of: dict[int, str] = {}  # id(services) or id(limiter) -> variant name
_requests: collections.Counter[str] = collections.Counter()
_current = ["?"]  # the variant whose check_limits runs (its inner pieces are timed under it)


def _add(variant: str, piece: str, began: float) -> None:
    total = _totals[(variant, piece)]
    total[0] += time.perf_counter() - began
    total[1] += 1


def _timed_method(owner: type, name: str, piece: str) -> None:
    """Time `owner.name` under the variant whose limits stage is running."""
    original = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            _add(_current[0], piece, began)

    setattr(owner, name, timed)


def _timed_stage(stage: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    name = stage.__name__

    async def timed(ctx: RequestContext, services: Any) -> None:
        variant = _variant_of.get(id(services), "?")
        if name == "authenticate":
            _requests[variant] += 1
        _current[0] = variant
        began = time.perf_counter()
        try:
            await stage(ctx, services)
        finally:
            _add(variant, f"stage {name}", began)

    timed.__name__ = name
    return timed


def _install() -> None:
    stages_for = gateway.pipeline.stages.stages_for

    def timed_stages_for(kind: str) -> tuple[Any, ...]:
        return tuple(
            _timed_stage(s) if s.__name__ in _TIMED_STAGES else s for s in stages_for(kind)
        )

    vars(gateway.app)["stages_for"] = timed_stages_for  # the app calls it by that name

    # limits_cost.run writes each variant's config (in a folder named for it), then makes its
    # app: the folder's name is the variant's.
    write_config, create_app = limits_cost.write_config, gateway.app.create_app
    written = ["?"]

    def noting_write_config(directory: Path, *args: Any) -> Path:
        written[0] = directory.name.replace("limits-redis", "limits+redis")
        return write_config(directory, *args)

    def named_create_app(config: Any, **kwargs: Any) -> Any:
        app = create_app(config, **kwargs)
        _variant_of[id(app._services)] = written[0]  # noqa: SLF001 - a measurement harness
        return app

    vars(limits_cost)["write_config"] = noting_write_config
    vars(limits_cost)["create_app"] = named_create_app

    endpoint = gateway.http.endpoint
    finish_request = gateway.pipeline.finish.finish_request
    free_slots_before_last_byte = gateway.pipeline.finish.free_slots_before_last_byte

    def timed_finish(ctx: RequestContext, services: Any) -> None:
        began = time.perf_counter()
        finish_request(ctx, services)
        _add(_variant_of.get(id(services), "?"), "finish", began)

    def timed_send(ctx: RequestContext, services: Any, send: Any) -> Any:
        variant = _variant_of.get(id(services), "?")
        wrapped = free_slots_before_last_byte(ctx, services, send)
        piece = "plain send" if wrapped is send else "last-byte send"

        def send_timed(message: Any) -> Any:
            began = time.perf_counter()
            try:
                return wrapped(message)
            finally:
                _add(variant, piece, began)

        return send_timed

    # The endpoint calls them by the names it imported: replaced there.
    vars(endpoint)["finish_request"] = timed_finish
    vars(endpoint)["free_slots_before_last_byte"] = timed_send

    _timed_method(Limiter, "acquire_prepared", "acquire")
    _timed_method(PreparedHeld, "rate_header_lines", "headers")
    _timed_method(Held, "rate_header_lines", "headers")
    _timed_method(RequestContext, "prompt_estimate", "prompt estimate")
    for name in ("completion_tokens", "priced_estimate"):  # `check_limits` calls both
        vars(gateway.pipeline.stages)[name] = _timed(
            vars(gateway.pipeline.stages)[name], "estimate"
        )


def _timed(function: Callable[..., Any], piece: str) -> Callable[..., Any]:
    """`function`, its time added to `piece` of the current variant."""

    def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _add(_current[0], piece, began)

    return timed


def report() -> None:
    variants = sorted(_requests, key=lambda v: (v != "default", v))
    pieces = sorted({piece for _, piece in _totals})
    print("\nus per request where each piece runs (timer included; all requests, warm-up too):")
    print(f"  {'piece':<30}" + "".join(f"{v:>14}" for v in variants))
    for piece in pieces:
        cells = []
        for variant in variants:
            seconds, _ = _totals.get((variant, piece), (0.0, 0))
            cells.append(f"{seconds / max(1, _requests[variant]) * 1e6:14.2f}")
        print(f"  {piece:<30}" + "".join(cells))


def main() -> int:
    _install()
    status = limits_cost.main()
    report()
    return status


if __name__ == "__main__":
    sys.exit(main())
