"""Legacy text completions (`POST /v1/completions`): the plan and its `text_completion` objects.

A prompt is answered as a chat request whose one user message is that prompt (so `echo` repeats
it and other names pick a sentence the same way); a list of prompts gets `n` choices per prompt,
in order. Prompt tokens are the tiktoken count of the prompt text (a token array counts its
length). No default `max_tokens`: the text is cut only when the request asks.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gateway import tokens
from gateway.mock_provider.behaviour import Plan, RequestError, plan_chat
from gateway.mock_provider.render import FINGERPRINT, Event, Frame, openai_usage

_CHAT_FIELDS = ("model", "n", "max_tokens", "stream", "stream_options")


def _prompts(prompt: Any) -> list[tuple[str, int]]:
    """(text, tokens) of each prompt: a string, strings, a token array, or token arrays."""
    if isinstance(prompt, str):
        return [(prompt, tokens.count_text(prompt))]
    if isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt):
        return [("", len(prompt))]
    if isinstance(prompt, list) and prompt:
        out = []
        for item in prompt:
            if isinstance(item, str):
                out.append((item, tokens.count_text(item)))
            elif isinstance(item, list) and all(isinstance(t, int) for t in item):
                out.append(("", len(item)))
            else:
                raise RequestError("prompt must be strings or token arrays", "prompt")
        return out
    raise RequestError("prompt must be a string, strings, or token arrays", "prompt")


def plan_completion(body: Any) -> Plan:
    """Plan the answer to a `POST /v1/completions` body."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    prompts = _prompts(body.get("prompt"))
    chat = {name: body[name] for name in _CHAT_FIELDS if name in body}
    plans = [
        plan_chat({**chat, "messages": [{"role": "user", "content": text}]}) for text, _ in prompts
    ]
    choices = tuple(choice for plan in plans for choice in plan.choices)
    prompt_tokens = sum(count for _, count in prompts)
    return dataclasses.replace(plans[0], choices=choices, prompt_tokens=prompt_tokens)


def text_completion(plan: Plan, response_id: str, created: int) -> dict[str, Any]:
    """The `text_completion` object."""
    return {
        "id": response_id,
        "object": "text_completion",
        "created": created,
        "model": plan.model,
        "choices": [
            {"text": c.text or "", "index": i, "logprobs": None, "finish_reason": c.finish}
            for i, c in enumerate(plan.choices)
        ],
        "usage": openai_usage(plan.prompt_tokens, plan.completion_tokens),
        "system_fingerprint": FINGERPRINT,
    }


def text_completion_frames(plan: Plan, response_id: str, created: int) -> list[Frame]:
    """The stream's `text_completion` chunks in frames, one per word (the transport adds
    `data: [DONE]`); the last chunk of each choice has empty text and its `finish_reason`."""
    base: dict[str, Any] = {
        "id": response_id,
        "object": "text_completion",
        "created": created,
        "model": plan.model,
        "system_fingerprint": FINGERPRINT,
    }
    if plan.include_usage:
        base["usage"] = None

    def chunk(index: int, text: str, finish: str | None = None) -> Event:
        choice = {"text": text, "index": index, "logprobs": None, "finish_reason": finish}
        return {**base, "choices": [choice]}

    frames: list[Frame] = []
    for index, choice in enumerate(plan.choices):
        frames += [[chunk(index, piece)] for piece in choice.pieces]
        closing = chunk(index, "", choice.finish)
        if frames and frames[-1][0]["choices"][0]["index"] == index:
            frames[-1].append(closing)
        else:
            frames.append([closing])
    if plan.include_usage:
        usage = openai_usage(plan.prompt_tokens, plan.completion_tokens)
        frames[-1].append({**base, "choices": [], "usage": usage})
    return frames
