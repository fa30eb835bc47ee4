"""Which prompt and version a request asks for, and which version it gets.

A request names a prompt in its body (`"prompt": {"id", "version", "variables"}`, the shape of
OpenAI's reusable prompts) or in the `x-gateway-prompt: ID@VERSION|ALIAS` header (variables then
come from the body's `prompt.variables`, if any). `version` is a number, a numeric string or an
alias; without one the `production` alias is used, else the latest version.

Requests for `production` are split with its canaries (`canary = {version, weight}`): a
request goes to a canary with the probability of its weight, decided by a hash of the prompt id
and the sticky unit (the end user, else the key), so one user always sees one version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.config.prompt_types import PRODUCTION, Prompt, PromptVersion
from gateway.errors import InvalidRequest, NotFound
from gateway.quoted_text import quoted

HEADER = "x-gateway-prompt"
_FIELDS = ("id", "version", "variables")
# OpenAI's stored prompts' ids: such a field may carry fields of OpenAI's the gateway never reads.
OPENAI_STORED = "pmpt_"


@dataclass(frozen=True)
class PromptRef:
    id: str
    version: int | str | None = None
    variables: Mapping[str, object] = field(default_factory=dict)


def requested(body: Mapping[str, Any], header: str | None) -> PromptRef | None:
    """The prompt a request names, or None; 400 when the field or header is malformed."""
    raw = body.get("prompt")
    if header is not None and not header.strip():
        header = None  # an empty header names nothing
    if raw is None and header is None:
        return None
    if raw is not None and not isinstance(raw, dict):
        raise _invalid("the 'prompt' field must be an object {id, version, variables}", "prompt")
    fields: dict[str, Any] = dict(raw or {})
    variables = fields.get("variables", {})
    if not isinstance(variables, dict):
        raise _invalid("prompt.variables must be an object", "prompt.variables")
    if header is not None:
        named, _, alias = (part.strip() for part in header.partition("@"))
        if fields.get("id", named) != named:
            # The version the header pins belongs to its prompt, never to the body's.
            raise _invalid(
                f"the {HEADER} header names the prompt '{quoted(named)}' and the body's "
                "prompt.id "
                f"'{quoted(fields['id'])}'",
                "prompt.id",
            )
        fields["id"] = named
        if alias:
            if "version" in fields and str(fields["version"]) != alias:
                # Either answer would serve a version the other one did not ask for.
                raise _invalid(
                    f"the {HEADER} header asks for version '{quoted(alias)}' and the body's "
                    f"prompt.version for '{quoted(fields['version'])}'",
                    "prompt.version",
                )
            fields["version"] = alias
    prompt_id = fields.get("id")
    if not isinstance(prompt_id, str) or not prompt_id:
        raise _invalid("prompt.id must be a non-empty string", "prompt.id")
    unknown = [key for key in fields if key not in _FIELDS]
    if unknown and not prompt_id.startswith(OPENAI_STORED):
        # A misspelt "version" would silently serve the production alias.
        raise _invalid(
            f"unknown field prompt.{quoted(unknown[0])} (a prompt takes id, version, variables)",
            f"prompt.{quoted(unknown[0])}",
        )
    version = fields.get("version")
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int | str) or version == ""
    ):
        raise _invalid("prompt.version must be a version number or an alias", "prompt.version")
    return PromptRef(prompt_id, version, variables)


# No version is numbered past 18 digits; `int()` refuses a string past 4,300 (a ValueError).
_VERSION_DIGITS = 18


def _no_version(prompt_id: str, version: str | int) -> NotFound:
    return NotFound(
        f"the prompt '{quoted(prompt_id)}' has no version {quoted(version)}",
        param="prompt.version",
        code="prompt_version_not_found",
    )


def choose(
    prompts: Mapping[str, Prompt], ref: PromptRef, sticky: str
) -> tuple[Prompt, PromptVersion, str | None]:
    """The prompt, the version the request gets and the alias that chose it (None for a
    version asked by number); 404 for an unknown prompt, version or alias."""
    prompt = prompts.get(ref.id)
    if prompt is None:
        raise NotFound(
            f"the prompt '{quoted(ref.id)}' does not exist",
            param="prompt.id",
            code="prompt_not_found",
        )
    wanted = ref.version
    # ASCII digits only: "²" is a digit to str.isdigit, not to int.
    if isinstance(wanted, str) and wanted.isascii() and wanted.isdigit():
        if len(wanted) > _VERSION_DIGITS:
            raise _no_version(ref.id, wanted)
        wanted = int(wanted)
    if isinstance(wanted, int):
        if wanted not in prompt.versions:
            raise _no_version(ref.id, wanted)
        return prompt, prompt.versions[wanted], None
    if wanted is None and PRODUCTION not in prompt.aliases:
        return prompt, prompt.latest, None
    alias_name = wanted or PRODUCTION
    alias = prompt.aliases.get(alias_name)
    if alias is None:
        raise NotFound(
            f"the prompt '{quoted(ref.id)}' has no alias '{quoted(alias_name)}'",
            param="prompt.version",
            code="prompt_version_not_found",
        )
    if alias_name == PRODUCTION:
        point, low = share(ref.id, sticky), 0.0
        for canary in prompt.canaries():
            assert canary.weight is not None  # canaries() returns weighted aliases only
            if low <= point < low + canary.weight:
                alias = canary
                break
            low += canary.weight
    return prompt, prompt.versions[alias.version], alias.name


def share(prompt_id: str, sticky: str) -> float:
    """A point in [0, 1) fixed by the prompt and the sticky unit."""
    digest = hashlib.blake2b(f"{prompt_id}\0{sticky}".encode(), digest_size=8).digest()
    return int.from_bytes(digest) / 2**64


def _invalid(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code="invalid_prompt")
