"""The built-in fake LLM provider (`gateway mock-provider`, and `type = "mock"` in process).

- `behaviour`: what a request gets (text, tool call, token counts), pure; `conversation`: what
  it reads of the messages (texts, tool results);
  `render`: that plan in the OpenAI and Anthropic wire formats; `embeddings`, `schema`: helpers;
  `claude_refusals`: what the newer Claude models refuse (`thinking_binding`: their check of
  the thinking blocks sent back); `responses`: the Responses API's
  plan, answer and store, `responses_reasoning`: its reasoning models' encrypted reasoning.
- `handler`: `MockHandler`, the transport-independent core, with fault injection and stats.
- `server`: the ASGI app and `run()` for uvicorn; `inprocess`: an `UpstreamClient` without sockets.
"""
