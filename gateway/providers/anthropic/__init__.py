"""Anthropic Messages API upstreams and clients: the adapters and the translation, by pair.

The adapters do the byte and header work; the translation modules are pure functions (or small
state machines) over parsed JSON, each named for the direction its data travels:

- `adapters`: the `Adapter`s to Anthropic upstreams (Anthropic client passed through, OpenAI
  client translated) and the stream converters that frame their SSE; `client_to_openai`: the
  Anthropic client -> OpenAI-compatible upstream `Adapter`, and its stream converter;
- `count_tokens`: the `Adapter` of `/v1/messages/count_tokens` to an Anthropic upstream;
- `requests_openai_to_anthropic`, `requests_anthropic_to_openai`: request bodies;
- `responses_anthropic_to_openai`, `responses_openai_to_anthropic`: JSON responses;
- `streams_anthropic_to_openai`, `streams_openai_to_anthropic`: stream events <-> chunks;
- `headers_anthropic_to_openai`: rate-limit response headers;
- `structured_output`: an OpenAI client's JSON-schema response format as the tool Claude is
  forced to call, or as Claude's JSON output format for the models that refuse forced tools
  (the request, response and stream translations to Anthropic use it);
- `sampling`: which of `temperature`, `top_p` and `top_k` a Claude deployment takes (every
  adapter to an Anthropic upstream leaves out the others); `thinking`: manual thinking as
  adaptive for the models that take only that, thinking off in each model's word; `effort`: an
  OpenAI client's `reasoning_effort` as Claude's effort level, `reasoning_thinking`: as
  thinking on the Claude 4 models; `forced_tools`: a forced
  `tool_choice` as `auto` for the models that refuse it; all four read `claude_versions`;
- `client_tools`: Anthropic's client tools defined by type alone (bash, text editor, memory) as
  OpenAI function tools;
- `thinking_blocks`: an OpenAI-format upstream's reasoning as `thinking` blocks for an Anthropic
  client that asked to see it, and those blocks kept out of a request to Claude;
  `thinking_binding`: thinking blocks sent back to the models that bind them to their
  conversation, dropped rather than refused when that conversation changed;
  `carried_thinking`: Claude's thinking blocks carried to an OpenAI client and back (sealed
  `reasoning_details` entries), so its tool loop goes on thinking;
- `system_turns`: a mid-conversation system message as a user turn, for the models before
  Claude Opus 4.8 and for OpenAI-format upstreams; `turn_controls`: its per-turn controls
  (`output_config`, `clear_at`) as a model without them would read them;
- `schema_patterns`: the JSON schema `pattern`s OpenAI's validator refuses, left out of the
  schemas an Anthropic client sends to an OpenAI-format upstream;
- `web_search`: the web search tool as chat's `web_search_options` (OpenAI's search, through
  the Responses API), and the searches and citations of the answer as Claude's blocks;
- `paused_turns`, `paused_streams`: a turn Claude paused in its server tools
  (`pause_turn`), continued by the gateway for chat and Responses clients: what each
  continuation sends, and the answers (JSON, streamed) of one turn joined as one;
- `context_edits`: Claude's context editing (`clear_tool_uses`), done by the gateway for an
  Anthropic client of an OpenAI-format deployment;
- `prompt_cache`: an OpenAI client's `prompt_cache_key` / `prompt_cache_retention` as Claude's
  automatic prompt caching; `cache_scope`: a breakpoint's `scope` left out where its beta is
  not sent;
- shared by both directions: `tool_calls` (one tool call in each format), `usage`,
  `stop_reasons`, and `errors` (the translation exceptions and error bodies both ways).
"""
