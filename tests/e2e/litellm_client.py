"""The LiteLLM SDK as the e2e tests use it: imported offline, and pointed at a gateway the way
an app points it (only `api_base` and `api_key` change)."""

from __future__ import annotations

import os
from typing import Any

from tests.e2e.conftest import GATEWAY_KEY
from tests.procs import Proc

# LiteLLM fetches its model price map from GitHub when imported, unless told to use the copy it
# ships: the test machines are offline.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
import litellm  # noqa: E402

litellm.suppress_debug_info = True

# LiteLLM's two ways to a gateway: `openai/` (the openai SDK underneath) and `anthropic/` (its
# own HTTP client and SSE parser for `/v1/messages`).
ROUTES = ["openai", "anthropic"]


def call(gateway: Proc, route: str, model: str, key: str = GATEWAY_KEY) -> dict[str, Any]:
    """LiteLLM's arguments for `route`: the OpenAI route's base URL ends in /v1 as the openai
    SDK's does, the Anthropic route's does not, as Anthropic's; Anthropic wants max_tokens."""
    base = gateway.url + "/v1" if route == "openai" else gateway.url
    extra = {"max_tokens": 200} if route == "anthropic" else {}
    return {"model": f"{route}/{model}", "api_base": base, "api_key": key, **extra}


__all__ = ["ROUTES", "call", "litellm"]
