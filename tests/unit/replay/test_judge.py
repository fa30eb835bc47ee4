from __future__ import annotations

import pytest

from gateway.replay.judge import DEFAULT_RUBRIC, judge_request, parse_score


@pytest.mark.parametrize(
    ("text", "score", "reason"),
    [
        ('{"score": 8, "reason": "good"}', 8.0, "good"),
        ('```json\n{"score": 6.5}\n```', 6.5, None),
        ('Sure! {"rating": "9", "explanation": "fine"} Hope that helps.', 9.0, "fine"),
        ("Score: 4 - misses the refund policy", 4.0, None),
        ("I would give it 7/10.", 7.0, None),
        ("7 out of 10", 7.0, None),
        ("3", 3.0, None),
        ("Between 1 and 10, this is a 5.", None, None),  # several numbers, no label: unreadable
        ('{"score": 42}', None, None),
        ('{"score": true}', None, None),
        ("no idea", None, None),
        ("", None, None),
    ],
)
def test_parse_score(text: str, score: float | None, reason: str | None) -> None:
    assert parse_score(text) == (score, reason)


def test_judge_request_carries_rubric_conversation_and_answers() -> None:
    request = {
        "system": "be brief",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }
    body = judge_request("judge-model", request, "ref", "new", DEFAULT_RUBRIC)
    assert body["model"] == "judge-model" and body["temperature"] == 0
    prompt = body["messages"][1]["content"]
    assert prompt.startswith("Rubric: " + DEFAULT_RUBRIC)
    assert "system: be brief\nuser: hi" in prompt and "ref" in prompt and "new" in prompt
    long = judge_request("j", request, "x" * 10_000, "y", "r")["messages"][1]["content"]
    assert "[...]" in long and len(long) < 8000


@pytest.mark.parametrize(
    "text",
    [
        '{"score": 1' + "0" * 400 + "}",  # no float holds it: OverflowError aborted the replay
        "1" + "0" * 400,
        '{"score": NaN}',
    ],
)
def test_a_judge_reply_with_a_garbage_score_is_unscored(text: str) -> None:
    assert parse_score(text) == (None, None)


def test_the_judge_sees_anthropic_system_blocks_and_skips_parts_that_are_no_text() -> None:
    """A `system` given as Anthropic's list of text blocks was left out of the conversation the
    judge saw, and a text part whose `text` is no string (5) raised TypeError in the replay."""
    request = {
        "system": [{"type": "text", "text": "answer in French"}],
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": 5}, {"type": "text", "text": "hi"}],
            }
        ],
    }
    prompt = judge_request("j", request, "ref", "new", "r")["messages"][1]["content"]
    assert "system: answer in French\nuser: hi" in prompt
    assert judge_request("j", {"messages": 5}, "ref", "new", "r")["messages"][1]["content"]
