"""PII guardrails end to end: values restored after the provider saw placeholders (JSON,
streams, the Anthropic API), an email split across stream chunks redacted, blocks before
and during a stream, and redacted tool-call arguments that stay valid JSON. The `guarded`
gateway is in conftest.py, its setup in guarded_gateway.py."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai

from tests.conditions import wait_until
from tests.e2e.guarded_gateway import (
    KEYS,
    MESSAGE,
    SECRETS,
    auth,
    chat_request,
    upstream_requests,
    upstream_saw,
)
from tests.e2e.records import wait_for_record
from tests.procs import Proc


def _stream_text(response: httpx.Response) -> tuple[str, list[bytes]]:
    events = [line for line in response.iter_lines() if line.startswith("data: ")]
    text = ""
    for line in events:
        if line != "data: [DONE]":
            for choice in json.loads(line[6:]).get("choices", []):
                text += choice["delta"].get("content") or ""
    return text, [e.encode() for e in events]


def streamed_arguments(guarded: Proc, body: dict[str, Any], headers: dict[str, str]) -> str:
    """The tool call arguments of a streamed chat answer, joined."""
    arguments = ""
    with httpx.stream(
        "POST", guarded.url + "/v1/chat/completions", json=body, headers=headers
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: {"):
                for choice in json.loads(line[6:])["choices"]:
                    for call in choice["delta"].get("tool_calls") or ():
                        arguments += call["function"].get("arguments") or ""
    return arguments


def streamed_tool_input(guarded: Proc, body: dict[str, Any], key: str) -> str:
    """The `input_json_delta` pieces of a streamed Anthropic answer, joined."""
    partial = ""
    with httpx.stream(
        "POST", guarded.url + "/v1/messages", json=body, headers={"x-api-key": key}
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: {"):
                event = json.loads(line[6:])
                if event.get("delta", {}).get("type") == "input_json_delta":
                    partial += event["delta"]["partial_json"]
    return partial


def test_restore_hides_values_from_the_provider_and_gives_them_back(
    guarded: Proc, mock_upstream: Proc
) -> None:
    response = httpx.post(
        guarded.url + "/v1/chat/completions", json=chat_request(MESSAGE), headers=auth("restore")
    )
    assert response.status_code == 200, response.text
    seen = upstream_saw(mock_upstream)
    assert not [s for s in SECRETS if s in seen], seen
    assert "<EMAIL_ADDRESS_1>" in seen and "<CREDIT_CARD_1>" in seen
    assert response.json()["choices"][0]["message"]["content"] == MESSAGE
    assert guarded.log_path is not None
    record = wait_for_record(guarded.log_path, response.headers["x-request-id"])
    assert record["guardrails"] == [
        {
            "name": "pii-restore",
            "stage": "input",
            "action": "restore",
            "entities": ["CREDIT_CARD", "EMAIL_ADDRESS", "IBAN_CODE", "IP_ADDRESS", "PHONE_NUMBER"],
        }
    ]
    assert not [s for s in SECRETS if s in json.dumps(record)]


def test_restore_in_a_stream(guarded: Proc, mock_upstream: Proc) -> None:
    with httpx.stream(
        "POST",
        guarded.url + "/v1/chat/completions",
        json=chat_request(MESSAGE, stream=True),
        headers=auth("restore"),
    ) as response:
        assert response.status_code == 200
        text, events = _stream_text(response)
    assert not [s for s in SECRETS if s in upstream_saw(mock_upstream)]
    assert text == MESSAGE
    assert len(events) > 5, "still streamed, not buffered into one event"


def test_restore_with_the_anthropic_api(guarded: Proc, mock_upstream: Proc) -> None:
    body = {
        "model": "claude-echo",
        "max_tokens": 200,
        "messages": [{"role": "user", "content": MESSAGE}],
    }
    response = httpx.post(
        guarded.url + "/v1/messages", json=body, headers={"x-api-key": KEYS["restore"]}
    )
    assert response.status_code == 200, response.text
    assert not [s for s in SECRETS if s in upstream_saw(mock_upstream)]
    assert response.json()["content"][0]["text"] == MESSAGE


def test_email_split_across_three_chunks_is_redacted(guarded: Proc) -> None:
    with openai.OpenAI(
        base_url=guarded.url + "/v1", api_key=KEYS["redact_out"], max_retries=0
    ) as client:
        chunks = [
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(
                model="split-email", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            if c.choices
        ]
    text = "".join(chunks)
    assert text == "Contact: <EMAIL_ADDRESS> today"
    assert "john" not in text and "example" not in text
    assert len([c for c in chunks if c]) >= 2, "released as it became safe, not all at the end"


def test_block_sends_nothing_upstream(guarded: Proc, mock_upstream: Proc) -> None:
    before = upstream_requests(mock_upstream)
    response = httpx.post(
        guarded.url + "/v1/chat/completions", json=chat_request(MESSAGE), headers=auth("block_in")
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "content_policy_violation" and "pii-block" in error["message"]
    assert not [s for s in SECRETS if s in response.text]
    body = {
        "model": "claude-echo",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": MESSAGE}],
    }
    anthropic = httpx.post(
        guarded.url + "/v1/messages", json=body, headers={"x-api-key": KEYS["block_in"]}
    )
    assert anthropic.status_code == 400
    assert anthropic.json()["error"]["type"] == "invalid_request_error"
    assert upstream_requests(mock_upstream) == before
    ok = httpx.post(
        guarded.url + "/v1/chat/completions",
        json=chat_request("mail me at bob@example.com"),
        headers=auth("block_in"),
    )
    assert ok.status_code == 200, "emails are not in this guardrail's entities"


def test_block_mid_stream_ends_with_an_error_event(guarded: Proc) -> None:
    # A slow upstream (20 tokens/s), so the email arrives after the first text was sent.
    message = "Sure, the address you want is " + SECRETS[0] + " and nothing else."
    chat = chat_request(message, model="slow-echo", stream=True)
    with httpx.stream(
        "POST", guarded.url + "/v1/chat/completions", json=chat, headers=auth("block_out")
    ) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    last = json.loads(lines[-1][6:])
    assert last["error"]["code"] == "content_policy_violation"
    assert SECRETS[0] not in "\n".join(lines)
    assert any("Sure," in line for line in lines[:-1]), "the safe text before the email was sent"
    body = {
        "model": "slow-claude-echo",
        "max_tokens": 200,
        "stream": True,
        "messages": [{"role": "user", "content": message}],
    }
    with httpx.stream(
        "POST", guarded.url + "/v1/messages", json=body, headers={"x-api-key": KEYS["block_out"]}
    ) as response:
        raw = response.read().decode()
    assert raw.rstrip().split("\n\n")[-1].startswith("event: error")
    assert SECRETS[0] not in raw


def test_restore_with_the_cache_never_serves_one_requests_values_to_another(
    guarded: Proc,
) -> None:
    """The body the provider sees is the same for both (`<EMAIL_ADDRESS_1>`); the cached answer
    holds the first one's value, so it must not answer the second."""
    url = guarded.url + "/v1/chat/completions"
    alice = chat_request("Repeat my address: alice@example.org")

    def stored() -> bool:
        response = httpx.post(url, json=alice, headers=auth("restore_cached"))
        assert (
            response.json()["choices"][0]["message"]["content"] == alice["messages"][0]["content"]
        )
        return response.headers["x-gateway-cache"] == "hit"

    wait_until(stored, 5, 0.02, "the answer was never stored")
    bob = chat_request("Repeat my address: bob@example.net")
    response = httpx.post(url, json=bob, headers=auth("restore_cached"))
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == bob["messages"][0]["content"]
    assert response.headers["x-gateway-cache"] == "miss"


