"""A record of the request log as `gateway replay` reads it, for the runner's tests."""

from __future__ import annotations

from gateway.json_types import JSON


def record(i: int, request: JSON, response: JSON | None, **extra: object) -> JSON:
    """Request `i`, logged as answered by `mock/old`; `extra` replaces or adds fields."""
    return {
        "id": f"req_{i}",
        "ts": 1.0,
        "model": "old",
        "deployment": "mock/old",
        "endpoint": "/v1/chat/completions",
        "status": 200,
        "latency_ms": 100.0,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cost_usd": 0.00002,
        "request": request,
        "response": response,
    } | extra
