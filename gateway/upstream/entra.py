"""Microsoft Entra ID access tokens for Azure OpenAI: one token request per credential kind, and
the answer read into an `AccessToken`. `bearer.py` caches the tokens and signs requests.

- `entra_client_secret`: `POST {authority}/{tenant}/oauth2/v2.0/token` with the client
  credentials grant (the secret read from `client_secret_env` when the source is made);
- `entra_workload_identity` (AKS): the same request with the federated token of
  `federated_token_file` as a client assertion, the file read again for each token (the kubelet
  rotates it);
- `entra_managed_identity`: App Service / Functions / Container Apps' endpoint when
  IDENTITY_ENDPOINT and IDENTITY_HEADER are set, else the VM's IMDS
  (`http://169.254.169.254`), for the system-assigned identity or the one `client_id` names.

The authority is reached through the provider's network options (its proxy, the proxy variables
with `trust_env`, its `ca_file`), never with its client certificate, `headers` or `query` (meant
for the resource, and possibly credentials); the managed identity endpoints are local to the host
and reached directly. Every failure is a `TokenError`, whose message never holds the secret, the
assertion or a token.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import orjson

from gateway.clock import Clock
from gateway.config.entra_types import EntraConfig
from gateway.config.provider_types import NetworkConfig, ProviderConfig
from gateway.upstream.base import UpstreamClient, UpstreamError, UpstreamRequest, UpstreamTimeouts
from gateway.upstream.network_secrets import with_proxy_password

log = logging.getLogger("gateway.upstream.entra")

TOKEN_TIMEOUTS = UpstreamTimeouts(connect_s=5.0, first_byte_s=30.0, idle_s=30.0)
IMDS_URL = "http://169.254.169.254/metadata/identity/oauth2/token"
_JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_FORM = {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"}
# A token answer is a few KiB.
_MAX_ANSWER_BYTES = 1024 * 1024


class TokenError(UpstreamError):
    """No token: the request fails as an unreachable upstream does (kind `token`)."""

    def __init__(self, message: str) -> None:
        super().__init__("token", f"could not get a Microsoft Entra ID token: {message}")


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    lifetime_s: float


RequestBuilder = Callable[[], UpstreamRequest]


def token_answer(status: int, data: bytes, now: float) -> AccessToken:
    """The token of a token endpoint's answer (`now`: Unix seconds, for `expires_on`); an error
    answer or a malformed one is a TokenError naming the status and the OAuth error code."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        parsed = None
    answer = parsed if isinstance(parsed, dict) else {}
    if status != 200:
        code = answer.get("error")
        description = str(answer.get("error_description") or "")
        log.warning("the Entra ID token endpoint answered %s: %s %s", status, code, description)
        aadsts = description.split(":", 1)[0] if description.startswith("AADSTS") else ""
        named = " ".join(str(part) for part in (code, f"({aadsts})" if aadsts else "") if part)
        raise TokenError(f"the token endpoint answered {status}{' ' + named if named else ''}")
    token = answer.get("access_token")
    lifetime = _lifetime(answer, now)
    if not isinstance(token, str) or not token or lifetime is None:
        raise TokenError("the token endpoint's answer has no access_token with its expiry")
    return AccessToken(token, lifetime)


def _lifetime(answer: Mapping[str, object], now: float) -> float | None:
    """Seconds the token is valid: `expires_in` (a number, or IMDS's string), else App
    Service's `expires_on` (Unix seconds) from `now`."""
    for key, offset in (("expires_in", 0.0), ("expires_on", now)):
        value = answer.get(key)
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            try:
                return max(0.0, float(value) - offset)
            except ValueError:
                return None
    return None


def client_secret_request(entra: EntraConfig, secret: str) -> RequestBuilder:
    url = f"{entra.authority.rstrip('/')}/{entra.tenant_id}/oauth2/v2.0/token"
    form = urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": entra.client_id or "",
            "client_secret": secret,
            "scope": entra.token_scope,
        }
    ).encode()
    request = UpstreamRequest("POST", url, _FORM, form)
    return lambda: request


