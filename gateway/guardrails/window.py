"""The sliding window of a streamed text: push deltas, get back what may be released.

The window scans what it holds (plus some released context) and releases everything except the
tail that could still grow into a finding (`GuardrailSet.hold`); findings are acted on as text is
released, and `restore` placeholders are put back in what is released.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.errors import ContentBlocked
from gateway.guardrails.base import (
    PLACEHOLDER_TAIL,
    PLACEHOLDER_WINDOW,
    Finding,
    Placeholders,
    json_escape,
    suffix_run,
)
from gateway.guardrails.compiled import CONTEXT_CHARS, Decision, Guard, GuardrailSet, decide

Recorder = Callable[[Decision], None]


class TextWindow:
    """One growing text: push deltas, get back what may be released (rewritten as needed)."""

    def __init__(
        self,
        guards: GuardrailSet,
        placeholders: Placeholders | None,
        record: Recorder,
        json_string: bool = False,
        keep: bool = False,
    ) -> None:
        # The text is the inside of a JSON string (streamed tool-call arguments): a restored
        # value goes back escaped.
        self._encode = json_escape if json_string else None
        self._guards = guards
        self._placeholders = placeholders
        self._restoring = placeholders is not None and bool(placeholders.by_placeholder)
        self._record = record
        self.buffer = ""
        self._context = ""
        # `keep`: what was released as the guardrails left it, before `restore` put values
        # back (what a moderation model may read once the stream ends).
        self.kept: list[str] | None = [] if keep else None

    def push(self, text: str) -> str:
        self.buffer += text
        return self._release(final=False)

    def flush(self) -> str:
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        buffer = self.buffer
        if not buffer:
            return ""
        cut = len(buffer) if final else len(buffer) - self._guards.hold(buffer, self._restoring)
        if self._restoring and 0 < cut < len(buffer):
            # A guardrail's hold (a regex's width, a sentence) may end inside a placeholder:
            # release up to its start, or its halves would never be put back.
            cut -= suffix_run(PLACEHOLDER_TAIL, buffer[:cut], PLACEHOLDER_WINDOW)
        if cut <= 0:
            return ""
        base = len(self._context)
        scanned = self._context + buffer
        results: list[tuple[Guard, list[Finding]]] = []
        for guard in self._guards.output:
            if guard.detector is None:
                continue
            findings = [f for f in guard.check(scanned) if f.end > base or f.end == f.start]
            results.append((guard, findings))
            for f in findings:
                # Never release half of a finding: stop before it and wait for the rest.
                if base <= f.start < base + cut < f.end:
                    cut = f.start - base
        if cut <= 0 and not final:
            # Blocks do not wait for the entity to be complete.
            self._act(scanned[:base], results, only_blocks=True)
            return ""
        limit = base + cut
        inside = [
            (g, [_clip(f, base) for f in fs if f.end <= limit or f.end == f.start])
            for g, fs in results
        ]
        released = self._act(scanned[:limit], inside, only_blocks=False)[base:]
        self._context = (self._context + buffer[:cut])[-CONTEXT_CHARS:]
        self.buffer = buffer[cut:]
        if self.kept is not None and released:
            self.kept.append(released)
        if self._restoring and self._placeholders is not None:
            released = self._placeholders.restore(released, self._encode)
        return released

    def _act(self, text: str, results: list[tuple[Guard, list[Finding]]], only_blocks: bool) -> str:
        if only_blocks:
            results = [(g, fs) for g, fs in results if g.action == "block" and fs]
        decision = decide(text, results, self._placeholders)
        if decision.hits:
            self._record(decision)
        if decision.blocked is not None:
            raise ContentBlocked(
                f"the answer was stopped by the guardrail '{decision.blocked.name}'"
            )
        return decision.text


def _clip(finding: Finding, base: int) -> Finding:
    if finding.start >= base or finding.end == finding.start:
        return finding
    return Finding(finding.entity, base, finding.end, finding.score)
