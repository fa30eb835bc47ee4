"""Pure translation between the OpenAI Chat Completions and Anthropic Messages wire formats.

The one import the adapters use. The work lives in sibling modules, one concept each:

- `anthropic_requests`: OpenAI request -> Anthropic request (`TranslationError` when it cannot
  be said), and `anthropic_client_requests`: the reverse;
- `anthropic_responses`: JSON responses, usage, stop reasons and error bodies, both ways;
- `anthropic_streams`: stream events <-> chunks, both ways (`StreamTranslationError`).

Everything here works on parsed JSON (dicts) and does no I/O.
"""

from __future__ import annotations

from gateway.providers.anthropic_client_requests import anthropic_request_to_openai
from gateway.providers.anthropic_requests import TranslationError, openai_request_to_anthropic
from gateway.providers.anthropic_responses import (
    anthropic_error_to_openai,
    anthropic_response_to_openai,
    openai_error_to_anthropic,
    openai_response_to_anthropic,
)
from gateway.providers.anthropic_streams import (
    AnthropicToOpenAIStream,
    OpenAIToAnthropicStream,
    StreamTranslationError,
)

__all__ = [
    "AnthropicToOpenAIStream",
    "OpenAIToAnthropicStream",
    "StreamTranslationError",
    "TranslationError",
    "anthropic_error_to_openai",
    "anthropic_request_to_openai",
    "anthropic_response_to_openai",
    "openai_error_to_anthropic",
    "openai_request_to_anthropic",
    "openai_response_to_anthropic",
]
