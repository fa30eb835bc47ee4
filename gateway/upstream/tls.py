"""The TLS context of a provider's network client, shared by both transports so they trust the
same CAs: the system's store, plus `ca_file` when set (added, never replacing it), plus the
client certificate for mTLS."""

from __future__ import annotations

import ssl

from gateway.config.provider_types import NetworkConfig
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
