"""The gateway's own secrets out of the answers it sends (`scrubbed_answer`, `StreamScrub`).

An upstream that succeeds may still hand back a secret of the gateway's: a debug proxy or an
OpenAI-compatible server that echoes the request's headers into a field, a model that was
given the provider key in a prompt. Every answer body the gateway sends (a JSON answer, a
relayed stream, a cached answer served again, a stored response fetched) goes through here
first, under the config the request runs under (`RequestContext.runtime`): each configured
secret, in each form an echo gives it (`Secrets.scrub_known_bytes`), becomes `****`. The
shapes of credentials are left alone (unlike error text): `sk-...` and `Bearer <token>` are
what a model writes in a code sample.

A stream is scrubbed a line at a time: a secret's written forms hold no line break, so one
that straddles two upstream reads is whole in the line they make together. A piece that does
not end with a line break keeps its last, incomplete line back until the next piece (or the
end): no SSE client can use a line before its end, so this delays nothing a client can see;
a relayed event ends with its line break, so almost every piece is sent whole.

A secret written a few characters per event is never whole in one line: with configured
secrets (and `[server] split_secret_watch`), every piece then goes on to the stream's
`SplitSecretWatch` (gateway/http/split_secrets.py), which holds pieces back while the text of
their fields may still grow into a secret.

A scrub is logged (WARNING, naming the deployment, never the secret) at most once per
`EVERY_S` seconds per process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from gateway.http.split_secrets import SplitSecretWatch
from gateway.pipeline.context import RequestContext

log = logging.getLogger("gateway.http")

EVERY_S = 10.0
_last_warned = [float("-inf")]  # when the process last logged a scrubbed answer


def scrubbed_answer(ctx: RequestContext, body: bytes) -> bytes:
    """`body` without the configured secrets of the request's config (itself when it held
    none)."""
    clean = ctx.runtime.secrets.scrub_known_bytes(body)
    if clean is not body:
        _warn(ctx)
    return clean


class StreamScrub:
    """Scrubs one stream's pieces in order: `piece` gives what may be sent now, `end` the rest."""

    __slots__ = ("_ctx", "_find", "_search", "_watch", "check", "held")

    def __init__(self, ctx: RequestContext) -> None:
        self._ctx = ctx
        self.held = b""  # the incomplete last line of the pieces so far
        secrets = ctx.runtime.secrets
        # A secret written a few characters per event (gateway/http/split_secrets.py): with
        # configured secrets, every piece goes through `piece`.
        watching = secrets.stream_forms and ctx.runtime.config.server.split_secret_watch
        self._watch = SplitSecretWatch(secrets.stream_forms) if watching else None
        self._find = secrets.find_known_run
        self._search = self._find if self._watch is None else _holding
        # The quick test of the next piece that ends a line: when it says None, the piece goes
        # as it is (one search of its bytes, no call into `piece`: with the test of its last
        # byte, the usual piece's whole cost). While a line is held, it says "scrub" to every
        # piece.
        self.check: Callable[[bytes], object] = self._search

    def piece(self, data: bytes) -> bytes:
        """`data`, after what was held, up to its last line break, scrubbed (b"" when that is
        nothing); its incomplete last line is held for the next piece."""
        if self.held:
            data = self.held + data
            self.held = b""
        if not data.endswith(b"\n"):
            cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
            self.held = data[cut:]
            data = data[:cut]
        self.check = _holding if self.held else self._search
        if not data:
            return data
        if self._watch is None:
            return scrubbed_answer(self._ctx, data)
        # Every piece comes here when a stream is watched: the quick test first, as for the
        # piece `check` would pass (`scrubbed_answer` runs it again).
        if self._find(data) is not None:
            data = scrubbed_answer(self._ctx, data)
        return self._watch.feed(data)

    def end(self, data: bytes) -> bytes:
        """What was held and `data`, scrubbed: the stream's last bytes."""
        if self.held:
            data = self.held + data
            self.held = b""
        if data:
            data = scrubbed_answer(self._ctx, data)
        if self._watch is None:
            return data
        return self._watch.feed(data) + self._watch.flush()  # (`feed(b"")` adds nothing)


def _holding(_: bytes) -> bool:
    return True


def _warn(ctx: RequestContext) -> None:
    now = time.monotonic()
    if now - _last_warned[0] < EVERY_S:
        return
    _last_warned[0] = now
    deployment = ctx.exchange.deployment
    where = deployment.name if deployment is not None else f"cache={ctx.cache}"
    log.warning(
        "an answer held a configured secret, sent as ****: deployment=%s request=%s",
        where,
        ctx.request_id,
    )
