"""Strict rendering of a prompt version: `{{name}}` placeholders filled with request variables.

Every placeholder must have a value and every value a placeholder (a 400 names the first that
does not). Values are inserted as text in one pass: a value that itself looks like `{{x}}` stays
as written, it is never rendered again.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.config.prompt_types import VARIABLE, PromptVersion
from gateway.errors import InvalidRequest
from gateway.quoted_text import quoted

Variables = Mapping[str, object]


def render(prompt_id: str, version: PromptVersion, variables: Variables) -> list[dict[str, str]]:
    """The version's messages with `variables` filled in, as chat messages."""
    for name in version.variables:
        if name not in variables:
            raise InvalidRequest(
                f"prompt '{prompt_id}' version {version.version} needs the variable '{name}'",
                param=f"prompt.variables.{name}",
                code="prompt_variable_missing",
            )
    values: dict[str, str] = {}
    for name, value in variables.items():
        if name not in version.variables:
            raise InvalidRequest(
                f"prompt '{prompt_id}' version {version.version} has no variable '{quoted(name)}'",
                param=f"prompt.variables.{quoted(name)}",
                code="prompt_variable_unknown",
            )
        values[name] = _text(name, value)
    return [
        {"role": m.role, "content": VARIABLE.sub(lambda match: values[match[1]], m.content)}
        for m in version.messages
    ]


def _text(name: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise InvalidRequest(
        f"prompt variable '{quoted(name)}' must be a string or a number",
        param=f"prompt.variables.{quoted(name)}",
        code="prompt_variable_invalid",
    )
