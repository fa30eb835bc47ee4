"""The TLS context of a provider's network client, shared by both transports so they trust the
same CAs: the system's store, plus `ca_file` when set (added, never replacing it), plus the
client certificate for mTLS."""

from __future__ import annotations

import asyncio
import ssl

from gateway.config.types import NetworkConfig
from gateway.upstream.base import UpstreamTLSError


def ssl_context(network: NetworkConfig) -> ssl.SSLContext:
    """A verifying client context for `network`. The files were checked when the config was
    loaded; one that went bad since raises UpstreamTLSError."""
    context = ssl.create_default_context()
    try:
        if network.ca_file is not None:
            context.load_verify_locations(cafile=network.ca_file)
        if network.client_cert is not None:
            context.load_cert_chain(network.client_cert, network.client_key)
    except (OSError, ssl.SSLError) as exc:
        raise UpstreamTLSError(f"cannot load the provider's TLS files: {exc}") from None
    return context


class ContextOnce:
    """`ssl_context(network)` built once, in a worker thread, for a client that makes its
    connections on the event loop: loading the system's CA store takes 10-30 ms of CPU, which on
    the loop stalled every request of the process at a pool's first HTTPS request (after the
    start, or a reload that made the pool). The requests that wait for it share the one build;
    one cancelled (its request gone) does not cancel it; a build that fails (a TLS file gone bad
    since the load) is tried again by the next request."""

    __slots__ = ("_building", "_network", "context")

    def __init__(self, network: NetworkConfig) -> None:
        self._network = network
        self.context: ssl.SSLContext | None = None
        self._building: asyncio.Future[ssl.SSLContext] | None = None

    async def get(self) -> ssl.SSLContext:
        context = self.context
        if context is not None:
            return context
        building = self._building
        if building is None:
            building = asyncio.ensure_future(asyncio.to_thread(ssl_context, self._network))
            self._building = building
            building.add_done_callback(self._built)
        return await asyncio.shield(building)

    def _built(self, building: asyncio.Future[ssl.SSLContext]) -> None:
        self._building = None
        if not building.cancelled() and building.exception() is None:
            self.context = building.result()


def tls_failure(exc: BaseException, host: str) -> UpstreamTLSError | None:
    """The clear error for a failed TLS handshake with `host`, or None if `exc` is no TLS
    failure (looked for along its causes: httpx wraps the ssl error)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            why = seen.verify_message or seen.reason or "verification failed"
            return UpstreamTLSError(
                f"TLS certificate of upstream {host} is not trusted ({why}); if a private CA "
                "signed it, set the provider's ca_file"
            )
        if isinstance(seen, ssl.SSLError):
            return UpstreamTLSError(f"TLS handshake with upstream {host} failed: {seen}")
        seen = seen.__cause__ or seen.__context__
    return None
