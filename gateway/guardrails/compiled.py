"""Policy guardrails compiled once per config, and how findings turn into actions.

`build_guardrail_sets(config)` runs when a config is (re)loaded (it lives on `Runtime`), so no
request ever compiles a regex or loads an engine. `Guard.check` runs one detector and maps a
failure to its `on_error`; `decide` turns the findings of several guards over one text into
the rewritten text, or the guard that blocks it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gateway.config.types import GatewayConfig, GuardrailConfig
from gateway.guardrails.base import (
    PLACEHOLDER,
    PLACEHOLDER_TAIL,
    PLACEHOLDER_WINDOW,
    Detector,
    Finding,
    GuardrailUnavailable,
    Placeholders,
    Taken,
    mask,
    rewrite,
    suffix_run,
)
from gateway.guardrails.moderation import ModerationCheck

log = logging.getLogger("gateway.guardrails")

ERROR_ENTITY = "GUARDRAIL_ERROR"
# Released text a stream's window keeps as left context for its next scan (context words,
# word boundaries).
CONTEXT_CHARS = 48


@dataclass(frozen=True)
class Guard:
    config: GuardrailConfig
    # None for `moderation`, which is asked asynchronously (see `remote`).
    detector: Detector | None = None
    remote: ModerationCheck | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def action(self) -> str:
        return self.config.action

    def check(self, text: str) -> list[Finding]:
        """The detector's findings; a failure becomes one ERROR finding (`on_error` decides)."""
        assert self.detector is not None
        try:
            return self.detector.scan(text)
        except Exception as exc:  # noqa: BLE001 - any failure must follow on_error, never pass silently
            log.warning("guardrail %s failed: %s", self.name, exc)
            return [Finding(ERROR_ENTITY, 0, 0, 1.0)]


@dataclass(frozen=True)
class GuardrailSet:
    """The compiled guardrails of one policy, split by the stage they run in."""

    input: tuple[Guard, ...] = ()
    output: tuple[Guard, ...] = ()
    # A guardrail replaces input values with placeholders that the answer gets back.
    restores: bool = False
    # An output guardrail may change or stop the answer (any action but `log`).
    rewrites_output: bool = False
    # A streamed chunk longer than this may make an output scan longer than a detector's
    # `inline_limit` (the chunk, plus what a window holds and its context): it is converted in
    # a worker thread. 0: every chunk (a classifier that never runs on the event loop).
    stream_inline_limit: int = 1 << 62

    def hold(self, text: str, restoring: bool) -> int:
        """Characters at the end of a streamed text that must wait for the next chunk."""
        held = max(
            (g.detector.tail(text) for g in self.output if g.detector is not None), default=0
        )
        if restoring:
            held = max(held, suffix_run(PLACEHOLDER_TAIL, text, PLACEHOLDER_WINDOW))
        return held


@dataclass
class Decision:
    text: str
    blocked: Guard | None
    # (guard, action taken, entity types) for the record.
    hits: list[tuple[Guard, str, list[str]]]
    # The (start, end, replacement) edits that made `text`, sorted by start.
    edits: list[tuple[int, int, str]] = field(default_factory=list)


