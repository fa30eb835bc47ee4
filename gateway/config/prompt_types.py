"""The prompt registry's types: prompts, their versions and aliases (loaded by
`gateway.config.prompts`, used by `gateway.prompts`)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

PROMPT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
ALIAS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
ROLES = ("system", "developer", "user", "assistant")
PRODUCTION = "production"
# JSON values a param may take (TOML gives no others once dates are refused).
Param = str | int | float | bool | list[Any] | dict[str, Any]


@dataclass(frozen=True)
class PromptMessage:
    role: str
    content: str


@dataclass(frozen=True)
class PromptVersion:
    version: int
    messages: tuple[PromptMessage, ...]
    params: Mapping[str, Param]
    allow_override: tuple[str, ...]
    # The placeholders of the messages, in order of first use.
    variables: tuple[str, ...]
    # sha256 of the content (messages, params, allow_override), first 16 hex digits.
    hash: str
    evals: int = 0


@dataclass(frozen=True)
class PromptAlias:
    name: str
    version: int
    # A share of the production alias's traffic (a canary); None for a plain alias.
    weight: float | None = None


@dataclass(frozen=True)
class Prompt:
    id: str
    file: Path
    versions: Mapping[int, PromptVersion]
    aliases: Mapping[str, PromptAlias]

    @property
    def latest(self) -> PromptVersion:
        return self.versions[max(self.versions)]

    def canaries(self) -> tuple[PromptAlias, ...]:
        """The aliases that take a share of `production`'s traffic, by name."""
        return tuple(
            alias for name, alias in sorted(self.aliases.items()) if alias.weight is not None
        )


# (prompt id, version) -> the content hash requests used.
UsedVersions = Mapping[tuple[str, int], str]


def content_hash(messages: tuple[PromptMessage, ...], params: Mapping[str, Any], allow: Any) -> str:
    content = {
        "messages": [[m.role, m.content] for m in messages],
        "params": dict(params),
        "allow_override": list(allow),
    }
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
