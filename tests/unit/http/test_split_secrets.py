"""`SplitSecretWatch`: a configured secret a stream writes a few characters per event leaves as
`****` (its first `HEAD - 1` characters at most before it), on every wire's text fields; text
that only begins like a secret, or a stream that ends inside one, goes unchanged; a piece with
no text, or a stream when no secret is configured, passes untouched."""

from __future__ import annotations

import orjson
import pytest

from gateway.http.split_secrets import HEAD, SplitSecretWatch
from gateway.scrub import Secrets

KEY = "sk-proj-Split0secret1abcdefghij"
PROSE = "the key is {key} and that is all."


def watch(*keys: str) -> SplitSecretWatch:
    return SplitSecretWatch(Secrets(keys).stream_forms)


def openai(text: str) -> bytes:
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": None}
    return b"data: " + orjson.dumps({"id": "c1", "choices": [choice]}) + b"\n\n"


def anthropic(text: str) -> bytes:
    event = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": text},
    }
    return b"event: content_block_delta\ndata: " + orjson.dumps(event) + b"\n\n"


def responses(text: str) -> bytes:
    event = {"type": "response.output_text.delta", "output_index": 0, "delta": text}
    return b"event: response.output_text.delta\ndata: " + orjson.dumps(event) + b"\n\n"


def tool_arguments(text: str) -> bytes:
    call = {"index": 0, "function": {"arguments": text}}
    choice = {"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}
    return b"data: " + orjson.dumps({"id": "c1", "choices": [choice]}) + b"\n\n"


WIRES = {"openai": openai, "anthropic": anthropic, "responses": responses, "tool": tool_arguments}
DONE = b"data: [DONE]\n\n"


def texts(body: bytes) -> str:
    """The text fields of every event, in order (each event's JSON parsed: the output is valid)."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for name, inner in value.items():
                if name in ("content", "text", "delta", "arguments") and isinstance(inner, str):
                    found.append(inner)
                else:
                    walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    for line in body.split(b"\n"):
        if line.startswith(b"data: {"):
            walk(orjson.loads(line[6:]))
    return "".join(found)


def relayed(watching: SplitSecretWatch, pieces: list[bytes]) -> bytes:
    return b"".join([*(watching.feed(piece) for piece in pieces), watching.flush()])


def deltas(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7])
def test_a_key_written_a_few_characters_per_event_leaves_as_stars(wire: str, size: int) -> None:
    pieces = [WIRES[wire](delta) for delta in deltas(PROSE.format(key=KEY), size)] + [DONE]
    out = relayed(watch(KEY), pieces)
    text = texts(out)
    sent = text.removeprefix("the key is ").removesuffix(" and that is all.")
    assert sent.endswith("****") and KEY.startswith(sent.removesuffix("****"))
    assert len(sent) - len("****") < HEAD  # at most the key's first HEAD - 1 characters
    assert out.endswith(DONE)


@pytest.mark.parametrize("size", [1, 3, 6])
def test_events_read_apart_in_pieces_of_several_events_are_watched_alike(size: int) -> None:
    """A piece may hold several events (a relay joins what one upstream read made)."""
    events = [openai(delta) for delta in deltas(PROSE.format(key=KEY), size)]
    pieces = [b"".join(events[i : i + 3]) for i in range(0, len(events), 3)]
    text = texts(relayed(watch(KEY), pieces))
    assert KEY[HEAD - 1 :] not in text and "****" in text and text.endswith(" and that is all.")


def test_text_that_only_begins_like_a_key_goes_unchanged_once_it_differs() -> None:
    watching = watch(KEY)
    pieces = [openai(delta) for delta in deltas("see sk-proj-Split0 for the format", 3)]
    sent = [watching.feed(piece) for piece in pieces]
    assert b"" in sent  # held while it agreed with the key
    assert b"".join([*sent, watching.flush()]) == b"".join(pieces)  # then sent as it came
    assert not watching.flush()


def test_a_stream_that_ends_inside_a_key_sends_what_it_held() -> None:
    watching = watch(KEY)
    pieces = [openai(delta) for delta in deltas(f"cut: {KEY[:12]}", 2)]
    assert b"".join(watching.feed(piece) for piece in pieces) != b"".join(pieces)  # held
    assert relayed(watch(KEY), pieces) == b"".join(pieces)


def test_pieces_without_text_or_without_secrets_pass_untouched() -> None:
    usage = b'data: {"id":"c1","choices":[],"usage":{"total_tokens":3}}\n\n'
    watching = watch(KEY)
    assert watching.feed(usage) is usage
    assert watching.feed(DONE) is DONE
    piece = openai(KEY[:3] + KEY[3:])  # a whole key in one event is the line scrub's
    nothing = SplitSecretWatch(())
    assert nothing.feed(piece) is piece


def test_two_keys_and_a_key_twice_are_each_taken_out() -> None:
    other = "azure0123456789abcdef0123456789ab"
    prose = f"one {KEY}, two {other}, again {KEY}."
    text = texts(relayed(watch(KEY, other), [openai(d) for d in deltas(prose, 2)]))
    assert text.count("****") == 3
    assert KEY[HEAD:] not in text and other[HEAD:] not in text
    assert text.startswith("one ") and text.endswith(".")


def test_what_is_held_stays_bounded_by_the_key() -> None:
    """A text that keeps agreeing with a key is held only until the key is whole."""
    watching = watch(KEY)
    held = 0
    for delta in deltas(KEY * 3, 1):
        held = 0 if watching.feed(openai(delta)) else held + 1
        assert held <= len(KEY)


@pytest.mark.parametrize("size", [1, 2, 3])
def test_a_key_that_begins_while_another_may_still_be_written_is_found(size: int) -> None:
    """The text agrees with one key for a while, and another begins inside it: both are
    followed, and the second is found when the first fails."""
    other = "Split0secret1-other-key-0123"
    prose = f"go sk-proj-{other} end"  # agrees with KEY up to "sk-proj-Split0secret1"
    text = texts(relayed(watch(KEY, other), [openai(d) for d in deltas(prose, size)]))
    assert other[HEAD - 1 :] not in text and "****" in text and text.endswith(" end")
