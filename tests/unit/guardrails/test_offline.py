"""The PII engine builds and scans with the network off (no spaCy or suffix-list download)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from gateway.config.types import GuardrailConfig, RecognizerConfig
from gateway.guardrails import pii
from gateway.guardrails.compiled import GuardrailSet
from gateway.guardrails.pii import build_pii


def test_builds_and_scans_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    custom = RecognizerConfig(
        entity="EMPLOYEE_ID", patterns=(r"\bEMP-\d{6}\b",), context=("employee",), score=0.4
    )
    detector = build_pii(GuardrailConfig(name="pii", type="pii", recognizers=(custom,)), {})
    text = (
        "Employee EMP-123456 wrote from ana@example.co.uk. "
        "Later that week a visitor found a badge, EMP-654321."
    )
    found = [(f.entity, text[f.start : f.end]) for f in detector.scan(text)]
    assert ("EMAIL_ADDRESS", "ana@example.co.uk") in found
    # 0.4 alone is under the 0.5 threshold: the context word "employee" lifts the first one only.
    assert ("EMPLOYEE_ID", "EMP-123456") in found
    assert ("EMPLOYEE_ID", "EMP-654321") not in found


def test_deny_list_recognizer(compile_set: Callable[..., GuardrailSet]) -> None:
    custom = RecognizerConfig(entity="PROJECT", deny_list=("Project Bluebird", "Nightjar"))
    guards = compile_set(
        GuardrailConfig(
            name="codes", type="pii", action="redact", entities=("PROJECT",), recognizers=(custom,)
        )
    )
    detector = guards.input[0].detector
    assert detector is not None
    text = "Status of project bluebird and NIGHTJAR, not nightjars."
    assert [text[f.start : f.end] for f in detector.scan(text)] == ["project bluebird", "NIGHTJAR"]


def test_ner_engine_without_model_falls_back_to_patterns(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pii, "ner_model_installed", lambda: False)
    detector = build_pii(GuardrailConfig(name="ner", type="pii", engine="ner"), {})
    assert "needs the spaCy model" in caplog.text
    assert [f.entity for f in detector.scan("write to a@b.com")] == ["EMAIL_ADDRESS"]
