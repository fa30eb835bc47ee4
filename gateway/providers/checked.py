"""Every adapter behind one check: an upstream answer that breaks a translator is malformed, a
client's request that breaks one is invalid.

The adapters validate what they rely on (usage counts, the answer's lists, a stream's end) and
raise `UpstreamFailed` themselves. Whatever else an upstream can make a translator trip over
(a field of the wrong type deep inside an answer) must still end as a 502 `upstream_malformed`
(or, mid-stream, an error event), never as a bare 500 or a stream cut without an end: this
wrapper turns any other exception of `convert_json`, `feed`, `finish` and `text` into that.
Likewise a request: `gateway.validation` checks the fields every route reads, and a translator
raises `TranslationError` (400) for what it cannot carry; whatever else in a client's body makes
`prepare` trip (a wrong type deep inside a content block) is a 400 `invalid_request_error`, not
a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.errors import GatewayError, InvalidRequest, UpstreamFailed
from gateway.providers.base import (
    Adapter,
    PreparedCall,
    StreamConverter,
    Usage,
    WrappingConverter,
    malformed,
)

log = logging.getLogger("gateway.providers")


def _malformed(exc: Exception) -> UpstreamFailed:
    # A translator's own bug looks the same from outside: the traceback tells them apart.
    log.warning("upstream answer rejected: %s: %s", type(exc).__name__, exc, exc_info=True)
    return malformed(f"cannot read it ({type(exc).__name__})")


class CheckedStream(WrappingConverter):
    """A stream converter whose unexpected failures are `upstream_malformed`."""

    def __init__(self, inner: StreamConverter) -> None:
        self._inner = inner

    @property
    def text(self) -> list[str]:
        try:
            return self._inner.text
        except Exception:  # noqa: BLE001 - the text is only for estimates and the log
            log.warning("cannot read a stream's text", exc_info=True)
            return []

    def feed(self, chunk: bytes) -> list[bytes]:
        try:
            return self._inner.feed(chunk)
        except GatewayError:
            raise
        except Exception as exc:  # noqa: BLE001 - see the module docstring
            raise _malformed(exc) from None

    def finish(self) -> list[bytes]:
        try:
            return self._inner.finish()
        except GatewayError:
            raise
        except Exception as exc:  # noqa: BLE001 - see the module docstring
            raise _malformed(exc) from None


class CheckedAdapter:
    """An adapter whose answers go through the checks above, and whose requests are prepared
    under the same rule (a 400 instead of a 502)."""

    def __init__(self, inner: Adapter) -> None:
        self._inner = inner

    @property
    def inner(self) -> Adapter:
        """The adapter checked."""
        return self._inner

    def prepare(
        self,
        body: dict[str, Any],
        deployment: DeploymentConfig,
        provider: ProviderConfig,
        api_key: str | None,
    ) -> PreparedCall:
        try:
            return self._inner.prepare(body, deployment, provider, api_key)
        except GatewayError:
            raise
        except Exception as exc:  # noqa: BLE001 - see the module docstring
            log.warning("request not translatable: %s: %s", type(exc).__name__, exc, exc_info=True)
            raise InvalidRequest(
                "the request cannot be translated for this model's provider: a field has a type "
                f"or shape the translation does not accept ({type(exc).__name__})"
            ) from None

    def convert_json(self, data: bytes) -> tuple[bytes, Usage, dict[str, Any]]:
        try:
            return self._inner.convert_json(data)
        except GatewayError:
            raise
        except Exception as exc:  # noqa: BLE001 - see the module docstring
            raise _malformed(exc) from None

    def stream(self, body: dict[str, Any]) -> CheckedStream:
        return CheckedStream(self._inner.stream(body))

    def convert_error(self, status: int, data: bytes, deployment: DeploymentConfig) -> GatewayError:
        try:
            return self._inner.convert_error(status, data, deployment)
        except Exception as exc:  # noqa: BLE001 - see the module docstring
            log.warning("cannot read an upstream error answer: %s", exc, exc_info=True)
            return UpstreamFailed(f"upstream {deployment.name} failed with status {status}")
