"""Prompt token estimates (gateway/tokens.py): what tpm reservations and routing rely on."""

from __future__ import annotations

import pytest

from gateway import tokens


def test_special_token_markers_count_as_the_plain_text_they_are() -> None:
    text = "summarise <|endoftext|> and <|im_start|> literally"
    expected = len(tokens.encoding().encode(text, disallowed_special=()))
    assert tokens.count_text(text) == expected
    assert tokens.count_text("<|endoftext|>") > 1  # not the single special token


def test_message_counts_add_the_chat_framing() -> None:
    hello = tokens.count_text("hello")
    one = tokens.count_messages([{"role": "user", "content": "hello"}])
    parts = tokens.count_messages(
        [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]
    )
    assert one == parts == hello + 3 + 3  # per message + per reply
    assert tokens.count_messages([], system="hello") == one


def test_long_texts_are_counted_exactly_only_up_to_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encoded: list[int] = []
    real = tokens.encoding()

    class Recording:
        def encode_ordinary(self, text: str) -> list[int]:
            encoded.append(len(text))
            return real.encode_ordinary(text)

    monkeypatch.setattr(tokens, "encoding", lambda: Recording())
    count = tokens.count_messages(
        [{"role": "user", "content": "a" * 10_000_000}, {"role": "user", "content": "b" * 50}]
    )
    assert sum(encoded) == tokens.EXACT_CHARS  # 10 MB cost what 8 KB costs
    # 'a' runs encode at ~8 characters a token: the rest is estimated at the floor of 1 per 4.
    rest = 10_000_000 + 50 - tokens.EXACT_CHARS
    assert count > rest // 4


def test_the_estimate_follows_the_counted_part_s_ratio() -> None:
    cjk = "中" * 50_000  # about one token per character
    assert tokens.count_text(cjk) == pytest.approx(len(tokens.encoding().encode(cjk)), rel=0.05)
    short = "hello world"
    assert tokens.count_text(short) == len(tokens.encoding().encode(short))


def test_a_text_counted_whole_is_counted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded: list[str] = []
    real = tokens.encoding()

    class Recording:
        def encode_ordinary(self, text: str) -> list[int]:
            encoded.append(text)
            return real.encode_ordinary(text)

    monkeypatch.setattr(tokens, "encoding", lambda: Recording())
    monkeypatch.setattr(tokens, "_COUNTS", tokens._Counts())
    system = {"role": "system", "content": "You answer in French, briefly."}
    first = tokens.count_messages([system, {"role": "user", "content": "One?"}])
    second = tokens.count_messages([system, {"role": "user", "content": "Two?"}])
    assert encoded == [system["content"], "One?", "Two?"]  # the system prompt once
    assert first == second == tokens.count_text(system["content"]) + tokens.count_text("One?") + 9


def test_kept_counts_are_bounded_by_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "COUNTS_KEPT_CHARS", 100)
    counts = tokens._Counts()
    for n in range(30):
        counts.of(f"text number {n}")
        assert counts.chars <= 100 and counts.chars == sum(map(len, counts.counts))


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "hello"}, {"role": "assistant", "content": ""}],
        [{"role": "user", "content": "a" * 5000}, {"role": "user", "content": "b" * 5000}],
        [{"role": "user", "content": "hi"}, "not a message", {"role": "user", "content": "x"}],
        [{"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "f"}}]}],
        [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
    ],
)
def test_plain_messages_count_as_the_general_walk_counts_them(messages: list[object]) -> None:
    tally = tokens._Tally()
    framing = 3
    for message in messages:
        if isinstance(message, dict):
            framing += 3
            for text in tokens._content_text(message.get("content")):
                tally.add(text)
            for call in message.get("tool_calls") or ():
                tally.add(str(call["function"].get("name", "")))
                tally.add(str(call["function"].get("arguments", "")))
    assert tokens.count_messages(messages) == framing + tally.total()


def test_tool_calls_of_any_shape_are_counted_without_failing() -> None:
    """Regression: a tool call whose `function` was not an object (a number, an array) made the
    count raise AttributeError: a 500 for every request of a key with a tpm limit."""
    called = {"name": "lookup", "arguments": '{"q": "weather"}'}
    good = [{"role": "assistant", "tool_calls": [{"function": called}]}]
    odd = [{"role": "assistant", "tool_calls": [{"function": 5}, {"function": [1]}, 7, None]}]
    framing = tokens.count_messages([{"role": "assistant"}])
    assert tokens.count_messages(odd) == framing
    assert tokens.count_messages([{"role": "assistant", "tool_calls": 5}]) == framing
    assert tokens.count_messages(good) > framing


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([464, 3290, 374], 3),  # one prompt as token ids
        ([[464, 3290], [374, 1, 2]], 5),  # a batch of token arrays (LangChain's embeddings)
        (["hello", [374, 1]], 2),  # text and ids mixed: both counted
    ],
)
def test_token_id_prompts_count_their_ids(value: object, expected: int) -> None:
    assert isinstance(value, list)
    text = sum(tokens.count_text(v) for v in value if isinstance(v, str))
    assert tokens.count_prompt(value) == expected + text


def test_a_batch_of_inputs_is_counted_exactly_only_up_to_one_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encoded: list[int] = []
    real = tokens.encoding()

    class Recording:
        def encode_ordinary(self, text: str) -> list[int]:
            encoded.append(len(text))
            return real.encode_ordinary(text)

    monkeypatch.setattr(tokens, "encoding", lambda: Recording())
    monkeypatch.setattr(tokens, "_COUNTS", tokens._Counts())
    batch = [f"document {n} " + "words " * 2000 for n in range(2048)]
    count = tokens.count_prompt(batch)
    assert sum(encoded) == tokens.EXACT_CHARS  # 2,048 inputs cost what one 8 KB text does
    # The rest estimated at no less than OpenAI's own one token per four characters.
    assert count >= (sum(map(len, batch)) - tokens.EXACT_CHARS) // 4


def test_the_longest_input_of_a_batch_is_what_a_context_window_limits() -> None:
    short, long = "one two", "one two three four five six seven eight"
    assert tokens.count_longest_prompt([short, long, short]) == tokens.count_text(long)
    assert tokens.count_longest_prompt([[1] * 30, [2] * 70]) == 70
    assert tokens.count_longest_prompt([1] * 40) == 40  # one input as token ids
    assert tokens.count_longest_prompt(long) == tokens.count_text(long)


def test_custom_tool_calls_and_outputs_count_as_function_calls_do() -> None:
    # Codex's apply_patch calls and their outputs: a long patch is most of such a prompt.
    patch = "*** Begin Patch\n" + "+a line of the new file\n" * 200 + "*** End Patch"
    custom = [
        {"type": "custom_tool_call", "call_id": "c", "name": "apply_patch", "input": patch},
        {"type": "custom_tool_call_output", "call_id": "c", "output": "Done! " * 50},
    ]
    function = [
        {"type": "function_call", "call_id": "c", "name": "apply_patch", "arguments": patch},
        {"type": "function_call_output", "call_id": "c", "output": "Done! " * 50},
    ]
    assert tokens.count_response_input(custom) == tokens.count_response_input(function)
    assert tokens.count_response_input(custom) > tokens.count_text(patch)
