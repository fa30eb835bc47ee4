"""One request's path through the gateway, in the order it runs.

1. `gateway.http.endpoint.ProxyEndpoint` makes a `context.RequestContext`, runs the stages
   that need only the head (`stages.HEAD_STAGES`: `authenticate`), then reads the body.
2. `stages.STAGES`, in order: `authenticate` (before the body), `parse_body`,
   `attribution.attribute` (end user, tags, session), `resolve_model`,
   `conversations.continue_conversation` (Responses API follow-ups), `prompt.use_prompt` (a
   registered prompt rendered in), `check_limits` (reserve the limits), `guard.guard_input`,
   `cache.cache_lookup`, `thinking_store.restore_thinking` (chat: Claude's thinking blocks
   kept for the tool calls the request returns results to), `route.route_and_call` (the
   router's retries and fallbacks fill `context.exchange`), `guard.guard_output`,
   `thinking_store.remember_thinking` (chat: an answer's thinking blocks kept),
   `conversations.remember_answer` (Responses API ids, before the client has the answer).
3. `gateway.http.responses` writes the answer: JSON, a relayed stream, a cached stream, or
   an error in the endpoint's shape.
4. `finish.finish_request`, whatever happened: settle the limits, queue the record
   (`record.RecordQueue`), store a cacheable answer.

`services.Services` holds what lives as long as the process: the edges (upstream clients,
state, record sink, metrics, clock, randomness) and the router and limiter built from them.
Stages import the edges; no edge imports this package.
"""
