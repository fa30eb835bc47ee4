"""The registry as data: what `gateway prompts list | show | diff` print and `GET
/admin/prompts` serves."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from gateway.config.prompt_types import Prompt, PromptVersion


def summary(prompt: Prompt) -> dict[str, Any]:
    """One prompt: its versions, aliases (with canary weights) and the file it lives in."""
    return {
        "id": prompt.id,
        "file": str(prompt.file),
        "versions": sorted(prompt.versions),
        "aliases": {
            name: {"version": a.version, "weight": a.weight} if a.weight is not None else a.version
            for name, a in sorted(prompt.aliases.items())
        },
    }


def detail(prompt: Prompt) -> dict[str, Any]:
    """`summary` plus every version's content, hash, variables and number of evaluations."""
    return {
        **summary(prompt),
        "detail": [version_view(v) for _, v in sorted(prompt.versions.items())],
    }


def version_view(version: PromptVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "hash": version.hash,
        "variables": list(version.variables),
        "messages": [{"role": m.role, "content": m.content} for m in version.messages],
        "params": dict(version.params),
        "allow_override": list(version.allow_override),
        "evals": version.evals,
    }


def registry(prompts: Mapping[str, Prompt]) -> dict[str, Any]:
    return {"prompts": [detail(prompts[name]) for name in sorted(prompts)]}


def diff(prompt: Prompt, a: int, b: int) -> str:
    """A unified diff of two versions' messages and params."""
    return "".join(
        difflib.unified_diff(
            _lines(prompt.versions[a]),
            _lines(prompt.versions[b]),
            f"{prompt.id}@{a}",
            f"{prompt.id}@{b}",
        )
    )


def _lines(version: PromptVersion) -> list[str]:
    lines = []
    for message in version.messages:
        lines.append(f"[{message.role}]\n")
        lines += [f"{line}\n" for line in message.content.splitlines()]
    lines += [f"param {k} = {v!r}\n" for k, v in sorted(version.params.items())]
    lines += [f"allow_override {name}\n" for name in version.allow_override]
    return lines
