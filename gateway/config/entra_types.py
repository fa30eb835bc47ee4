"""The Microsoft Entra ID settings of an Azure provider (`auth`, `tenant_id`, ...): part of the
one schema in `types.py`, kept in their own module as `prompt_types.py` is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from gateway.config.schema import NON_EMPTY, NonEmptyStr

# How a provider authenticates: its key (Azure: `api-key`), or a Microsoft Entra ID token as
# `Authorization: Bearer` (gateway/upstream/entra.py), got with a client secret, an AKS workload
# identity's federated token, or the host's managed identity.
ProviderAuth = Literal[
    "api_key", "entra_client_secret", "entra_workload_identity", "entra_managed_identity"
]
ENTRA_AUTHORITY = "https://login.microsoftonline.com"
COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"


@dataclass(frozen=True)
class EntraConfig:
    """Where a provider with an `entra_*` `auth` (Azure, or Azure's v1 API as type openai) gets
    its tokens (docs/configuration.md, "Microsoft Entra ID"); written in the `[[providers]]`
    table. The loader fills the workload identity's values the TOML leaves out from
    AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE and AZURE_AUTHORITY_HOST, as AKS
    injects them."""

    tenant_id: NonEmptyStr | None = None
    # The app registration (client secret, workload identity) or a user-assigned managed
    # identity (unset: the system-assigned one).
    client_id: NonEmptyStr | None = None
    client_secret_env: NonEmptyStr | None = None
    # Relative in the TOML to the config file's directory; absolute once loaded.
    federated_token_file: Annotated[Path, NON_EMPTY] | None = None
    # Another cloud's (https://login.microsoftonline.us, https://login.chinacloudapi.cn).
    authority: NonEmptyStr = ENTRA_AUTHORITY
    token_scope: NonEmptyStr = COGNITIVE_SERVICES_SCOPE
