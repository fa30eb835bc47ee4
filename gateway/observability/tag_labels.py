"""The `value` label of the `gateway_tag_*` series: a tag's value as the request log shows it.

A tag listed in `[metrics] tag_labels` becomes a label, and a label is kept by Prometheus for
months and shown to everyone who can open Grafana: it must not say more than the record does.
With `[logging] redact_pii_in_logs` its value goes through the one function that redacts the
record's tags (`LogRedactor.text`), so `user=jane@example.com` is labelled `<EMAIL_ADDRESS>`;
secrets are out of it already (the record's tags are scrubbed when it is built).

Each tag keeps the labels of the first `most` distinct values it saw (per process); a value
past those counts as `other`, so an unbounded tag cannot grow the series without bound. The
label of a value is computed once, when it is first seen: the redactor runs at most `most`
times per tag per process, whatever the traffic.
"""

from __future__ import annotations

from collections.abc import Callable

OTHER = "other"


class TagLabels:
    """`label(tag, value, most)`: the label of one tag value (`redact`: the record's redaction
    of a tag value, when the record is redacted)."""

    def __init__(self, redact: Callable[[str], str] | None = None) -> None:
        self.redact = redact
        # Per tag: each distinct value seen (as the record holds it) -> its label.
        self._labels: dict[str, dict[str, str]] = {}

    def label(self, tag: str, value: str, most: int) -> str:
        """The label of `value`: redacted when the record is; `other` past `most` values."""
        labels = self._labels.get(tag)
        if labels is None:
            labels = self._labels[tag] = {}
        found = labels.get(value)
        if found is not None:
            return found
        if len(labels) >= most:
            return OTHER
        redact = self.redact
        found = labels[value] = value if redact is None else redact(value)
        return found
