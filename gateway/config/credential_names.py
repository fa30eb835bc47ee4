"""Which header and query parameter names hold credentials: their values are scrubbed from
answers and logs like a provider key (`gateway.runtime.provider_credentials`), and `gateway
check` warns of one written in the file (`gateway.config.advice.written_secrets`).

A name is read as words (split at `-`, `_`, `.`, spaces and lower-to-upper case changes:
`Ocp-Apim-Subscription-Key`, `x_goog_api_key`, `AWSAccessKeyId`, `apiKey`), and is a
credential's when one word is a credential word or ends in one (`apikey`, `accesstoken`,
`clientsecret`). Whole words, so that `Author`, `Design` or `X-Tokenizer-Mode` are not: the
substring match this replaces took them for credentials, warned of them, and scrubbed their
values (8 characters or more) from every answer.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_WORDS = frozenset(
    (
        "auth",
        "authorization",
        "authentication",
        "bearer",
        "cookie",
        "credential",
        "credentials",
        "jwt",
        "oauth",
        "passwd",
        "password",
        "pwd",
        "sas",
        "sig",
        "signature",
    )
)
_ENDINGS = ("key", "token", "secret", "password")


def is_credential_name(name: str) -> bool:
    """Whether a header or query parameter named `name` holds a credential."""
    for word in _WORD.findall(name):
        word = word.lower()
        if word in _WORDS or word.endswith(_ENDINGS):
            return True
    return False
