"""Requests to newer Claude models. Claude 4.1 to 4.6 refuse `temperature` and `top_p`
together, Opus 4.7 and later any of `temperature`, `top_p` and `top_k`, and manual thinking
(Anthropic's 400s, which the mock provider answers too); through the gateway, an OpenAI
client's request, a Responses request and an Anthropic client's request routed to such a model
are answered, sent what the model takes. An older Claude is sent what was asked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.e2e.claude_config import claude_models_config
from tests.procs import Proc, start_gateway

KEY = "sk-claude-sampling-test"
MODELS = {
    "claude-4-5": "claude-sonnet-4-5-20250929",
    "claude-4-7": "claude-opus-4-7",
    "claude-4-8": "claude-opus-4-8",
    "claude-4": "claude-sonnet-4-20250514",
}
HI: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("claude-sampling")
    (root / "gateway.toml").write_text(claude_models_config(mock_upstream.url, MODELS, KEY))
    proc = start_gateway(root / "gateway.toml")
    yield proc
    proc.stop()


def last_body(mock_upstream: Proc) -> dict[str, Any]:
    """The body of the mock provider's latest request."""
    return dict(httpx.get(mock_upstream.url + "/_mock/stats").json()["last_request"]["body"])


def sent_upstream(mock_upstream: Proc) -> dict[str, Any]:
    """The sampling settings of the mock provider's latest request, and its model."""
    body = last_body(mock_upstream)
    return {k: body[k] for k in ("model", "temperature", "top_p", "top_k") if k in body}


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("claude-sonnet-4-5-20250929", "`temperature` and `top_p` cannot both be specified"),
        ("claude-opus-4-7", "`temperature` is deprecated for this model"),
    ],
)
def test_the_mock_refuses_them_as_anthropic_does(
    mock_upstream: Proc, model: str, message: str
) -> None:
    body = {"model": model, "max_tokens": 5, "temperature": 0.7, "top_p": 0.9}
    body["messages"] = [{"role": "user", "content": "hi"}]
    answer = httpx.post(mock_upstream.url + "/v1/messages", json=body)
    assert answer.status_code == 400
    assert message in answer.json()["error"]["message"]


def test_an_openai_client_gets_its_answer_from_newer_claudes(
    gateway: Proc, mock_upstream: Proc
) -> None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as client:
        answer = client.chat.completions.create(
            model="claude-4-5", messages=HI, temperature=0.7, top_p=0.9
        )
        assert answer.choices[0].message.content
        assert sent_upstream(mock_upstream) == {"model": MODELS["claude-4-5"], "temperature": 0.7}
        with client.chat.completions.create(
            model="claude-4-7", messages=HI, stream=True, temperature=0.7, top_p=0.9
        ) as stream:
            assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert sent_upstream(mock_upstream) == {"model": MODELS["claude-4-7"]}
        response = client.responses.create(
            model="claude-4-7", input="hi", temperature=0.2, top_p=0.5
        )
        assert response.output_text and sent_upstream(mock_upstream) == {"model": "claude-opus-4-7"}
        client.chat.completions.create(model="claude-4", messages=HI, temperature=0.7, top_p=0.9)
        assert sent_upstream(mock_upstream) == {
            "model": MODELS["claude-4"],
            "temperature": 0.7,
            "top_p": 0.9,
        }


def test_an_anthropic_client_routed_to_a_newer_claude_gets_its_answer(
    gateway: Proc, mock_upstream: Proc
) -> None:
    # The anthropic SDK 2.x sends the sampling settings only in `extra_body`.
    settings = {"temperature": 0.7, "top_p": 0.9, "top_k": 20}
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as client:
        for model, expected in (
            ("claude-4-5", {"temperature": 0.7, "top_k": 20}),
            ("claude-4-7", {}),
            ("claude-4", settings),
        ):
            message = client.messages.create(
                model=model,
                max_tokens=20,
                messages=[{"role": "user", "content": "hi"}],
                extra_body=settings,
            )
            assert message.content and message.stop_reason
            assert sent_upstream(mock_upstream) == {"model": MODELS[model], **expected}


