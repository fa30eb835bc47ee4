"""Warnings about a config that loads: legal, but not what a production gateway should run.

`gateway check` prints them as `file:line: warning: message` after the problems (which stop a
load and carry no such tag), and exits 0 when warnings are all it found.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from pathlib import Path

from gateway.config.errors import Problem
from gateway.config.files import read_config_file
from gateway.config.locate import Locator
from gateway.config.provider_network import CREDENTIAL_NAME
from gateway.config.secret_env import ENVIRONMENT
from gateway.config.types import GatewayConfig
from gateway.state.redis.options import url_has_password

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


def credential_headers(config: GatewayConfig) -> list[tuple[int, str]]:
    """The providers' `headers` whose names are a credential's (`api-key`,
    `Ocp-Apim-Subscription-Key`, ...), so their values are written in the file: the provider's
    index and the header's name (lower-cased)."""
    return [
        (i, name)
        for i, provider in enumerate(config.providers.values())
        for name in provider.headers
        if CREDENTIAL_NAME.search(name)
    ]


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
    redis_url = config.state.redis_url
    inline_password = redis_url is not None and url_has_password(redis_url)
    written = credential_headers(config)
    if not ids and not short_admin and workers is None and not inline_password and not written:
        return []
    text = read_config_file(path).decode()
    locator = Locator(text)
    found = []
    document = tomllib.loads(text)
    providers = document.get("providers", [])
    for index, lowered in written:
        header = next(name for name in providers[index]["headers"] if name.lower() == lowered)
        message = (
            f"warning: header '{header}' looks like a credential, readable by whoever reads "
            "this file or its history; keep its value in an environment variable named by "
            "headers_env"
        )
        line = locator.line(("providers", index, "headers", header))
        found.append(Problem(str(path), line, message))
    if inline_password:
        message = (
            "warning: state.redis_url holds a password, readable by whoever reads this file or "
            "its history; keep it in an environment variable named by redis_password_env "
            "(the URL keeps the user: redis://user@host)"
        )
        found.append(Problem(str(path), locator.line(("state", "redis_url")), message))
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
