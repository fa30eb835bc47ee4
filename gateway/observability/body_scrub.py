"""Secrets out of the bodies a record or a span keeps (`include_bodies`, `capture_content`).

A body is any JSON value a client sent or an upstream answered: a provider key a user pasted
into a prompt, or one an upstream echoes (some proxies copy the request's headers into an error
body or a debug field), would else be written as it is. Every string of it, and every name of an
object, goes through the request's `Secrets` (gateway/scrub.py): the configured secrets in any
encoding, and the credential shapes (`sk-...`, `Bearer <token>`, a JWT, ...).

The strings are scrubbed one by one, not the serialised JSON: a known secret that starts with a
letter of an escape (`\\n`, `\\u00e9`) would be cut out of the middle of it, leaving invalid
JSON, and the shapes need a word boundary that `\\nsk-...` does not have in the JSON text (it
has one in the string: a newline).

Runs off the event loop: in the record writer's thread and in the trace export thread, a long
string a window at a time (`Secrets.scrub_long`), so the GIL it holds is never held for a whole
MB. The cost per MB is in docs/request-log.md.
"""

from __future__ import annotations

from typing import Any

from gateway.scrub import Secrets

# The fields of a record that hold bodies (`[logging] include_bodies`); the short fields are
# scrubbed as the record is built (gateway/pipeline/record_text.py).
BODY_FIELDS = ("request", "response", "prompt_variables")


def scrub_json(value: Any, secrets: Secrets) -> Any:
    """A copy of the JSON value `value` with every string and object name scrubbed. Two names
    that scrub the same keep the last one's value."""
    if isinstance(value, str):
        return secrets.scrub_long(value)
    if isinstance(value, dict):
        scrub = secrets.scrub
        return {
            (scrub(name) if isinstance(name, str) else name): scrub_json(item, secrets)
            for name, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub_json(item, secrets) for item in value]
    return value


def scrub_bodies(record: dict[str, Any], secrets: Secrets) -> dict[str, Any]:
    """A copy of `record` with its body fields scrubbed (the record and its bodies, shared with
    the request, are left as they are)."""
    scrubbed = dict(record)
    for field in BODY_FIELDS:
        if scrubbed.get(field) is not None:
            scrubbed[field] = scrub_json(scrubbed[field], secrets)
    return scrubbed
