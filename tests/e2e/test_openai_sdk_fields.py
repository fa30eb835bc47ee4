"""What an `openai` SDK call sends through the gateway to an OpenAI-compatible upstream: every
body field as the client sent it (the newer parameters and `extra_body` alike) with only
`model` changed; the client's query string (`extra_query`) and its own headers stay at the
gateway (docs/operations.md, "What clients see, and what goes upstream")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.e2e.compat_upstream import CompatUpstream, running_compat_upstream
from tests.e2e.conftest import GATEWAY_KEY
from tests.procs import Proc, start_gateway

# The chat parameters the SDK knows (passed as keyword arguments), as they go on the wire.
FIELDS: dict[str, Any] = {
    "messages": [{"role": "user", "content": "hi"}],
    "max_completion_tokens": 10,
    "parallel_tool_calls": False,
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "response_format": {
        "type": "json_schema",
        "json_schema": {
            "name": "answer",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "required": ["a"],
                "additionalProperties": False,
            },
        },
    },
    "service_tier": "auto",
    "store": True,
    "metadata": {"app": "tests"},
    "prediction": {"type": "content", "content": "hello"},
    "modalities": ["text"],
    "reasoning_effort": "low",
    "logit_bias": {"50256": -100},
    "user": "end-user-1",
    "seed": 7,
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, CompatUpstream]]:
    root = tmp_path_factory.mktemp("fields")
    with running_compat_upstream() as upstream:
        (root / "config.toml").write_text(
            f'[logging]\npath = "{root / "requests.jsonl"}"\n\n'
            f'[[providers]]\nname = "compat"\ntype = "openai"\nbase_url = "{upstream.url}/v1"\n\n'
            '[[models]]\nname = "public"\n[[models.deployments]]\nprovider = "compat"\n'
            'model = "served"\n\n[[keys]]\nid = "k"\nkey_env = "GW_KEY"\n'
        )
        gateway = start_gateway(root / "config.toml", env={"GW_KEY": GATEWAY_KEY})
        try:
            yield gateway, upstream
        finally:
            gateway.stop()


def test_every_field_reaches_the_upstream_as_sent_with_only_model_changed(
    served: tuple[Proc, CompatUpstream],
) -> None:
    gateway, upstream = served
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0) as c:
        answer = c.chat.completions.create(
            model="public",
            extra_body={"guided_json": {"type": "object"}, "top_k": 5},
            extra_query={"api-version": "2024-10-21"},
            extra_headers={
                "idempotency-key": "idem-1",
                "openai-organization": "org-client",
                "x-stainless-custom": "1",
            },
            **FIELDS,
        )
    assert answer.choices[0].message.content == "Hello there"
    received = upstream.received[-1]
    assert received.body == {
        **FIELDS,
        "model": "served",
        "guided_json": {"type": "object"},
        "top_k": 5,
    }
    # The route is the path alone: the client's query string neither breaks it nor goes on.
    assert (received.path, received.query) == ("/v1/chat/completions", "")
    kept = {"idempotency-key", "openai-organization", "user-agent"}
    assert not kept & set(received.headers)
    assert not [name for name in received.headers if name.startswith("x-stainless")]
