"""The encoded forms in which `hostile_upstream.py` echoes the key it was sent (upstream model
`echo-<form>`)."""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Callable


def _b64(text: str, alphabet: bytes | None = None) -> str:
    return base64.b64encode(text.encode(), altchars=alphabet).decode()


def _json_dump(key: str) -> str:
    """A debug dump of the request's headers, by an encoder that writes `\\/` and `\\u002b`."""
    dump = json.dumps({"headers": {"authorization": f"Bearer {key}"}})
    return dump.replace("/", "\\/").replace("+", "\\u002b")


ECHOES: dict[str, Callable[[str], str]] = {
    "b64-alone": lambda key: _b64(key),
    "b64-colon": lambda key: _b64(f":{key}"),
    "b64-user": lambda key: _b64(f"user:{key}"),
    "b64-header": lambda key: _b64(f"authorization: Bearer {key}"),
    "b64url": lambda key: _b64(f"user:{key}", b"-_"),
    "url": lambda key: urllib.parse.quote(key, safe=""),
    "url-twice": lambda key: urllib.parse.quote(urllib.parse.quote(key, safe=""), safe=""),
    "json": _json_dump,
    "json-b64": lambda key: json.dumps({"basic": _b64(f"user:{key}")}).replace("/", "\\/"),
}
