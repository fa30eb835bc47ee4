"""A long text is scanned in a worker thread by every local guardrail type, so one tenant's
large prompt never stalls the event loop for the others."""

from __future__ import annotations

import threading
from typing import cast

import pytest

from gateway.config.types import GuardrailConfig
from gateway.guardrails.base import Detector, Finding
from gateway.guardrails.compiled import Guard, compile_guardrails
from gateway.pipeline.context import RequestContext
from gateway.pipeline.guard_scan import scan as _scan
from gateway.pipeline.services import Services

CONFIGS = {
    "pii": GuardrailConfig(name="pii", type="pii"),
    "regex": GuardrailConfig(
        name="codes", type="regex", patterns=(r"\bPRJ-\d{4}\b",), deny_list=("Bluebird",)
    ),
    "prompt_injection": GuardrailConfig(name="inj", type="prompt_injection"),
}


class Where:
    """The real detector, noting the thread each scan ran in."""

    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        self.window = detector.window
        self.inline_limit = detector.inline_limit
        self.threads: list[int] = []

    def scan(self, text: str) -> list[Finding]:
        self.threads.append(threading.get_ident())
        return self.detector.scan(text)

    def tail(self, text: str) -> int:
        return self.detector.tail(text)


@pytest.mark.parametrize("kind", sorted(CONFIGS))
async def test_a_long_text_is_scanned_off_the_event_loop(kind: str) -> None:
    (guard,) = compile_guardrails([CONFIGS[kind]]).input
    assert guard.detector is not None
    where = Where(guard.detector)
    probe = Guard(guard.config, where)
    nobody = cast(RequestContext, None)  # only a moderation guardrail reads them
    services = cast(Services, None)
    await _scan(probe, "Summarise the quarterly numbers, please. " * 30, nobody, services)
    await _scan(probe, "Summarise the quarterly numbers, please. " * 5000, nobody, services)
    short, long = where.threads
    assert short == threading.get_ident()
    assert long != threading.get_ident()
