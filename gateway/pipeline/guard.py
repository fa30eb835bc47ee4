"""The pipeline stages: `guard_input` (before the cache and the provider) and `guard_output`
(on the answer, JSON or stream).

Both look up the compiled guardrails of the key's policy (`Runtime.guardrails`), run them in
order over every text of the body at once, and apply the actions. A policy without guardrails
costs one dict lookup. Large inputs are scanned in a worker thread so one long prompt never
stalls the event loop (each detector says from what length: `inline_limit`); small PII scans
(the common case, ~0.2 ms of CPU) run inline, where a thread hop would cost more than it saves.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from itertools import chain
from typing import Any

import orjson

from gateway.errors import ContentBlocked, InvalidRequest
from gateway.guardrails.base import (
    Finding,
    Placeholders,
    Taken,
    json_escape,
    rewrite,
)
from gateway.guardrails.bodies import (
    SEPARATOR,
    Slot,
    input_groups,
    output_groups,
    string_slots,
    summary_slots,
    token_ids_param,
    unread_output_param,
)
from gateway.guardrails.compiled import ERROR_ENTITY, Guard, GuardrailSet, decide
from gateway.pipeline.context import RequestContext
from gateway.pipeline.guard_scan import record, scan
from gateway.pipeline.guard_stream import guard_stream
from gateway.pipeline.services import Services

_NO_GUARDS = GuardrailSet()


def _guardrails(ctx: RequestContext) -> GuardrailSet | None:
    if ctx.key is None:
        return None
    return ctx.runtime.guardrails.get(ctx.key.policy)


def _join(groups: list[list[Slot]], apart: bool = False) -> tuple[str, list[tuple[int, int]]]:
    """One text for a scan: the parts of a group joined as they are (a value split across two
    parts is still seen), groups joined by SEPARATOR; and each slot's span in it, in order.
    `apart`: every part on its own, between SEPARATORs."""
    pieces: list[str] = []
    spans: list[tuple[int, int]] = []
    position = 0
    for number, group in enumerate(groups):
        for part, (container, key) in enumerate(group):
            if (number and not part) or (apart and part):
                pieces.append(SEPARATOR)
                position += len(SEPARATOR)
            text = container[key]
            pieces.append(text)
            spans.append((position, position + len(text)))
            position += len(text)
    return "".join(pieces), spans


def _add_apart(
    found: list[Finding],
    alone: list[Finding],
    apart_spans: list[tuple[int, int]],
    spans: list[tuple[int, int]],
) -> list[Finding]:
    """`found` (in the joined text) and the findings of the parts read apart that it lacks,
    moved to the joined text's positions."""
    taken = Taken()
    for f in found:
        if f.end > f.start:
            taken.add(f.start, f.end)
    starts = [start for start, _ in apart_spans]
    added: list[Finding] = []
    for f in alone:
        slot = bisect.bisect_right(starts, f.start) - 1
        if f.end <= f.start or slot < 0 or f.end > apart_spans[slot][1]:
            continue  # an error (`on_error` already came from the joined scan) or no part's
        shift = spans[slot][0] - apart_spans[slot][0]
        if not taken.overlaps(f.start + shift, f.end + shift):
            added.append(Finding(f.entity, f.start + shift, f.end + shift, f.score))
            taken.add(f.start + shift, f.end + shift)
    return sorted(found + added, key=lambda f: f.start) if added else found


def _write_back(
    slots: list[Slot], spans: list[tuple[int, int]], edits: list[tuple[int, int, str]]
) -> None:
    """Apply edits of the joined text to the slots, part boundaries kept: an edit across parts
    leaves its replacement in the first part it covers and removes its text from the others.
    Slots and edits are both in text order: one pass over each."""
    first_edit = 0
    placed: set[int] = set()
    for (container, key), (start, end) in zip(slots, spans, strict=True):
        while first_edit < len(edits) and edits[first_edit][1] <= start:
            first_edit += 1  # ends before this slot, so before every later one too
        local: list[tuple[int, int, str]] = []
        number = first_edit
        while number < len(edits) and edits[number][0] < end:
            first, last, replacement = edits[number]
            if last > start:
                # The replacement goes in the first part the edit covers; later ones lose text.
                kept = "" if number in placed else replacement
                placed.add(number)
                local.append((max(first, start) - start, min(last, end) - start, kept))
            number += 1
        if local:
            container[key] = rewrite(container[key], local)


