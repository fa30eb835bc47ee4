"""`GET /admin/config`'s answer: the effective config as plain JSON, with every secret masked.

Masked: gateway key hashes (cut to 8 characters), provider keys (shown only as set / not set),
the value of every provider `headers` and `query` entry (names stay: any value may be a
credential), and in every URL (provider `base_url` and `proxy`, `state.redis_url`,
`tracing.endpoint`) the password of its userinfo and the value of every query parameter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from gateway.runtime import Runtime

MASK = "****"


def plain(value: Any) -> Any:
    """Dataclasses, mappings and tuples as plain JSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def masked_config(runtime: Runtime) -> dict[str, Any]:
    """The effective config as JSON, with every secret masked."""
    config = runtime.config
    data: dict[str, Any] = plain(config)
    data["keys"] = [
        {
            "id": k.id,
            "team": k.team,
            "policy": k.policy,
            "models": k.models,
            "key_sha256": k.key_sha256[:8] + "…",
            "previous_key_sha256": k.previous_key_sha256 and k.previous_key_sha256[:8] + "…",
        }
        for k in config.keys
    ]
    for name, provider in data["providers"].items():
        provider["api_key"] = "set (masked)" if name in runtime.provider_keys else "not set"
        provider["headers"] = {header: MASK for header in provider["headers"]}
        provider["query"] = {param: MASK for param in provider["query"]}
        provider["base_url"] = masked_url(provider["base_url"])
        provider["network"]["proxy"] = masked_url(provider["network"]["proxy"])
    data["state"]["redis_url"] = masked_url(data["state"]["redis_url"])
    data["tracing"]["endpoint"] = masked_url(data["tracing"]["endpoint"])
    return data


def masked_url(url: str | None) -> str | None:
    """`url` without its secrets: the userinfo's password and every query value become `****`
    (the user name, host, path and query names stay, so the address can still be checked)."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a malformed port raises here; such a URL is shown not at all
    except ValueError:
        return MASK
    return parts._replace(netloc=_masked_netloc(parts), query=_masked_query(parts.query)).geturl()


def _masked_netloc(parts: SplitResult) -> str:
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return parts.netloc
    user, colon, _ = userinfo.partition(":")
    # `redis://:password@host` and `redis://token@host` both hold a secret without a user.
    if not colon:
        return f"{MASK}@{host}"
    return f"{user}:{MASK}@{host}"


def _masked_query(query: str) -> str:
    if not query:
        return query
    pairs = (pair.partition("=") for pair in query.split("&"))
    return "&".join(f"{name}={MASK}" if sep else name for name, sep, _ in pairs)
