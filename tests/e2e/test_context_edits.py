"""Claude's context editing asked by the anthropic SDK (`context_management`, beta
`context-management-2025-06-27`) of an OpenAI-format deployment: the gateway clears the old
tool results it sends, as Claude's server would (the real gateway, the mock provider over HTTP
as the OpenAI-format upstream). Before, the field was dropped: the whole session went every
time, until the upstream refused it as too long."""

from __future__ import annotations

import anthropic
import httpx
from anthropic.types.beta import BetaContextManagementConfigParam, BetaMessageParam

from gateway.providers.anthropic.context_edits import PLACEHOLDER
from tests.procs import Proc

FILE = "def f():\n    return 1\n" * 200


def _session(calls: int) -> list[BetaMessageParam]:
    messages: list[BetaMessageParam] = [{"role": "user", "content": "Find the bug."}]
    for i in range(calls):
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": f"toolu_{i}", "name": "read", "input": {"n": i}}
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": f"{i} {FILE}"}
                ],
            }
        )
    return messages


EDITS: BetaContextManagementConfigParam = {
    "edits": [
        {
            "type": "clear_tool_uses_20250919",
            "trigger": {"type": "input_tokens", "value": 1_000},
            "keep": {"type": "tool_uses", "value": 2},
        }
    ]
}


def test_old_tool_results_are_cleared_before_an_openai_format_model_reads_them(
    claude: anthropic.Anthropic, mock_upstream: Proc
) -> None:
    answer = claude.beta.messages.create(
        model="gpt-mock",
        max_tokens=100,
        betas=["context-management-2025-06-27"],
        tools=[{"name": "read", "input_schema": {"type": "object"}}],
        messages=_session(5),
        context_management=EDITS,
    )
    assert answer.content
    sent = httpx.get(mock_upstream.url + "/_mock/stats").json()["last_request"]["body"]
    results = [m["content"] for m in sent["messages"] if m["role"] == "tool"]
    assert results[:3] == [PLACEHOLDER] * 3
    assert [r.split(" ")[0] for r in results[3:]] == ["3", "4"]
    assert "context_management" not in sent


def test_the_count_is_of_what_the_gateway_sends(claude: anthropic.Anthropic) -> None:
    """An estimated count (no deployment of the model counts) is of the conversation with its
    edits applied, and says the count before them, as Claude's count does."""
    counted = claude.beta.messages.count_tokens(
        model="gpt-mock",
        betas=["context-management-2025-06-27"],
        messages=_session(5),
        context_management=EDITS,
    )
    assert counted.context_management is not None
    before = counted.context_management.original_input_tokens
    assert before > 5 * 1_000 and counted.input_tokens < before / 2
    plain = claude.beta.messages.count_tokens(model="gpt-mock", messages=_session(5))
    assert plain.input_tokens == before and plain.context_management is None
