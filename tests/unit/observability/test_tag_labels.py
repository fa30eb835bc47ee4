"""The `value` label of the tag series: capped per tag, redacted as the record is, and computed
once per distinct value."""

from __future__ import annotations

import time

from prometheus_client import generate_latest

from gateway.observability.metrics import Metrics
from gateway.observability.redact import LogRedactor
from gateway.observability.tag_labels import OTHER, TagLabels

RECORD = {"model": "m", "status": 200, "tags": {"user": "jane@example.com", "env": "prod"}}


def _exposition(metrics: Metrics) -> str:
    metrics.observe_record(dict(RECORD), {"m"}, tag_labels=("user", "env"), tag_values_max=5)
    return generate_latest(metrics.registry).decode()


def test_an_email_in_a_tag_label_is_redacted_when_the_log_is() -> None:
    text = _exposition(Metrics(redact_tag=LogRedactor().text))
    assert "jane@example.com" not in text
    assert 'tag="user",value="<EMAIL_ADDRESS>"' in text
    assert 'tag="env",value="prod"' in text


def test_a_tag_label_is_the_value_as_sent_when_the_log_is_not_redacted() -> None:
    text = _exposition(Metrics())
    assert 'tag="user",value="jane@example.com"' in text


def test_each_distinct_value_is_redacted_once_and_values_past_the_cap_are_other() -> None:
    calls: list[str] = []

    def redact(value: str) -> str:
        calls.append(value)
        return value.upper()

    labels = TagLabels(redact)
    for _ in range(3):
        assert [labels.label("t", v, 2) for v in ("a", "b", "c")] == ["A", "B", OTHER]
    assert labels.label("u", "c", 2) == "C"  # the cap is per tag
    assert calls == ["a", "b", "c"]


def test_the_cost_of_a_label_printed() -> None:
    # A printout, not an assertion: what a tagged record adds to observe_record.
    redactor = LogRedactor()
    started = time.perf_counter()
    redactor.text("warm up")
    built = time.perf_counter() - started
    values = [f"user{i}@example.com" for i in range(20)]
    started = time.perf_counter()
    for value in values:
        redactor.text(value)
    first = (time.perf_counter() - started) / len(values)
    labels = TagLabels(redactor.text)
    for value in values:
        labels.label("user", value, 20)
    rounds = 100_000
    started = time.perf_counter()
    for i in range(rounds):
        labels.label("user", values[i % 20], 20)
    cached = (time.perf_counter() - started) / rounds
    print(
        f"\nredactor built in {built * 1e3:.1f} ms; a new value redacted in {first * 1e6:.1f} us;"
        f" a value seen before labelled in {cached * 1e6:.3f} us"
    )