def decide(
    text: str, results: Sequence[tuple[Guard, list[Finding]]], placeholders: Placeholders | None
) -> Decision:
    """Apply each guard's action to its findings; earlier guards win where findings overlap."""
    hits: list[tuple[Guard, str, list[str]]] = []
    edits: list[tuple[int, int, str]] = []
    # Placeholder-like strings the text already holds: `restore` never hands them out.
    in_text: frozenset[str] | None = None
    edited = Taken()
    for guard, findings in results:
        if not findings:
            continue
        errors = [f for f in findings if f.entity == ERROR_ENTITY]
        if errors:
            action = "error_block" if guard.config.on_error == "block" else "error_allow"
            hits.append((guard, action, [ERROR_ENTITY]))
            if action == "error_block":
                return Decision(text, guard, hits)
            findings = [f for f in findings if f.entity != ERROR_ENTITY]
            if not findings:
                continue
        entities = sorted({f.entity for f in findings})
        hits.append((guard, guard.action, entities))
        if guard.action == "block":
            return Decision(text, guard, hits)
        if guard.action == "log":
            continue
        for f in findings:
            if f.end <= f.start or edited.overlaps(f.start, f.end):
                continue
            value = text[f.start : f.end]
            if guard.action == "redact":
                replacement = f"<{f.entity}>"
            elif guard.action == "mask":
                replacement = mask(value)
            else:  # restore
                assert placeholders is not None
                if in_text is None:
                    in_text = frozenset(PLACEHOLDER.findall(text))
                replacement = placeholders.placeholder(f.entity, value, in_text)
            edits.append((f.start, f.end, replacement))
            edited.add(f.start, f.end)
    edits.sort()
    return Decision(rewrite(text, edits), None, hits, edits)


def _build_guard(config: GuardrailConfig, analyzers: dict[Any, Any]) -> Guard:
    kind = config.type
    try:
        if kind == "pii":
            from gateway.guardrails.pii import build_pii

            return Guard(config, build_pii(config, analyzers))
        if kind == "regex":
            from gateway.guardrails.regex import RegexDetector

            return Guard(config, RegexDetector(config))
        if kind == "toxicity":
            from gateway.guardrails.toxicity import ToxicityDetector

            return Guard(config, ToxicityDetector(config))
        if kind == "prompt_injection":
            from gateway.guardrails.injection import InjectionDetector

            return Guard(config, InjectionDetector(config))
        return Guard(config, remote=ModerationCheck(config))
    except GuardrailUnavailable as exc:
        log.warning(
            "guardrail %s is unavailable (%s): on_error = %s applies to every request",
            config.name,
            exc,
            config.on_error,
        )
        return Guard(config, _Unavailable(str(exc)))


class _Unavailable:
    """Stands in for a detector that could not be built; every scan fails, so on_error applies."""

    window = 0
    inline_limit = 1_000_000

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def scan(self, text: str) -> list[Finding]:
        raise GuardrailUnavailable(self.reason)

    def tail(self, text: str) -> int:
        return 0


def compile_guardrails(
    guardrails: Sequence[GuardrailConfig], analyzers: dict[Any, Any] | None = None
) -> GuardrailSet:
    analyzers = {} if analyzers is None else analyzers
    guards = [_build_guard(g, analyzers) for g in guardrails]
    # `restore` acts on the answer by putting values back, not by scanning it.
    output = tuple(
        g for g in guards if g.config.applies_to in ("output", "both") and g.action != "restore"
    )
    return GuardrailSet(
        input=tuple(g for g in guards if g.config.applies_to in ("input", "both")),
        output=output,
        restores=any(g.action == "restore" for g in guards),
        rewrites_output=any(g.action != "log" for g in output),
        stream_inline_limit=_stream_inline_limit([g.detector for g in output if g.detector]),
    )


def _stream_inline_limit(detectors: Sequence[Detector]) -> int:
    """The longest stream chunk every output scan it causes stays within each detector's
    `inline_limit` for: a window scans the chunk, the tail it held back (at most the longest
    detector window) and its context."""
    if not detectors:
        return GuardrailSet.stream_inline_limit
    held = max(d.window for d in detectors) + CONTEXT_CHARS
    return max(0, min(d.inline_limit for d in detectors) - held)


def build_guardrail_sets(config: GatewayConfig) -> Mapping[str, GuardrailSet]:
    """Every policy's compiled guardrails, by policy name; policies without any are left out."""
    analyzers: dict[Any, Any] = {}  # one presidio engine per distinct PII setup in this config
    sets = {
        name: compile_guardrails(policy.guardrails, analyzers)
        for name, policy in config.policies.items()
        if policy.guardrails
    }
    return MappingProxyType(sets)


Recorder = Callable[[Guard, str, list[str]], None]
