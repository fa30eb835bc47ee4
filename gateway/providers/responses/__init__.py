"""The OpenAI Responses API (`POST /v1/responses`): the adapters and the translation, by pair.

- `adapters`: pass-through to upstreams that speak Responses, translation to chat completions
  for those that do not, and to Anthropic Messages through the chat translation;
- `stream_passthrough`: a Responses upstream's stream relayed as it is, its usage and final
  response read on the way;
- `requests_responses_to_chat`, `responses_chat_to_responses`, `streams_chat_to_responses`:
  the pure translations, each named for the direction its data travels;
- `objects` (the response object, items and usage) and `events` (the typed stream events),
  shared by the translations and the mock provider.
- `web_search`: chat's `web_search_options` as the hosted `web_search` tool, and its citations
  as chat's.
"""
