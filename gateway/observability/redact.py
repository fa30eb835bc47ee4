"""`[logging] redact_pii_in_logs`: every PII value of a record replaced by `<ENTITY>`: in the
logged bodies and prompt variables, and in the fields a client or an upstream writes (`user`,
`tags`, `session_id`, `error_message`: an end user named by an email, an upstream error quoting
the prompt).

Runs in the record writer's thread (the sink's `transform`), never on the event loop; only the
tag labels of /metrics are redacted on it, once per distinct value (tag_labels.py). Uses the
PII guardrail's offline detector with its default entities, built on first use.
"""

from __future__ import annotations

import threading
from typing import Any

from gateway.config.types import GuardrailConfig

_LOG_GUARDRAIL = GuardrailConfig(name="log-redaction", type="pii", action="redact")
# The record's fields that may hold text from a client or an upstream.
_REDACTED_FIELDS = (
    "request",
    "response",
    "prompt_variables",
    "user",
    "tags",
    "session_id",
    "error_message",
)


class LogRedactor:
    def __init__(self) -> None:
        self._detector: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._detector is None:
                from gateway.guardrails.pii import build_pii

                self._detector = build_pii(_LOG_GUARDRAIL, {})
            return self._detector

    def text(self, value: str) -> str:
        """`value` with each PII finding replaced by `<ENTITY>`: what every string of a record
        becomes, and the `value` label of a tag listed in `[metrics] tag_labels`."""
        findings = self._get().scan(value)
        for finding in sorted(findings, key=lambda f: f.start, reverse=True):
            value = value[: finding.start] + f"<{finding.entity}>" + value[finding.end :]
        return value

    def value(self, value: Any) -> Any:
        """A copy of a JSON value with PII redacted in every string."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        for field in _REDACTED_FIELDS:
            if record.get(field) is not None:
                record[field] = self.value(record[field])
        return record
