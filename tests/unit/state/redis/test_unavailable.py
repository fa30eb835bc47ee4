"""`unavailable`: a redis-py failure as the StateUnavailable it means, with its cause named."""

from __future__ import annotations

import ssl

from redis.exceptions import ConnectionError as RedisConnectionError

from gateway.state.redis.redispy_errors import unavailable


def _raised_from_tls() -> RedisConnectionError:
    """A ConnectionError worded as some redis-py releases word a failed TLS handshake: the
    certificate's problem is only in the SSL error it was raised from."""
    tls = ssl.SSLCertVerificationError("[SSL: CERTIFICATE_VERIFY_FAILED] unknown ca")
    try:
        raise RedisConnectionError("Error 1 connecting to 127.0.0.1:6380. 1.") from tls
    except RedisConnectionError as error:
        return error


def test_a_connection_error_names_the_tls_error_it_came_from() -> None:
    state_error = unavailable(_raised_from_tls())
    assert state_error.kind == "connection"
    assert "Error 1 connecting to 127.0.0.1:6380" in str(state_error)
    assert "CERTIFICATE_VERIFY_FAILED" in str(state_error)


def test_a_cause_already_in_the_message_is_not_repeated() -> None:
    try:
        raise RedisConnectionError("Error 111 connecting: Connection refused.") from OSError(
            "Connection refused."
        )
    except RedisConnectionError as error:
        text = str(unavailable(error))
    assert text.count("Connection refused.") == 1
