"""Chat completion chunks -> Responses API stream events."""

from __future__ import annotations

from typing import Any

from gateway.providers.responses.streams_chat_to_responses import ChatToResponsesStream


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "c",
        "model": "up-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


USAGE_CHUNK = {"id": "c", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}


def run(
    chunks: list[dict[str, Any]], tools: list[Any] | None = None
) -> tuple[list[dict[str, Any]], Any]:
    stream = ChatToResponsesStream({"model": "pub", "input": "hi", "tools": tools}, "resp_1")
    events = [e for c in chunks for e in stream.feed(c)] + stream.finish()
    return events, stream


def test_text_stream_event_sequence() -> None:
    events, stream = run(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({}, "stop"),
            USAGE_CHUNK,
        ]
    )
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[0]["response"]["id"] == "resp_1"
    assert events[0]["response"]["model"] == "up-model"
    assert events[6]["text"] == "Hello"
    final = events[-1]["response"]
    assert final["output"][0]["content"][0]["text"] == "Hello"
    assert final["usage"]["input_tokens"] == 5 and final["usage"]["output_tokens"] == 2
    assert stream.response["status"] == "completed"


def test_tool_call_stream() -> None:
    first = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "f", "arguments": ""},
    }
    events, _ = run(
        [
            chunk({"role": "assistant", "content": None, "tool_calls": [first]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
            chunk({}, "tool_calls"),
        ]
    )
    kinds = [e["type"] for e in events]
    assert kinds[2:] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[2]["item"]["call_id"] == "call_1" and events[2]["item"]["name"] == "f"
    assert events[5]["arguments"] == '{"a":1}'
    assert events[-1]["response"]["output"][0]["arguments"] == '{"a":1}'


def test_a_custom_tools_input_streams_whole_when_its_call_ends() -> None:
    # Its function's arguments are JSON around the input: the input is sent once unwrapped.
    tools = [
        {"type": "custom", "name": "apply_patch"},
        {"type": "namespace", "name": "mcp__docs__", "tools": [{"type": "function", "name": "f"}]},
    ]
    start = {"index": 0, "id": "call_1", "function": {"name": "apply_patch", "arguments": ""}}
    second = {"index": 1, "id": "call_2", "function": {"name": "mcp__docs__f", "arguments": "{}"}}
    events, stream = run(
        [
            chunk({"tool_calls": [start]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"input":"*** Be'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'gin\\n"}'}}]}),
            chunk({"tool_calls": [second]}),
            chunk({}, "tool_calls"),
        ],
        tools,
    )
    assert [e["type"] for e in events][2:] == [
        "response.output_item.added",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    added = events[2]["item"]
    assert added["type"] == "custom_tool_call" and added["id"].startswith("ctc_")
    assert (added["name"], added["input"], added["status"]) == ("apply_patch", "", "in_progress")
    assert events[3]["delta"] == "*** Begin\n" and events[4]["input"] == "*** Begin\n"
    assert events[3]["item_id"] == events[4]["item_id"] == added["id"]
    assert events[5]["item"]["input"] == "*** Begin\n"
    assert events[6]["item"]["namespace"] == "mcp__docs__" and events[6]["item"]["name"] == "f"
    assert stream.response["output"] == [events[5]["item"], events[9]["item"]]


def test_a_late_piece_of_a_closed_custom_call_is_left_out() -> None:
    # Servers that interleave parallel calls may send a call's arguments after the next began.
    tools = [{"type": "custom", "name": "patch"}, {"type": "function", "name": "f"}]
    first = {"index": 0, "id": "c1", "function": {"name": "patch", "arguments": '{"input":"P"}'}}
    second = {"index": 1, "id": "c2", "function": {"name": "f", "arguments": "{}"}}
    late = {"index": 0, "function": {"arguments": "late"}}
    events, stream = run(
        [
            chunk({"tool_calls": [first]}),
            chunk({"tool_calls": [second]}),
            chunk({"tool_calls": [late]}),
        ],
        tools,
    )
    patch, call = stream.response["output"]
    assert (patch["type"], patch["input"]) == ("custom_tool_call", "P")
    assert call["arguments"] == "{}"
    assert events[-1]["type"] == "response.completed"


def test_a_client_tool_search_streams_as_its_item_alone() -> None:
    # The Responses API has no delta events for it: its arguments are in the item's `.done`.
    tools = [{"type": "tool_search", "execution": "client", "parameters": {"type": "object"}}]
    start = {"index": 0, "id": "call_s", "function": {"name": "tool_search", "arguments": ""}}
    events, stream = run(
        [
            chunk({"tool_calls": [start]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"query":'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"jira"}'}}]}),
            chunk({}, "tool_calls"),
        ],
        tools,
    )
    assert [e["type"] for e in events][2:] == [
        "response.output_item.added",
        "response.output_item.done",
        "response.completed",
    ]
    added, done = events[2]["item"], events[3]["item"]
    assert added["type"] == "tool_search_call" and added["arguments"] == {}
    assert (done["call_id"], done["execution"], done["arguments"]) == (
        "call_s",
        "client",
        {"query": "jira"},
    )
    assert stream.response["output"] == [done]


def test_reasoning_deltas_stream_as_a_reasoning_item_before_the_text() -> None:
    events, stream = run(
        [
            chunk({"role": "assistant", "reasoning_content": "Look "}),
            chunk({"reasoning_content": "it up."}),
            chunk({"content": "Sunny."}),
            chunk({}, "stop"),
        ]
    )
    assert [e["type"] for e in events][2:] == [
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[2]["item"]["type"] == "reasoning"
    assert events[3]["part"] == {"type": "reasoning_text", "text": ""}
    assert events[6]["text"] == "Look it up." and events[6]["content_index"] == 0
    reasoning, message = stream.response["output"]
    assert reasoning["content"] == [{"type": "reasoning_text", "text": "Look it up."}]
    assert reasoning["status"] == "completed" and message["content"][0]["text"] == "Sunny."


def test_length_ends_incomplete() -> None:
    events, _ = run([chunk({"content": "Hel"}, "length")])
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    # The cut item says so, in its `.done` event and in the final response.
    done = [e for e in events if e["type"] == "response.output_item.done"]
    assert [e["item"]["status"] for e in done] == ["incomplete"]
    assert events[-1]["response"]["output"][-1]["status"] == "incomplete"


def call_delta(index: int | None, call_id: str | None, arguments: str) -> dict[str, Any]:
    call: dict[str, Any] = {"type": "function", "function": {"arguments": arguments}}
    if index is not None:
        call["index"] = index
    if call_id is not None:
        call["id"] = call_id
        call["function"]["name"] = "get_weather"
    return {"tool_calls": [call]}


def calls_of(chunks: list[dict[str, Any]]) -> list[tuple[str, str]]:
    events, _ = run([*chunks, chunk({}, "tool_calls")])
    output = events[-1]["response"]["output"]
    return [(item["call_id"], item["arguments"]) for item in output]


def test_a_call_whose_id_is_repeated_on_every_chunk_stays_one_call() -> None:
    # Some compatible servers send the id and name again with each piece of the arguments.
    chunks = [
        chunk(call_delta(0, "call_A", '{"city": ')),
        chunk(call_delta(0, "call_A", '"Paris"}')),
        chunk(call_delta(1, "call_B", '{"city": "Rome"}')),
    ]
    assert calls_of(chunks) == [("call_A", '{"city": "Paris"}'), ("call_B", '{"city": "Rome"}')]


def test_calls_without_index_or_sharing_one_are_told_apart_by_their_ids() -> None:
    for index in (None, 0):
        chunks = [
            chunk(call_delta(index, "call_A", '{"city": "Paris"}')),
            chunk(call_delta(index, "call_B", '{"city": "Rome"}')),
        ]
        assert calls_of(chunks) == [
            ("call_A", '{"city": "Paris"}'),
            ("call_B", '{"city": "Rome"}'),
        ]


def test_a_refusal_streams_as_refusal_events_in_a_message_of_its_own() -> None:
    # As the JSON translation has it: the refusal is a message item with a `refusal` part.
    events, _ = run(
        [
            chunk({"role": "assistant", "content": None, "refusal": None}),
            chunk({"refusal": "I can't "}),
            chunk({"refusal": "help."}),
            chunk({}, "stop"),
        ]
    )
    kinds = [e["type"] for e in events]
    assert kinds[2:] == [
        "response.output_item.added",
        "response.content_part.added",
        "response.refusal.delta",
        "response.refusal.delta",
        "response.refusal.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[3]["part"] == {"type": "refusal", "refusal": ""}
    assert events[6]["refusal"] == "I can't help."
    refusal = {"type": "refusal", "refusal": "I can't help."}
    assert events[7]["part"] == refusal
    (item,) = events[-1]["response"]["output"]
    assert item["type"] == "message" and item["content"] == [refusal]