def workload_identity_request(entra: EntraConfig) -> RequestBuilder:
    url = f"{entra.authority.rstrip('/')}/{entra.tenant_id}/oauth2/v2.0/token"

    def build() -> UpstreamRequest:
        path = entra.federated_token_file
        try:
            assertion = path.read_text().strip() if path is not None else ""
        except OSError as exc:
            raise TokenError(f"cannot read federated_token_file {path}: {exc.strerror}") from None
        form = {
            "grant_type": "client_credentials",
            "client_id": entra.client_id or "",
            "client_assertion_type": _JWT_BEARER,
            "client_assertion": assertion,
            "scope": entra.token_scope,
        }
        return UpstreamRequest("POST", url, _FORM, urlencode(form).encode())

    return build


def managed_identity_request(
    entra: EntraConfig, environ: Mapping[str, str], imds_url: str = IMDS_URL
) -> RequestBuilder:
    resource = entra.token_scope.removesuffix("/.default")
    endpoint, secret = environ.get("IDENTITY_ENDPOINT"), environ.get("IDENTITY_HEADER")
    params = {"resource": resource}
    if entra.client_id:
        params["client_id"] = entra.client_id
    if endpoint and secret:  # App Service, Functions, Container Apps
        query = urlencode({"api-version": "2019-08-01", **params})
        headers = {"x-identity-header": secret, "accept": "application/json"}
        request = UpstreamRequest("GET", f"{endpoint}?{query}", headers, b"")
    else:
        query = urlencode({"api-version": "2018-02-01", **params})
        headers = {"metadata": "true", "accept": "application/json"}
        request = UpstreamRequest("GET", f"{imds_url}?{query}", headers, b"")
    return lambda: request


class EntraTokenSource:
    """Gets one fresh token per `fetch`, through its own client."""

    def __init__(self, build: RequestBuilder, client: UpstreamClient, clock: Clock) -> None:
        self._build = build
        self._client = client
        self._clock = clock

    async def fetch(self) -> AccessToken:
        request = self._build()
        host = urlsplit(request.url).netloc
        try:
            response = await self._client.send(request, TOKEN_TIMEOUTS)
            try:
                data = await response.read()
            finally:
                await response.aclose()
        except TokenError:
            raise
        except UpstreamError as exc:
            raise TokenError(f"token endpoint {host} failed ({exc.kind}): {exc}") from None
        return token_answer(response.status, data, self._clock.time())

    async def aclose(self) -> None:
        await self._client.aclose()


def token_network(provider: ProviderConfig, environ: Mapping[str, str]) -> NetworkConfig:
    """How the token endpoint is reached: the provider's proxy (its password read from
    `environ`) and CAs, not its client certificate; the host-local managed identity endpoints
    directly."""
    if provider.auth == "entra_managed_identity":
        return NetworkConfig(
            transport="httpx", trust_env=False, max_response_bytes=_MAX_ANSWER_BYTES
        )
    return dataclasses.replace(
        with_proxy_password(provider.network, environ),
        transport="httpx",
        http2=False,
        client_cert=None,
        client_key=None,
        max_response_bytes=_MAX_ANSWER_BYTES,
    )


def token_source(
    provider: ProviderConfig,
    environ: Mapping[str, str],
    clock: Clock,
    make_client: Callable[[NetworkConfig], UpstreamClient],
) -> EntraTokenSource:
    """The token source of a provider with an `entra_*` auth (the loader checked its keys),
    asking through a client `make_client` makes for `token_network` (the transports' registry:
    httpx, imported only by a gateway that needs it)."""
    entra = provider.entra
    if provider.auth == "entra_client_secret":
        name = entra.client_secret_env or ""
        secret = environ.get(name)
        if not secret:
            # Set when the config was loaded: the loader checks it.
            build: RequestBuilder = _failing(f"environment variable {name} is not set")
        else:
            build = client_secret_request(entra, secret)
    elif provider.auth == "entra_workload_identity":
        build = workload_identity_request(entra)
    else:
        build = managed_identity_request(entra, environ)
    return EntraTokenSource(build, make_client(token_network(provider, environ)), clock)


def _failing(message: str) -> RequestBuilder:
    def build() -> UpstreamRequest:
        raise TokenError(message)

    return build
