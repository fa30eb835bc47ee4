"""Which header and query parameter names hold credentials (`gateway.config.credential_names`):
their values are scrubbed and `gateway check` warns of one written in the file."""

from __future__ import annotations

import pytest

from gateway.config.credential_names import is_credential_name


@pytest.mark.parametrize(
    "name",
    [
        "api-key",
        "x-goog-api-key",
        "X-API-KEY",
        "apikey",
        "apiKey",
        "AWSAccessKeyId",
        "Ocp-Apim-Subscription-Key",
        "subscription-key",
        "x-functions-key",
        "Authorization",
        "Proxy-Authorization",
        "cf-aig-authorization",
        "Helicone-Auth",
        "X-Auth-Token",
        "access_token",
        "X-Amz-Security-Token",
        "X-Amz-Signature",
        "sig",
        "client_secret",
        "clientsecret",
        "password",
        "Cookie",
    ],
)
def test_a_credentials_name(name: str) -> None:
    assert is_credential_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "Author",
        "X-Author-Team",
        "Design",
        "X-Tokenizer-Mode",
        "Signal",
        "anthropic-version",
        "api-version",
        "X-Title",
        "HTTP-Referer",
        "OpenAI-Organization",
        "x-ms-region",
    ],
)
def test_not_a_credentials_name(name: str) -> None:
    """The substring match before took each of these for a credential (`auth`, `sig`, `token`
    inside a word) but the last four, which show what is not one."""
    assert not is_credential_name(name)
