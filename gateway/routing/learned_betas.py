"""The `anthropic-beta` values an Anthropic-type upstream refused, left out from then on.

Claude Code sends a dozen betas with every request (`claude-code-20250219`,
`interleaved-thinking-2025-05-14`, `prompt-caching-scope-2026-01-05`, `advisor-tool-2026-03-01`
...), new ones with its releases. Anthropic's API takes them; the Anthropic-compatible servers an
operator may name as an `anthropic` provider (a Claude on Vertex behind a proxy, another
company's Messages API) refuse what they do not know: 400 "Unexpected value(s)
`prompt-caching-scope-2026-01-05`, `structured-outputs-2025-12-15` for the `anthropic-beta`
header. Please consult our documentation at docs.anthropic.com or try again without the
header.", and every request of the session failed. The router asks again at once without the
values named, in the same attempt, and once a call without them was answered, leaves them out
of that provider's requests from then on (for the worker's life; at most `MAX_PER_PROVIDER`).
A server that refuses a beta in words of its own is told in the config: the provider's
`drop_betas`.

A value that cannot be a beta's name (anything but lower-case letters, digits, `.`, `_` and
`-`) is never sent: the upstream's message quotes what it was sent, and a value made to read
like that message could otherwise get a beta the provider takes left out for everyone.
"""

from __future__ import annotations

import logging
import re

from gateway.config.provider_types import ProviderConfig
from gateway.errors import GatewayError

log = logging.getLogger("gateway.routing")

MAX_PER_PROVIDER = 64
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
_PLAIN_HEADER = re.compile(r"[a-z0-9._, -]*")  # nearly every header: well-formed names only
_REFUSED = re.compile(r"Unexpected value\(s\) (.+?) for the `anthropic-beta` header")
_QUOTED = re.compile(r"`([^`]*)`")


def _names(header: str) -> list[str]:
    return [name.strip() for name in header.split(",") if name.strip()]


class LearnedBetas:
    """The betas each provider refused (see the module)."""

    def __init__(self) -> None:
        self._refused: dict[str, set[str]] = {}

    def header(
        self, provider: ProviderConfig, header: str | None, also: tuple[str, ...] = ()
    ) -> str | None:
        """The `anthropic-beta` value to send `provider`: the client's, without the values
        that cannot be names, those the provider refused, those its `drop_betas` names and
        `also` (an attempt's own lesson; None when nothing is left)."""
        if header is None:
            return None
        refused = self._refused.get(provider.name)
        dropped = provider.drop_betas
        if refused is None and not dropped and not also and _PLAIN_HEADER.fullmatch(header):
            return header
        kept = [
            name
            for name in _names(header)
            if _NAME.fullmatch(name)
            and (refused is None or name not in refused)
            and name not in dropped
            and name not in also
        ]
        return ",".join(kept) or None

    def commit(self, provider: str, names: tuple[str, ...]) -> None:
        """Remember that `provider` refuses `names` (a call without them was answered), while
        there is room."""
        refused = self._refused.setdefault(provider, set())
        if not names or set(names) <= refused or len(refused | set(names)) > MAX_PER_PROVIDER:
            return
        refused.update(names)
        log.info(
            "provider %s refuses the anthropic-beta values %s: they are left out from now on",
            provider,
            ", ".join(sorted(names)),
        )


def refused_betas(sent: str | None, error: GatewayError) -> tuple[str, ...]:
    """The values of the `anthropic-beta` header `sent` that `error` (the upstream's answer)
    says it refuses, in Anthropic's words."""
    if not sent:
        return ()
    found = _REFUSED.search(error.message)
    if found is None:
        return ()
    named = set(_QUOTED.findall(found.group(1)))
    return tuple(name for name in _names(sent) if name in named)
