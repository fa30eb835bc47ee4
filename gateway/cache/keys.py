"""The exact cache's key: a hash of the whole request body as forwarded (endpoint and public
model included), minus the fields that never change the answer (`IGNORED_FIELDS`), namespaced
per team when the policy says `per_team = true`."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

# The fields that never change the answer: everything else in the body is part of the key.
# `stream`/`stream_options` change only the framing (entries convert between JSON and stream);
# `user` and `metadata` label the request for the provider's own bookkeeping.
IGNORED_FIELDS = frozenset({"stream", "stream_options", "user", "metadata"})
# A Responses API answer is a response object that echoes the request's `metadata` and `user`:
# there they are part of the answer, so part of the key.
RESPONSES_IGNORED_FIELDS = frozenset({"stream", "stream_options"})


def cache_key(
    endpoint: str,
    body: dict[str, Any],
    namespace: str | None,
    ignored: frozenset[str] = IGNORED_FIELDS,
) -> str:
    """The key of the answer to `body`: a hash of the whole forwarded body (keys sorted, so the
    order fields came in does not matter) minus `ignored`. Any other field, known or not
    (`modalities`, `service_tier`, vLLM's `guided_json`, ...), may change the answer, so two
    requests differing in one never share an entry."""
    kept = {name: value for name, value in body.items() if name not in ignored}
    digest = hashlib.sha256(orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{namespace or '-'}:{endpoint}:{digest}"
