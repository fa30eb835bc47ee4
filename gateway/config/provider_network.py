"""The cross-field rules of a provider's Azure and network keys (`[[providers]]`).

Files named by `ca_file`, `client_cert` and `client_key` are read here, once, so a wrong path or a
file that is not PEM fails `gateway check` and start-up instead of every request.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from gateway.config.document import Doc, Table
from gateway.config.locate import KeyPath
from gateway.config.schema import StringTable
from gateway.config.urls import http_url_problem, url_has_password

_TLS_FILES = ("ca_file", "client_cert", "client_key")
_AZURE_ONLY = ("deployment", "api_version")
# Set by the upstream client itself from the URL and the body.
_FRAMING_HEADERS = frozenset(("host", "content-length", "transfer-encoding", "connection"))
# RFC 9110: a field name is a token; a value what both upstream clients can send (httpx encodes
# values as ASCII: anything else made every request a 500).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE = re.compile(r"[\x20-\x7e\t]*")


# The first Azure OpenAI api-version with the Responses API (`/openai/responses`).
AZURE_RESPONSES_SINCE = "2025-03-01-preview"


def check_azure(doc: Doc, path: KeyPath, label: str, values: Table) -> None:
    """`api_version` is required for type 'azure'; its keys mean nothing to other types. An
    Azure `base_url` is the resource endpoint: one already holding Azure's `/openai/...` path
    would get it twice (`/openai/v1/openai/deployments/...`), an URL Azure does not serve."""
    if values.get("type") == "azure":
        if "api_version" not in values:
            doc.report(path, f"{label}: api_version is required for type 'azure'")
        query = values.get("query")
        version = str(values.get("api_version", ""))
        if isinstance(query, Mapping) and "api-version" in query:
            version = str(query["api-version"])
        if values.get("responses") is True and version[:10] < AZURE_RESPONSES_SINCE[:10]:
            doc.report(
                path + ("responses",),
                f"{label}: Azure's Responses API needs an api_version of "
                f"{AZURE_RESPONSES_SINCE} or later (this one is '{version}')",
            )
        base_path = urlsplit(str(values.get("base_url", ""))).path.rstrip("/")
        if base_path.endswith(("/openai", "/openai/v1")) or "/openai/deployments" in base_path:
            doc.report(
                path + ("base_url",),
                f"{label}: base_url for type 'azure' is the resource endpoint "
                "(https://NAME.openai.azure.com), without /openai/...: the gateway adds "
                "/openai/deployments/DEPLOYMENT; for Azure's v1 API (/openai/v1) use type "
                "'openai' with that base_url",
            )
        return
    for key in _AZURE_ONLY:
        if key in values:
            doc.report(path + (key,), f"{label}: {key} is only for type 'azure'")


def check_network(doc: Doc, path: KeyPath, label: str, values: Table, base: Path) -> Table:
    """Report contradictory network keys; `values` with the TLS file paths made absolute
    (relative to the config file's directory)."""
    resolved = dict(values)
    for key in _TLS_FILES:
        if key in values:
            resolved[key] = Path(base / values[key]).absolute()
    proxy = values.get("proxy")
    if proxy is not None and (problem := http_url_problem(proxy)) is not None:
        doc.report(path + ("proxy",), f"{label}: proxy {problem}")
    if values.get("transport") == "http1":
        if values.get("http2"):
            doc.report(
                path + ("http2",),
                f"{label}: transport 'http1' does not support http2; "
                "use transport 'httpx' or 'auto'",
            )
        if proxy is not None and proxy[:7].lower() != "http://":
            doc.report(
                path + ("proxy",),
                f"{label}: transport 'http1' reaches only an http:// proxy; "
                "use transport 'httpx' or 'auto'",
            )
    if "headers" in values:
        resolved["headers"] = _headers(doc, path + ("headers",), label, values["headers"])
    if "client_key" in values and "client_cert" not in values:
        doc.report(path + ("client_key",), f"{label}: client_key needs client_cert")
    _check_tls_files(doc, path, label, resolved)
    return resolved


def _headers(doc: Doc, path: KeyPath, label: str, headers: StringTable) -> StringTable:
    """The headers with lower-cased names (so they replace the adapter's own, whatever their
    case); reports the ones no client may send."""
    for name, value in headers.items():
        if (problem := _name_problem(name)) is not None:
            doc.report(path + (name,), f"{label}: {problem}")
        elif not _VALUE.fullmatch(value):
            # The value is not shown: it may be a credential.
            doc.report(path + (name,), f"{label}: header '{name}' {_BAD_VALUE}")
    return StringTable({name.lower(): value for name, value in headers.items()})


def check_provider_secrets(
    doc: Doc, path: KeyPath, label: str, values: Table, env: Mapping[str, str]
) -> Table:
    """`values` with `headers_env`'s names lower-cased; reports what the secrets a provider
    reads from the environment need (`headers_env`, `proxy_password_env`), never their values."""
    if "proxy_password_env" in values:
        _check_proxy_password(doc, path, label, values, env)
    named = values.get("headers_env")
    if named is None:
        return values
    path += ("headers_env",)
    static = {name.lower() for name in values.get("headers", {})}
    for name, variable in named.items():
        where = path + (name,)
        if (problem := _name_problem(name)) is not None:
            doc.report(where, f"{label}: {problem}")
        elif name.lower() in static:
            doc.report(where, f"{label}: header '{name}' is in headers too")
        elif not doc.require_env(where, f"{label}: headers_env", variable, env):
            continue
        elif not _VALUE.fullmatch(env[variable]):
            message = f"{label}: headers_env: environment variable {variable} {_BAD_VALUE}"
            doc.report(where, message)
    lowered = StringTable({name.lower(): variable for name, variable in named.items()})
    return {**values, "headers_env": lowered}


def _check_proxy_password(
    doc: Doc, path: KeyPath, label: str, values: Table, env: Mapping[str, str]
) -> None:
    """`proxy_password_env` is the password of the `proxy` setting's URL, which then holds
    none itself (which one would win is a guess)."""
    where = path + ("proxy_password_env",)
    proxy = values.get("proxy")
    if proxy is None:
        doc.report(where, f"{label}: proxy_password_env needs proxy (the proxy's URL)")
    elif url_has_password(proxy):
        doc.report(
            where,
            f"{label}: proxy holds a password and proxy_password_env names one: keep the "
            "password in the variable alone (the URL keeps the user: http://user@proxy:3128)",
        )
    else:
        doc.require_env(where, label, values["proxy_password_env"], env)


_BAD_VALUE = "value may only hold visible ASCII, spaces and tabs"


def _name_problem(name: str) -> str | None:
    if name.lower() in _FRAMING_HEADERS:
        return f"header '{name}' is set by the gateway"
    if not _TOKEN.fullmatch(name):
        return f"header name {name!r} is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~)"
    return None


def _check_tls_files(doc: Doc, path: KeyPath, label: str, values: Table) -> None:
    ca_file = values.get("ca_file")
    if ca_file is not None:
        try:
            ssl.create_default_context().load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            doc.report(path + ("ca_file",), f"{label}: cannot load ca_file {ca_file}: {_why(exc)}")
    cert = values.get("client_cert")
    if cert is not None:
        try:
            ssl.create_default_context().load_cert_chain(cert, values.get("client_key"))
        except (OSError, ssl.SSLError) as exc:
            doc.report(
                path + ("client_cert",), f"{label}: cannot load client_cert/client_key: {_why(exc)}"
            )


def _why(exc: OSError | ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    return exc.strerror or str(exc)
