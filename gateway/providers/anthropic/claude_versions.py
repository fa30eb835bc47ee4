"""The version of the Claude model a deployment names, for what changed between versions
(`sampling`, `thinking`, `effort`, and the `max_tokens` a request without one is sent).

Read from Anthropic's ids (`claude-sonnet-4-5-20250929`, `claude-opus-4-1`, `claude-fable-5`)
and the forms cloud catalogues give them (`anthropic.claude-haiku-4-5-20251001-v1:0`,
`claude-sonnet-4-5@20250929`, `anthropic/claude-sonnet-4.5`). A name without a family and a
version in that order (an Azure AI Foundry deployment's own name, a Bedrock inference profile's
ARN, the Claude 3 names such as `claude-3-5-haiku-20241022`) has none.
"""

from __future__ import annotations

import functools
import re

# family, major version, then a minor version of one or two digits (not a date's first digits).
_CLAUDE_VERSION = re.compile(r"claude-([a-z]+)-(\d+)(?:[-.](\d{1,2})(?!\d))?")


@functools.lru_cache(maxsize=256)  # a handful of deployments' names, read per request
def claude_model(model: str) -> tuple[str, int, int] | None:
    """(family, major, minor) of the Claude model `model` names (`("opus", 5, 5)` for
    `claude-opus-5-5`), or None."""
    match = _CLAUDE_VERSION.search(model.lower())
    if match is None:
        return None
    return match[1], int(match[2]), int(match[3] or 0)


@functools.lru_cache(maxsize=256)
def claude_version(model: str) -> tuple[int, int] | None:
    """(major, minor) of the Claude model `model` names, or None."""
    named = claude_model(model)
    return None if named is None else (named[1], named[2])


def from_version_on(model: str, firsts: dict[str, tuple[int, int]]) -> bool:
    """Whether the Claude model `model` names is of a family in `firsts` and at or after that
    family's version there (a change Anthropic made model by model, such as Opus 5.5's)."""
    named = claude_model(model)
    if named is None:
        return False
    first = firsts.get(named[0])
    return first is not None and (named[1], named[2]) >= first


# Anthropic requires `max_tokens`; OpenAI's means "as much as the model writes" when absent.
# Claude 4 and later write at least 32,000 tokens (Opus 4 and 4.1; the others 64,000 or more,
# and the Claude 5 models think within it by default); Claude 3 models as little as 4,096.
MAX_TOKENS_CLAUDE_4 = 32_000
MAX_TOKENS_OTHERS = 4_096


def default_max_tokens(model: str) -> int:
    """The `max_tokens` sent for a request that names none to the Claude model `model` names:
    32,000 for Claude 4 and later (the least any of them writes), 4,096 for the Claude 3
    models and names that do not say (the least a Claude model writes)."""
    version = claude_version(model)
    return MAX_TOKENS_CLAUDE_4 if version is not None and version >= (4, 0) else MAX_TOKENS_OTHERS
