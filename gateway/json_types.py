"""The type of a JSON object as the gateway reads and writes it (request and response bodies,
stream events, usage blocks), defined once for every module that translates or builds them.

Its values are `Any` on purpose: a body's shape is whatever its sender chose, and the code that
reads a field checks its type where it matters (`gateway.validation` for requests; each
translator before it uses a field of an upstream's answer).
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]
