"""A conversation's compaction for deployments without one of their own (chat completions
only, Anthropic, a Responses server other than OpenAI's): the gateway asks the model for a
summary and hands it back as the `compaction` item OpenAI's compaction returns.

Codex compacts in two ways, and the openai SDK has the first:

- `POST /v1/responses/compact`: the answer, `object: "response.compaction"`, is the input's
  user messages, then one `compaction` item (`compaction_answer`);
- a `/v1/responses` request whose input ends with a `compaction_trigger` item: the response's
  output is that one `compaction` item and nothing else (Codex fails "expected exactly one
  compaction output item" otherwise) (`compacted_response`; streamed:
  `streams_chat_to_compaction`).

Either way the upstream gets the conversation (`summary_request`): the input without the
trigger, then a user message asking for the summary (`SUMMARY_REQUEST`), with the tools kept
(Claude refuses a history of tool calls without them) and `tool_choice` `none`. So does an
upstream with the Responses API that does not compact (vLLM, Ollama and others: a provider's
`compaction = "gateway"`, its default but for OpenAI's API and Azure), on its `/responses`
(`streams_responses_to_compaction`). The
`compaction` item's `encrypted_content` is `llm-gateway:compaction:v1:` + the summary in
base64: not a secret, the client's own conversation. Sent back in a later input, it is read as
a user message holding the summary (`SUMMARY_HEADING`): by the chat translation for these
deployments, by `readable_compactions` for a deployment with the Responses API (which would
refuse state it did not make). OpenAI's own `compaction` item (its encrypted state) is readable
by OpenAI only: a deployment without the Responses API goes without it (`compaction_summary`
is None); the user messages the client keeps beside it still go.
"""

from __future__ import annotations

import base64
import binascii

from gateway.json_types import JSON
from gateway.providers.responses.objects import new_id, output_text, user_message_item

TRIGGER = "compaction_trigger"
_MARK = "llm-gateway:compaction:v1:"
SUMMARY_REQUEST = (
    "The conversation is about to be compacted: write the summary that will replace it. "
    "Whoever continues from it sees nothing else, so give them what they need to go on: the "
    "user's goal and constraints, what was decided and why, what has been done (files, "
    "commands, results), what is left to do and the next step, and every name, path, "
    "identifier and value the work depends on. Answer with the summary only."
)
SUMMARY_HEADING = "The conversation so far, as summarized when it was compacted:\n\n"


def compaction_requested(body: JSON) -> bool:
    """Whether `body`'s input ends with a `compaction_trigger` item (OpenAI's rule: the last)."""
    items = body.get("input")
    if not isinstance(items, list) or not items:
        return False
    last = items[-1]
    return isinstance(last, dict) and last.get("type") == TRIGGER


def summary_request(body: JSON) -> JSON:
    """The request asking the model for `body`'s conversation as a summary: the input without
    the trigger, then `SUMMARY_REQUEST`; no tool call, no structured output."""
    kept = [
        item
        for item in _input_items(body)
        if not (isinstance(item, dict) and item.get("type") == TRIGGER)
    ]
    request = {k: v for k, v in body.items() if k not in ("text", "tool_choice")}
    request["input"] = [*kept, user_message_item(SUMMARY_REQUEST)]
    if body.get("tools"):
        request["tool_choice"] = "none"
    return request


def compaction_item(summary: str) -> JSON:
    """The `compaction` item standing for a conversation `summary` stands for."""
    return {"id": new_id("cmp"), "type": "compaction", "encrypted_content": _encoded(summary)}


def _encoded(summary: str) -> str:
    return _MARK + base64.b64encode(summary.encode()).decode()


def compaction_summary(item: JSON) -> str | None:
    """The summary a gateway's `compaction` item holds (None: another's, OpenAI's own)."""
    content = item.get("encrypted_content")
    if not isinstance(content, str) or not content.startswith(_MARK):
        return None
    try:
        return base64.b64decode(content[len(_MARK) :], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


class SummaryView:
    """A gateway `compaction` item's summary as a text to read and replace (the guardrails'
    slot `(view, "summary")`): reading decodes it, assigning encodes it back into the item."""

    def __init__(self, item: JSON) -> None:
        self.item = item

    def __getitem__(self, key: str) -> str:
        return compaction_summary(self.item) or ""

    def __setitem__(self, key: str, summary: str) -> None:
        self.item["encrypted_content"] = _encoded(summary)


def summary_view(item: object) -> SummaryView | None:
    """The view of `item`'s summary when it is a gateway `compaction` item, else None."""
    return SummaryView(item) if isinstance(item, dict) and _made_here(item) else None


def summary_text(summary: str) -> str:
    """The summary as the user message that stands for the compacted conversation."""
    return SUMMARY_HEADING + summary


def readable_compactions(body: JSON) -> JSON:
    """`body` with each gateway `compaction` item of its input as the user message it stands
    for (`body` itself when it has none)."""
    items = body.get("input")
    if not isinstance(items, list) or not any(_made_here(item) for item in items):
        return body
    readable = [
        user_message_item(summary_text(compaction_summary(item) or ""))
        if _made_here(item)
        else item
        for item in items
    ]
    return {**body, "input": readable}


def _input_items(body: JSON) -> list[object]:
    items = body.get("input")
    if isinstance(items, str):
        return [user_message_item(items)]
    return list(items) if isinstance(items, list) else []


def _made_here(item: object) -> bool:
    return (
        isinstance(item, dict)
        and item.get("type") == "compaction"
        and compaction_summary(item) is not None
    )


def compacted_response(response: JSON) -> JSON:
    """The translated `response` to a `compaction_trigger` request: its output, the summary,
    becomes the one `compaction` item."""
    return {**response, "output": [compaction_item(output_text(response))]}


def compacted(how: str, request: JSON, response: JSON) -> JSON:
    """The client's answer from the `response` to `summary_request(request)`: of a trigger
    (`how` "trigger"), or of the compact endpoint ("endpoint")."""
    if how == "trigger":
        return compacted_response(response)
    return compaction_answer(request, response)


def compaction_answer(request: JSON, response: JSON) -> JSON:
    """The answer to `POST /v1/responses/compact`, from the translated `response` to its
    `summary_request`: the user messages of `request`'s input, then the `compaction` item."""
    users = [
        user_message_item(item.get("content"))
        for item in _input_items(request)
        if isinstance(item, dict)
        and item.get("type", "message") == "message"
        and item.get("role") == "user"
    ]
    return {
        "id": new_id("cmp"),
        "object": "response.compaction",
        "created_at": response.get("created_at"),
        "output": [*users, compaction_item(output_text(response))],
        "usage": response.get("usage"),
    }