def test_an_anthropic_clients_manual_thinking_reaches_opus_4_8_as_adaptive(
    gateway: Proc, mock_upstream: Proc
) -> None:
    manual = httpx.post(
        mock_upstream.url + "/v1/messages",
        json={
            "model": "claude-opus-4-8",
            "max_tokens": 4096,
            "messages": [{"role": "user", "content": "hi"}],
            "thinking": {"type": "enabled", "budget_tokens": 2048},
        },
    )
    assert manual.status_code == 400 and "thinking.type.enabled" in manual.text
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as client:
        message = client.messages.create(
            model="claude-4-8",
            max_tokens=4096,
            messages=[{"role": "user", "content": "hi"}],
            thinking={"type": "enabled", "budget_tokens": 2048},
        )
        assert message.content and message.stop_reason
        assert last_body(mock_upstream)["thinking"] == {"type": "adaptive", "display": "summarized"}
        client.messages.create(
            model="claude-4",
            max_tokens=4096,
            messages=[{"role": "user", "content": "hi"}],
            thinking={"type": "enabled", "budget_tokens": 2048},
        )
        assert last_body(mock_upstream)["thinking"] == {"type": "enabled", "budget_tokens": 2048}


def test_an_anthropic_clients_adaptive_thinking_reaches_sonnet_4_5_as_manual(
    gateway: Proc, mock_upstream: Proc
) -> None:
    # Claude Code asks adaptive thinking of the models it knows take it; a route to an older
    # Claude (the mock refuses it there, as Anthropic does) sends a budget for its effort.
    body = {
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 8_000,
        "messages": [{"role": "user", "content": "hi"}],
        "thinking": {"type": "adaptive"},
    }
    refused = httpx.post(mock_upstream.url + "/v1/messages", json=body)
    assert refused.status_code == 400 and "adaptive thinking is not supported" in refused.text
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as client:
        message = client.messages.create(
            model="claude-4-5",
            max_tokens=8_000,
            messages=[{"role": "user", "content": "hi"}],
            thinking={"type": "adaptive"},
            output_config={"effort": "medium"},
        )
        assert message.content and message.stop_reason
        sent = last_body(mock_upstream)
        assert sent["thinking"] == {"type": "enabled", "budget_tokens": 4096}
        assert "output_config" not in sent  # Sonnet 4.5 takes no effort
        client.messages.create(
            model="claude-4-7",
            max_tokens=8_000,
            messages=[{"role": "user", "content": "hi"}],
            thinking={"type": "adaptive"},
            output_config={"effort": "xhigh"},
        )
        sent = last_body(mock_upstream)
        assert sent["thinking"] == {"type": "adaptive"}
        assert sent["output_config"] == {"effort": "xhigh"}


def test_an_openai_clients_reasoning_effort_reaches_claude_as_its_effort(
    gateway: Proc, mock_upstream: Proc
) -> None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as client:
        answer = client.chat.completions.create(
            model="claude-4-8", messages=HI, reasoning_effort="minimal"
        )
        assert answer.choices[0].message.content
        assert last_body(mock_upstream)["output_config"] == {"effort": "low"}
        response = client.responses.create(
            model="claude-4-7", input="hi", reasoning={"effort": "xhigh"}
        )
        assert response.output_text
        assert last_body(mock_upstream)["output_config"] == {"effort": "xhigh"}
        # Sonnet 4.5 refuses the setting: it is not sent.
        client.chat.completions.create(model="claude-4-5", messages=HI, reasoning_effort="high")
        assert "output_config" not in last_body(mock_upstream)


def test_an_openai_request_without_max_tokens_is_not_cut_at_4096_tokens(
    gateway: Proc, mock_upstream: Proc
) -> None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as client:
        client.chat.completions.create(model="claude-4-5", messages=HI)
        assert last_body(mock_upstream)["max_tokens"] == 32_000
        client.chat.completions.create(model="claude-4-5", messages=HI, max_tokens=64)
        assert last_body(mock_upstream)["max_tokens"] == 64


# What Claude Code sends from 2.1.154 on: a system message between the turns (Opus 4.8's).
MID_SYSTEM: list[Any] = [
    {"role": "user", "content": "hi"},
    {"role": "system", "content": [{"type": "text", "text": "Answer in French."}]},
]


@pytest.mark.parametrize("model", ["claude-4-5", "claude-4-7", "claude-4-8"])
def test_a_mid_conversation_system_message_reaches_every_claude(
    gateway: Proc, mock_upstream: Proc, model: str
) -> None:
    refused = httpx.post(  # what Anthropic answers a model before Opus 4.8
        f"{mock_upstream.url}/v1/messages",
        json={"model": MODELS[model], "max_tokens": 16, "messages": MID_SYSTEM},
    )
    assert (refused.status_code == 400) is (model != "claude-4-8")
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as sdk:
        answer = sdk.messages.create(model=model, max_tokens=16, messages=MID_SYSTEM)
    assert answer.stop_reason in ("end_turn", "max_tokens")
    sent = last_body(mock_upstream)["messages"]
    if model == "claude-4-8":
        assert sent == MID_SYSTEM
    else:
        assert sent[1] == {
            "role": "user",
            "content": [{"type": "text", "text": "<system>\nAnswer in French.\n</system>"}],
        }
