"""The cross-field rules of a provider's `auth` and its Microsoft Entra ID keys (`[[providers]]`).

Which keys each `auth` needs, which mean nothing to it, and the workload identity's values taken
from the variables AKS injects (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE,
AZURE_AUTHORITY_HOST) when the TOML leaves them out, so a missing one fails `gateway check` and
start-up with its file:line, not every request.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from gateway.config.document import Doc, Table
from gateway.config.locate import KeyPath
from gateway.config.urls import http_url_problem

_ENTRA_KEYS = (
    "tenant_id",
    "client_id",
    "client_secret_env",
    "federated_token_file",
    "authority",
    "token_scope",
)
# What each `auth` needs, and what it never reads.
_REQUIRED = {
    "entra_client_secret": ("tenant_id", "client_id", "client_secret_env"),
    "entra_workload_identity": ("tenant_id", "client_id", "federated_token_file"),
    "entra_managed_identity": (),
}
_UNUSED = {
    "entra_client_secret": ("federated_token_file",),
    "entra_workload_identity": ("client_secret_env",),
    "entra_managed_identity": (
        "tenant_id",
        "client_secret_env",
        "federated_token_file",
        "authority",
    ),
}
# The workload identity webhook's variables, by the key they stand in for.
WORKLOAD_IDENTITY_ENV = {
    "tenant_id": "AZURE_TENANT_ID",
    "client_id": "AZURE_CLIENT_ID",
    "federated_token_file": "AZURE_FEDERATED_TOKEN_FILE",
    "authority": "AZURE_AUTHORITY_HOST",
}


def check_auth(
    doc: Doc, path: KeyPath, label: str, values: Table, env: Mapping[str, str], base: Path
) -> Table:
    """Report what `auth` lacks or does not use; `values` with the workload identity's values
    from the environment and `federated_token_file` made absolute (relative to `base`)."""
    auth = values.get("auth", "api_key")
    if auth == "api_key":
        for key in _ENTRA_KEYS:
            if key in values:
                doc.report(path + (key,), f"{label}: {key} is only for the entra_* values of auth")
        return values
    if values.get("type") not in ("azure", "openai"):
        # openai: Azure's v1 API (`.../openai/v1`), and OpenAI-compatible servers behind Entra ID.
        doc.report(
            path + ("auth",), f"{label}: auth '{auth}' is only for types 'azure' and 'openai'"
        )
    if "api_key_env" in values:
        doc.report(
            path + ("api_key_env",),
            f"{label}: api_key_env and auth '{auth}' exclude each other (the token replaces "
            "the key)",
        )
    resolved = dict(values)
    if auth == "entra_workload_identity":
        for key, name in WORKLOAD_IDENTITY_ENV.items():
            if key not in resolved and env.get(name):
                resolved[key] = Path(env[name]) if key == "federated_token_file" else env[name]
    for key in _UNUSED[auth]:
        if key in values:
            doc.report(path + (key,), f"{label}: {key} does not apply to auth '{auth}'")
    for key in _REQUIRED[auth]:
        if key not in resolved:
            also = WORKLOAD_IDENTITY_ENV.get(key) if auth == "entra_workload_identity" else None
            where = f" (or {also} in the environment)" if also else ""
            doc.report(path + ("auth",), f"{label}: auth '{auth}' needs {key}{where}")
    secret_env = values.get("client_secret_env")
    if auth == "entra_client_secret" and secret_env is not None:
        doc.require_env(path + ("client_secret_env",), label, secret_env, env)
    authority = resolved.get("authority")
    if authority is not None and (problem := http_url_problem(authority)) is not None:
        doc.report(path + ("authority",), f"{label}: authority {problem}")
    token_file = resolved.get("federated_token_file")
    if token_file is not None and auth == "entra_workload_identity":
        resolved["federated_token_file"] = token_file = Path(base / token_file).absolute()
        if not token_file.is_file():
            doc.report(
                path + ("federated_token_file",) if "federated_token_file" in values else path,
                f"{label}: federated_token_file {token_file} is not a readable file",
            )
    return resolved
