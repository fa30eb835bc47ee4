"""What both guard stages share: one guardrail's scan of one text (on the event loop, in a
worker thread, or through the moderation model), and the record of what the guardrails did."""

from __future__ import annotations

import asyncio

from gateway.guardrails.base import Finding, GuardrailUnavailable
from gateway.guardrails.compiled import ERROR_ENTITY, Decision, Guard
from gateway.pipeline.context import RequestContext
from gateway.pipeline.route import internal_completion
from gateway.pipeline.services import Services


def record(ctx: RequestContext, stage: str, decision: Decision) -> None:
    """Findings -> `ctx.guardrails` ({name, stage, action, entities}; never the values)."""
    for guard, action, entities in decision.hits:
        for entry in ctx.guardrails:
            if (
                entry["name"] == guard.name
                and entry["stage"] == stage
                and entry["action"] == action
            ):
                entry["entities"] = sorted(set(entry["entities"]) | set(entities))
                break
        else:
            ctx.guardrails.append(
                {"name": guard.name, "stage": stage, "action": action, "entities": entities}
            )


async def scan(guard: Guard, text: str, ctx: RequestContext, services: Services) -> list[Finding]:
    """`guard`'s findings in `text`; a text longer than its detector's `inline_limit` is
    scanned in a worker thread."""
    if guard.remote is not None:
        try:
            return await guard.remote.scan(text, internal_completion(ctx, services))
        except GuardrailUnavailable:
            return [Finding(ERROR_ENTITY, 0, 0)]
    assert guard.detector is not None
    if len(text) > guard.detector.inline_limit:
        return await asyncio.to_thread(guard.check, text)
    return guard.check(text)