# The mock provider (not `echo`) fills a tool call's arguments from the tool's schema (a `default`
# as given):
# a default of `<EMAIL_ADDRESS_1>` plays a model that writes the placeholder into a call.
PLACEHOLDER_TOOL = {
    "name": "send",
    "description": "send a mail",
    "schema": {
        "type": "object",
        "properties": {"to": {"type": "string", "default": "<EMAIL_ADDRESS_1>"}},
        "required": ["to"],
    },
}


def test_restore_in_streamed_tool_call_arguments(guarded: Proc) -> None:
    tool = PLACEHOLDER_TOOL
    body = chat_request(
        f"Write to {SECRETS[0]}",
        model="gpt-mock",
        stream=True,
        tools=[
            {
                "type": "function",
                "function": {"name": tool["name"], "parameters": tool["schema"]},
            }
        ],
    )
    arguments = streamed_arguments(guarded, body, auth("restore"))
    assert json.loads(arguments) == {"to": SECRETS[0]}

    anthropic = {
        "model": "claude-mock",
        "max_tokens": 100,
        "stream": True,
        "tools": [{"name": tool["name"], "input_schema": tool["schema"]}],
        "messages": [{"role": "user", "content": f"Write to {SECRETS[0]}"}],
    }
    partial = streamed_tool_input(guarded, anthropic, KEYS["restore"])
    assert json.loads(partial) == {"to": SECRETS[0]}


