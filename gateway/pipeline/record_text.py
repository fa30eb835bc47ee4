"""The record's short fields that hold a client's or an upstream's text, as records, traces and
metrics keep them: secrets scrubbed (`Secrets.scrub`: a careless client may put a provider key
or a `Bearer sk-...` in its `user`, an upstream may quote one anywhere) and at most
`MAX_TEXT_CHARS` characters.

Which fields (docs/request-log.md): `model` when it names no configured model, `user`,
`session_id`, the tags' names and values, `finish_reason`, each attempt's `error`, and the
traced `response_model`. `upstream_request_id` is scrubbed and bounded when it is taken
(`gateway.routing.upstream_headers`); `user`, `session_id` and tags are bounded when they are
read (`gateway.pipeline.attribution`, a 400 past them). Most requests have none of these but
`finish_reason`, whose usual values (`observability.finish_reasons.USUAL_REASONS`) skip the
scrub.
"""

from __future__ import annotations

from gateway.scrub import Secrets

# As a tag value or an id is (attribution.MAX_VALUE) and a span's model name is.
MAX_TEXT_CHARS = 256


def record_text(secrets: Secrets, text: str | None) -> str | None:
    """`text` scrubbed, then cut at `MAX_TEXT_CHARS` (scrubbed first: a cut could leave
    the head of a key no pattern knows)."""
    if not text:
        return text
    text = secrets.scrub(text)
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS]
