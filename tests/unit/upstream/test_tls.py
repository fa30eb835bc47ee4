"""The TLS context both transports use: `ca_file` adds to the system's CAs, never replaces them."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from gateway.config.provider_types import NetworkConfig
from gateway.upstream.base import UpstreamTLSError
from gateway.upstream.tls import ssl_context, tls_failure


def test_ca_file_is_added_to_the_system_store(tmp_path: Path) -> None:
    trustme.CA().cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    system = ssl_context(NetworkConfig()).cert_store_stats()["x509_ca"]
    with_ca = ssl_context(NetworkConfig(ca_file=tmp_path / "ca.pem")).cert_store_stats()["x509_ca"]
    assert with_ca == system + 1


def test_a_tls_file_gone_bad_since_the_load_is_a_tls_error(tmp_path: Path) -> None:
    with pytest.raises(UpstreamTLSError):
        ssl_context(NetworkConfig(ca_file=tmp_path / "missing.pem"))


def test_a_verification_failure_wrapped_by_a_library_is_found() -> None:
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_message = "unable to get local issuer certificate"
    wrapped = ConnectionError("connect failed")
    wrapped.__cause__ = verify
    found = tls_failure(wrapped, "api.internal")
    assert found is not None and found.kind == "tls"
    assert "api.internal" in str(found) and "unable to get local issuer" in str(found)
    assert tls_failure(ConnectionRefusedError(), "h") is None