async def _apply(
    guards: Sequence[Guard],
    groups: list[list[Slot]],
    stage: str,
    ctx: RequestContext,
    services: Services,
    placeholders: Placeholders | None,
) -> bool:
    """Run `guards` over the texts of `groups`, rewrite them in place; True when any changed."""
    joined, spans = _join(groups)
    # Parts read as one text can glue a whole value to the next part (`...@example.org` +
    # `thanks`): local detectors also read every part on its own.
    apart = _join(groups, apart=True) if any(len(group) > 1 for group in groups) else None
    results: list[tuple[Guard, list[Finding]]] = []
    for guard in guards:
        text = joined
        if guard.remote is not None and any(findings for _, findings in results):
            # A moderation model is a provider too: it reads the text as the guardrails before
            # it left it (redacted, placeholders for `restore`), never the values they took out.
            text = decide(joined, results, placeholders).text
        findings = await scan(guard, text, ctx, services)
        if apart is not None and guard.remote is None:
            alone = await scan(guard, apart[0], ctx, services)
            findings = _add_apart(findings, alone, apart[1], spans)
        results.append((guard, findings))
        if findings and (
            guard.action == "block"
            or guard.config.on_error == "block"
            and findings[0].entity == ERROR_ENTITY
        ):
            break
    decision = decide(joined, results, placeholders)
    if decision.hits:
        record(ctx, stage, decision)
    if decision.blocked is not None:
        entities = ", ".join(decision.hits[-1][2])
        where = "request" if stage == "input" else "answer"
        raise ContentBlocked(
            f"the {where} was blocked by the guardrail '{decision.blocked.name}' ({entities})"
        )
    if not decision.edits:
        return False
    _write_back([slot for group in groups for slot in group], spans, decision.edits)
    return True


async def guard_input(ctx: RequestContext, services: Services) -> None:
    """Pipeline stage: scan what goes to the provider; block, or rewrite `ctx.body` in place."""
    guards = _guardrails(ctx)
    if guards is None:
        return
    if guards.rewrites_output and ctx.body is not None:
        asked = unread_output_param(ctx.body, ctx.endpoint.kind)
        if asked is not None:
            # Token log probabilities and audio would carry what the guardrails take out of
            # the text: refused rather than sent unscanned.
            raise InvalidRequest(
                f"this key's output guardrails cannot inspect what '{asked}' asks for (token "
                "log probabilities and audio repeat the answer's text): send the request "
                "without it",
                param=asked,
            )
    if not guards.input or ctx.body is None:
        return
    unread = token_ids_param(ctx.body, ctx.endpoint.kind)
    if unread is not None:
        # Token ids carry text no guardrail reads: refused rather than passed unscanned.
        raise InvalidRequest(
            f"this key's input guardrails read text: send '{unread}' as a string or an array "
            "of strings, not token ids",
            param=unread,
        )
    # A conversation's follow-up starts from its earlier turns' map (`continue_conversation`).
    placeholders = (ctx.placeholders or Placeholders()) if guards.restores else None
    ctx.placeholders = placeholders
    groups = input_groups(ctx.body, ctx.endpoint.kind)
    if groups:
        await _apply(guards.input, groups, "input", ctx, services, placeholders)


async def guard_output(ctx: RequestContext, services: Services) -> None:
    """Pipeline stage: scan the answer; block it, rewrite it, put `restore` values back."""
    guards = _guardrails(ctx)
    restoring = ctx.placeholders is not None and bool(ctx.placeholders.by_value)
    placeholders = ctx.placeholders if restoring else None
    if (guards is None or not guards.output) and placeholders is None:
        return
    if ctx.endpoint.kind == "embeddings":
        # Vectors, no text: nothing to scan or put back, and walking every number of a batch
        # (2,048 x 3,072 floats) for strings would hold the event loop for seconds.
        return
    guards = guards or _NO_GUARDS
    if ctx.stream_reply is not None:
        await guard_stream(ctx, services, guards, placeholders)
        return
    data = ctx.response_json
    if not isinstance(data, dict):
        return
    changed = False
    groups = output_groups(data, ctx.endpoint.wire)
    if groups and guards.output:
        changed = await _apply(guards.output, groups, "output", ctx, services, None)
    if placeholders is not None:
        changed = _restore(data, placeholders) or changed
    if changed:
        ctx.response_body = orjson.dumps(data)


def _restore(data: dict[str, Any], placeholders: Placeholders) -> bool:
    """Placeholders back in every string of the answer; in tool-call `arguments` (JSON text)
    a value goes back JSON-escaped."""
    changed = False
    slots = chain(string_slots(data), summary_slots(data.get("output")))
    for container, key in slots:
        before = container[key]
        after = placeholders.restore(before, json_escape if key == "arguments" else None)
        if after != before:
            container[key] = after
            changed = True
    return changed
