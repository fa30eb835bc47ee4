"""The model's reasoning sent back in the history as `reasoning_content`, to the chat upstreams
that want it (a provider's `reasoning_content`; by default DeepSeek's and Moonshot's APIs).

DeepSeek's thinking mode (deepseek-reasoner, the V3.2 and later models with thinking on)
refuses a tool loop whose assistant messages lack the field: "Missing `reasoning_content` field
in the assistant message at message index 2" (V4: "The `reasoning_content` in the thinking mode
must be passed back to the API."); so does Moonshot's Kimi (K2 thinking, K2.5 and later): "thinking
is enabled but reasoning_content is missing in assistant tool call message at index 7". Every
client that does not know the field meets
it: LangChain, an app writing its assistant messages itself, an Anthropic or a Responses client
through the gateway's translations. Each assistant message is sent the reasoning the client kept
(its own `reasoning_content`, or `reasoning` as OpenRouter names it; an Anthropic client's
`thinking` blocks and a Responses client's `reasoning` items, which the translations carry when
`wants_reasoning_content`), else an empty one, which the upstream takes.

Other upstreams are sent no such field: OpenAI refuses a message property it does not know.
"""

from __future__ import annotations

from gateway.config.provider_types import ProviderConfig
from gateway.json_types import JSON
from gateway.providers.base import base_url_host
from gateway.providers.chat_reasoning import reasoning_text

# The APIs that want it by default: DeepSeek's, and Moonshot's (international and Chinese).
REASONING_CONTENT_HOSTS = frozenset({"api.deepseek.com", "api.moonshot.ai", "api.moonshot.cn"})


def wants_reasoning_content(provider: ProviderConfig) -> bool:
    """Whether `provider`'s assistant messages carry `reasoning_content` (its setting; unset:
    whether it is DeepSeek's or Moonshot's own API)."""
    if provider.reasoning_content is not None:
        return provider.reasoning_content
    return provider.type == "openai" and base_url_host(provider.base_url) in REASONING_CONTENT_HOSTS


def with_reasoning_content(upstream: JSON) -> None:
    """Every assistant message of the chat body `upstream` given a `reasoning_content`: its
    own, its `reasoning` text, or "" (the list is replaced, not changed: the client's body
    holds it too)."""
    messages = upstream.get("messages")
    if not isinstance(messages, list):
        return
    filled: list[object] = []
    for message in messages:
        if (
            isinstance(message, dict)
            and message.get("role") == "assistant"
            and not isinstance(message.get("reasoning_content"), str)
        ):
            message = {**message, "reasoning_content": reasoning_text(message) or ""}
        filled.append(message)
    upstream["messages"] = filled
