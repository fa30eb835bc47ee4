"""The rules of an Azure provider's `auth` and its Microsoft Entra ID keys, reported with their
file:line."""

from __future__ import annotations

from pathlib import Path

from gateway.config import load_config
from tests.unit.config.problems import BASE, problems

AZURE = (
    "[[providers]]\n"  # 10
    'name = "az"\n'  # 11
    'type = "azure"\n'  # 12
    'base_url = "https://r.openai.azure.com"\n'  # 13
    'api_version = "2024-10-21"\n'  # 14
)


def test_client_credentials_need_a_tenant_a_client_and_a_set_secret(tmp_path: Path) -> None:
    text = BASE + AZURE + 'auth = "entra_client_secret"\n' + 'client_id = "app"\n'  # 15, 16
    assert problems(tmp_path, text) == [
        "config.toml:15: provider 'az': auth 'entra_client_secret' needs tenant_id",
        "config.toml:15: provider 'az': auth 'entra_client_secret' needs client_secret_env",
    ]
    text += 'tenant_id = "contoso"\nclient_secret_env = "AZ_SECRET"\n'  # 17, 18
    assert problems(tmp_path, text) == [
        "config.toml:18: provider 'az': environment variable AZ_SECRET is not set"
    ]
    assert problems(tmp_path, text, env={"AZ_SECRET": "s3cret-value"}) == []


def test_entra_keys_that_do_not_apply_are_reported(tmp_path: Path) -> None:
    text = (
        BASE
        + AZURE
        + (
            'tenant_id = "t"\n'  # 15: auth is api_key
            "[[providers]]\n"  # 16
            'name = "oai"\n'  # 17
            'type = "anthropic"\n'  # 18
            'base_url = "https://api.anthropic.com"\n'  # 19
            'auth = "entra_managed_identity"\n'  # 20
            'client_secret_env = "S"\n'  # 21
            'api_key_env = "K"\n'  # 22
            'authority = "login.microsoftonline.com"\n'  # 23
        )
    )
    assert problems(tmp_path, text, env={"K": "k"}) == [
        "config.toml:15: provider 'az': tenant_id is only for the entra_* values of auth",
        "config.toml:20: provider 'oai': auth 'entra_managed_identity' is only for types 'azure' "
        "and 'openai'",
        "config.toml:21: provider 'oai': client_secret_env does not apply to auth "
        "'entra_managed_identity'",
        "config.toml:22: provider 'oai': api_key_env and auth 'entra_managed_identity' exclude "
        "each other (the token replaces the key)",
        "config.toml:23: provider 'oai': authority does not apply to auth 'entra_managed_identity'",
        "config.toml:23: provider 'oai': authority must start with http:// or https://",
    ]


def test_a_workload_identity_takes_what_aks_injects(tmp_path: Path) -> None:
    text = BASE + AZURE + 'auth = "entra_workload_identity"\n'  # 15
    assert problems(tmp_path, text) == [
        "config.toml:15: provider 'az': auth 'entra_workload_identity' needs tenant_id "
        "(or AZURE_TENANT_ID in the environment)",
        "config.toml:15: provider 'az': auth 'entra_workload_identity' needs client_id "
        "(or AZURE_CLIENT_ID in the environment)",
        "config.toml:15: provider 'az': auth 'entra_workload_identity' needs "
        "federated_token_file (or AZURE_FEDERATED_TOKEN_FILE in the environment)",
    ]
    projected = tmp_path / "token"
    env = {
        "AZURE_TENANT_ID": "contoso",
        "AZURE_CLIENT_ID": "wi-app",
        "AZURE_FEDERATED_TOKEN_FILE": str(projected),
        "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.us/",
    }
    (problem,) = problems(tmp_path, text, env=env)
    assert problem.startswith("config.toml:10: provider 'az': federated_token_file ")
    assert problem.endswith(" is not a readable file")
    projected.write_text("eyJ...")
    assert problems(tmp_path, text, env=env) == []
    entra = load_config(tmp_path / "config.toml", env=env).providers["az"].entra
    assert (entra.tenant_id, entra.client_id, entra.federated_token_file, entra.authority) == (
        "contoso",
        "wi-app",
        projected,
        "https://login.microsoftonline.us/",
    )


def test_an_openai_type_provider_takes_entra_auth_for_azures_v1_api(tmp_path: Path) -> None:
    text = BASE + (
        "[[providers]]\n"
        'name = "az-v1"\n'
        'type = "openai"\n'
        'base_url = "https://r.openai.azure.com/openai/v1"\n'
        'auth = "entra_managed_identity"\n'
    )
    assert problems(tmp_path, text) == []
