"""A system turn's per-turn controls (`output_config`, `clear_at`), which only Fable 5.1 and the
5.5 models take: to the others, a message past its `clear_at` is left out, the keys go, an empty
message goes, and the last per-turn effort is the request's."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gateway.mock_provider.behaviour import RequestError, plan_messages
from gateway.providers.anthropic.requests_anthropic_to_openai import anthropic_request_to_openai
from gateway.providers.anthropic.turn_controls import takes_turn_controls, without_turn_controls

JSON = dict[str, Any]
EFFORT_LOW: JSON = {"role": "system", "content": [], "output_config": {"effort": "low"}}
ONCE: JSON = {"role": "system", "content": "Reply in French.", "clear_at": "next_user_message"}
KEPT: JSON = {"role": "system", "content": "Be brief.", "clear_at": "never"}
MESSAGES: list[JSON] = [
    {"role": "user", "content": "hi"},
    ONCE,
    {"role": "assistant", "content": "Salut."},
    {"role": "user", "content": "and now?"},
    KEPT,
    EFFORT_LOW,
]


@pytest.mark.parametrize(
    ("model", "takes"),
    [
        ("claude-opus-5-5", True),
        ("claude-sonnet-5-5", True),
        ("claude-haiku-5-5", True),
        ("claude-fable-5-1", True),
        ("claude-opus-5", False),
        ("claude-opus-4-8", False),
        ("claude-fable-5", False),
        ("some-compatible-server", False),
    ],
)
def test_which_models_take_them(model: str, takes: bool) -> None:
    assert takes_turn_controls(model) is takes


def test_a_model_without_them_reads_them_as_it_would() -> None:
    body: JSON = {"messages": MESSAGES, "output_config": {"effort": "high", "format": "kept"}}
    sent = copy.deepcopy(body)
    without_turn_controls(sent, "claude-opus-4-8")
    assert sent["messages"] == [
        MESSAGES[0],
        MESSAGES[2],
        MESSAGES[3],
        {"role": "system", "content": "Be brief."},
    ]
    assert sent["output_config"] == {"effort": "low", "format": "kept"}
    assert body["messages"][1] == ONCE  # the client's messages are as they came
    assert plan_messages({"model": "claude-opus-4-8", "max_tokens": 9, **sent}).choices


def test_the_mock_refuses_them_as_the_models_before_them_do() -> None:
    asked = {"max_tokens": 9, "messages": MESSAGES}
    with pytest.raises(RequestError, match=r"messages\.1\.clear_at: Extra inputs"):
        plan_messages({"model": "claude-opus-5", **asked})
    assert plan_messages({"model": "claude-opus-5-5", **asked}).choices


def test_a_model_that_takes_them_gets_them() -> None:
    body: JSON = {"messages": MESSAGES}
    without_turn_controls(body, "claude-fable-5-1")
    assert body == {"messages": MESSAGES}


def test_an_openai_format_upstream_reads_them_as_such_a_model() -> None:
    out = anthropic_request_to_openai({"model": "x", "max_tokens": 9, "messages": MESSAGES}, "gpt")
    texts = [str(m.get("content")) for m in out["messages"]]
    assert not any("French" in text for text in texts)  # past its turn: no longer shown
    assert any("Be brief." in text for text in texts)
