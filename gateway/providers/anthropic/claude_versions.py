"""The version of the Claude model a deployment names, for what changed between versions
(`sampling`, `thinking`).

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
_CLAUDE_VERSION = re.compile(r"claude-[a-z]+-(\d+)(?:[-.](\d{1,2})(?!\d))?")


@functools.lru_cache(maxsize=256)  # a handful of deployments' names, read per request
def claude_version(model: str) -> tuple[int, int] | None:
    """(major, minor) of the Claude model `model` names, or None."""
    match = _CLAUDE_VERSION.search(model.lower())
    if match is None:
        return None
    return int(match[1]), int(match[2] or 0)
