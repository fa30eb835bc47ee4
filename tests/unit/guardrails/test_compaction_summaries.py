"""A gateway `compaction` item's summary is text the guardrails read: in a request's input, in
the answers of a compaction (the `/v1/responses/compact` object, a response, its stream), and
where `restore` puts values back. OpenAI's own item is encrypted and left alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from gateway.config.types import GuardrailConfig
from gateway.guardrails.base import Placeholders
from gateway.guardrails.bodies import input_groups, output_groups
from gateway.guardrails.compiled import Decision, GuardrailSet
from gateway.guardrails.stream import GuardedConverter
from gateway.pipeline.guard import _restore
from gateway.providers.responses.compaction import compaction_item, compaction_summary
from gateway.providers.responses.events import ResponseEvents, encode
from gateway.providers.responses.objects import user_message_item
from gateway.sse import SSEDecoder
from tests.unit.guardrails.test_stream import Passthrough

EMAIL = "jane.roe@example.org"
OPENAI_ITEM = {"type": "compaction", "encrypted_content": "gAAAAB" + "q" * 40}


def test_the_input_reads_a_gateway_summary_and_writes_it_back_encoded() -> None:
    item = compaction_item(f"mail {EMAIL}")
    body: dict[str, Any] = {"input": [dict(OPENAI_ITEM), item, user_message_item("go on")]}
    groups = input_groups(body, "responses")
    assert [[c[k] for c, k in g] for g in groups] == [[f"mail {EMAIL}"], ["go on"]]
    container, key = groups[0][0]
    container[key] = "mail <EMAIL_ADDRESS>"
    assert compaction_summary(item) == "mail <EMAIL_ADDRESS>"
    assert item["encrypted_content"].startswith("llm-gateway:compaction:v1:")
    assert body["input"][0] == OPENAI_ITEM


def test_the_compact_endpoints_answer_is_read_summary_and_messages() -> None:
    answer = {
        "object": "response.compaction",
        "output": [user_message_item("hello"), compaction_item("the summary"), OPENAI_ITEM],
    }
    assert [c[k] for g in output_groups(answer, "openai") for c, k in g] == [
        "hello",
        "the summary",
    ]


def test_restore_puts_values_back_into_a_summary() -> None:
    placeholders = Placeholders()
    token = placeholders.placeholder("EMAIL_ADDRESS", EMAIL)
    item = compaction_item(f"The user mails {token}.")
    data: dict[str, Any] = {"object": "response", "output": [item]}
    assert _restore(data, placeholders)
    assert compaction_summary(data["output"][0]) == f"The user mails {EMAIL}."


@pytest.fixture
def redact(compile_set: Callable[..., GuardrailSet]) -> GuardrailSet:
    return compile_set(
        GuardrailConfig(name="pii", type="pii", applies_to="output", action="redact")
    )


def test_a_streamed_compaction_is_redacted_in_every_event_that_carries_it(
    redact: GuardrailSet,
) -> None:
    events = ResponseEvents({"model": "m"}, "resp_1", "m", created_at=1)
    produced = events.start() + events.whole_item(compaction_item(f"Mail {EMAIL} daily."))
    produced += events.complete({"input_tokens": 1, "output_tokens": 2})
    hits: list[Decision] = []
    converter = GuardedConverter(Passthrough(), "responses", redact, None, hits.append)
    out: list[bytes] = []
    for event in produced:
        out += converter.feed(encode(event))
    out += converter.finish()
    sent = [orjson.loads(e.data) for e in SSEDecoder().feed(b"".join(out))]
    items = [e["item"] for e in sent if "item" in e]
    items += [i for e in sent if "response" in e for i in e["response"].get("output") or ()]
    summaries = [compaction_summary(i) for i in items if i.get("type") == "compaction"]
    assert summaries == ["Mail <EMAIL_ADDRESS> daily."] * 3  # added, done, completed
    assert sent[-1]["type"] == "response.completed"
    assert hits and hits[0].hits[0][1:] == ("redact", ["EMAIL_ADDRESS"])
