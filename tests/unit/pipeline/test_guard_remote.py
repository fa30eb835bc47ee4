"""A moderation guardrail asks a model through the routing: that model is a provider too, so it
reads the text as the guardrails before it left it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from gateway.config.types import GuardrailConfig
from gateway.guardrails.base import Finding, Placeholders
from gateway.guardrails.bodies import input_groups
from gateway.guardrails.compiled import Guard, compile_guardrails
from gateway.guardrails.moderation import Complete, ModerationCheck
from gateway.pipeline.context import RequestContext
from gateway.pipeline.guard import _apply
from gateway.pipeline.services import Services

MODERATION = GuardrailConfig(
    name="mod", type="moderation", model="m", applies_to="input", on_error="allow"
)


class Asked(ModerationCheck):
    """Notes the text the moderation model would be asked about; judges it safe."""

    def __init__(self) -> None:
        super().__init__(MODERATION)
        self.texts: list[str] = []

    async def scan(self, text: str, complete: Complete) -> list[Finding]:
        self.texts.append(text)
        return []


async def test_moderation_never_sees_the_values_restore_keeps_from_the_provider() -> None:
    (pii,) = compile_guardrails(
        [GuardrailConfig(name="pii", type="pii", applies_to="input", action="restore")]
    ).input
    asked = Asked()
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": "mail jane.doe@example.org please"}]
    }
    ctx = cast(RequestContext, SimpleNamespace(guardrails=[]))
    guards = (pii, Guard(MODERATION, remote=asked))
    groups = input_groups(body, "chat")
    await _apply(guards, groups, "input", ctx, cast(Services, None), Placeholders())
    assert asked.texts == ["mail <EMAIL_ADDRESS_1> please"]
    assert body["messages"][0]["content"] == "mail <EMAIL_ADDRESS_1> please"
