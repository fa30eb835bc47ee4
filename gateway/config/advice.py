"""Warnings about a config that loads: legal, but not what a production gateway should run.

`gateway check` prints them as `file:line: warning: message` after the problems (which stop a
load and carry no such tag), and exits 0 when warnings are all it found.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from gateway.config.credential_names import is_credential_name
from gateway.config.document import Table
from gateway.config.errors import Problem
from gateway.config.files import read_config_file
from gateway.config.locate import KeyPath, Locator
from gateway.config.secret_env import ENVIRONMENT
from gateway.config.types import GatewayConfig
from gateway.config.urls import url_has_password

# The secret of config.example.toml's demo key, published in the README.
DEMO_SECRET = "sk-demo"
DEMO_SHA256 = hashlib.sha256(DEMO_SECRET.encode()).hexdigest()
# An admin key a person could have chosen; 20 random URL-safe characters hold 120 bits.
MIN_ADMIN_KEY_LENGTH = 20


def demo_keys(config: GatewayConfig) -> list[str]:
    """The ids of the keys that accept the published demo secret (as theirs, or as the one
    being rotated out)."""
    return [
        key.id for key in config.keys if DEMO_SHA256 in (key.key_sha256, key.previous_key_sha256)
    ]


def written_secrets(config: GatewayConfig, document: Table) -> list[tuple[KeyPath, str]]:
    """Where the file (parsed as `document`) holds a secret that a `*_env` setting would keep
    out of it, and the warning that says so: a provider header or query parameter whose name is
    a credential's (`api-key`, `Ocp-Apim-Subscription-Key`, `subscription-key`, `sig`, ...), a
    proxy or Redis URL with a password."""
    found: list[tuple[KeyPath, str]] = []
    entries = document.get("providers", [])
    for index, provider in enumerate(config.providers.values()):
        for name in entries[index].get("headers", {}):
            if is_credential_name(name):
                message = f"header '{name}' looks like a credential, " + _readable(
                    "its value", "headers_env"
                )
                found.append((("providers", index, "headers", name), message))
        parameters: list[tuple[KeyPath, str]] = [
            (("providers", index, "query", name), name) for name in entries[index].get("query", {})
        ]
        in_url = parse_qsl(urlsplit(provider.base_url).query)
        parameters += [(("providers", index, "base_url"), name) for name, _ in in_url]
        for where, name in parameters:
            if is_credential_name(name):
                message = f"query parameter '{name}' looks like a credential, " + _readable(
                    "it", "headers_env, as the header the server also takes it in"
                )
                found.append((where, message))
        proxy = provider.network.proxy
        if proxy is not None and url_has_password(proxy):
            message = "proxy holds a password, " + _readable("it", "proxy_password_env")
            found.append(
                (("providers", index, "proxy"), message + _KEEPS_USER % "http://user@proxy:3128")
            )
    redis_url = config.state.redis_url
    if redis_url is not None and url_has_password(redis_url):
        message = "state.redis_url holds a password, " + _readable("it", "redis_password_env")
        found.append((("state", "redis_url"), message + _KEEPS_USER % "redis://user@host"))
    return found


def _readable(what: str, setting: str) -> str:
    return (
        f"readable by whoever reads this file or its history; keep {what} in an environment "
        f"variable named by {setting}"
    )


_KEEPS_USER = " (the URL keeps the user: %s)"


def per_worker_state(config: GatewayConfig, workers: int) -> str | None:
    """The warning for `workers` processes that each keep their own memory state, if any."""
    if workers <= 1 or config.state.backend != "memory":
        return None
    return (
        f'warning: [state] backend = "memory" with {workers} workers: each worker keeps its own '
        "rate limits, concurrency caps, budgets, cache, breakers and remembered responses, so "
        f"a key may be admitted up to {workers} times its limits and budgets; use "
        'backend = "redis" to share them (docs/limits-and-cache.md, "Several workers")'
    )


def config_warnings(
    path: Path, config: GatewayConfig, env: Mapping[str, str] | None = None
) -> list[Problem]:
    """What `gateway check` warns about in the config `path` (already loaded as `config`)."""
    env = ENVIRONMENT if env is None else env
    ids = demo_keys(config)
    admin_env = config.admin.key_env
    short_admin = admin_env is not None and len(env.get(admin_env, "")) < MIN_ADMIN_KEY_LENGTH
    workers = per_worker_state(config, config.server.workers)
    text = read_config_file(path).decode()
    locator = Locator(text)
    document = tomllib.loads(text)
    found = [
        Problem(str(path), locator.line(where), f"warning: {message}")
        for where, message in written_secrets(config, document)
    ]
    if workers is not None:
        found.append(Problem(str(path), locator.line(("server", "workers")), workers))
    if short_admin:
        message = (
            f"warning: the admin key ({admin_env}) is shorter than {MIN_ADMIN_KEY_LENGTH} "
            'characters, short enough to guess: use a random one (python -c "import secrets; '
            'print(secrets.token_urlsafe(32))")'
        )
        found.append(Problem(str(path), locator.line(("admin", "key_env")), message))
    entries = document.get("keys", [])
    where = {entry.get("id"): i for i, entry in enumerate(entries) if isinstance(entry, dict)}
    for key_id in ids:
        i = where.get(key_id)
        field = "key_env" if i is not None and "key_env" in entries[i] else "key_sha256"
        if i is not None and str(entries[i].get("previous_key_sha256", "")).lower() == DEMO_SHA256:
            field = "previous_key_sha256"
        message = (
            f"warning: key '{key_id}' accepts the published demo secret {DEMO_SECRET}: anyone "
            'who can reach the gateway can use it; remove it (README, "Going to production")'
        )
        line = 1 if i is None else locator.line(("keys", i, field))
        found.append(Problem(str(path), line, message))
    return found
