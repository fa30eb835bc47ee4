"""Errors kept past the `except` that caught them, without their tracebacks."""

from __future__ import annotations


def forget_tracebacks(error: BaseException | None) -> None:
    """Drop the tracebacks of `error` and the exceptions it was raised from, for an error kept
    past the `except` that caught it. Its traceback keeps the frames it passed through, and a
    frame that keeps the error (a local, or the request's context holding it) makes a cycle only
    the cyclic collector frees, which runs rarely in the gateway (app.py, YOUNG_GC_THRESHOLD):
    every refused or failed request left one holding its context, body and all, and a key
    refused with 429 on 10 MB prompts grew the gateway by 220 MB a second. Nothing reads a
    kept error's traceback (a bug's is logged where it is caught)."""
    pending = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        pending += (current.__cause__, current.__context__)