def test_restore_across_a_responses_conversation(guarded: Proc) -> None:
    """The conversation the gateway keeps holds the placeholders the provider saw; a follow-up
    reads them with the same values, so an answer that repeats one gets the value back."""
    url = guarded.url + "/v1/responses"
    first = httpx.post(
        url, json={"model": "echo", "input": f"Mail {SECRETS[0]}"}, headers=auth("restore")
    )
    assert first.status_code == 200, first.text
    assert SECRETS[0] in first.text
    # `echo` answers with the last user message: ask it to repeat the first one's text.
    follow = {"model": "echo", "previous_response_id": first.json()["id"], "input": []}
    history = httpx.post(url, json=follow, headers=auth("restore"))
    assert history.status_code == 200, history.text
    output = history.json()["output"][0]["content"][0]["text"]
    assert output == f"Mail {SECRETS[0]}"


# A model that writes a line break before an address in a call's arguments: JSON text holds
# `Hi,\njane@example.org`, whose `n` the redaction once took with the address (`\<EMAIL_ADDRESS>`,
# arguments the client could not parse).
ESCAPED_TOOL = {
    "name": "send",
    "description": "send a mail",
    "schema": {
        "type": "object",
        "properties": {"body": {"type": "string", "default": f"Hi,\n{SECRETS[0]}"}},
        "required": ["body"],
    },
}
REDACTED_BODY = {"body": "Hi,\n<EMAIL_ADDRESS>"}


def test_redacted_tool_call_arguments_stay_json(guarded: Proc) -> None:
    tool = ESCAPED_TOOL
    function = {"name": tool["name"], "parameters": tool["schema"]}
    with openai.OpenAI(base_url=guarded.url + "/v1", api_key=KEYS["redact_out"]) as client:
        answer = client.chat.completions.create(
            model="gpt-mock",
            messages=[{"role": "user", "content": "write the mail"}],
            tools=[{"type": "function", "function": function}],  # type: ignore[typeddict-item]
        )
        calls = answer.choices[0].message.tool_calls or []
        assert [json.loads(c.function.arguments) for c in calls] == [REDACTED_BODY]  # type: ignore[union-attr]

        body = chat_request(
            "write the mail",
            model="gpt-mock",
            stream=True,
            tools=[{"type": "function", "function": function}],
        )
        arguments = streamed_arguments(guarded, body, auth("redact_out"))
        assert json.loads(arguments) == REDACTED_BODY

        anthropic = {
            "model": "claude-mock",
            "max_tokens": 100,
            "stream": True,
            "tools": [{"name": tool["name"], "input_schema": tool["schema"]}],
            "messages": [{"role": "user", "content": "write the mail"}],
        }
        partial = streamed_tool_input(guarded, anthropic, KEYS["redact_out"])
        assert json.loads(partial) == REDACTED_BODY
