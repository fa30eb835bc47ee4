"""Prompt files: `<prompts_dir>/<id>.toml`, one versioned prompt each (docs/prompts.md).

```toml
[[versions]]
version = 1
messages = [{ role = "system", content = "You answer questions about {{product}}." }]
params = { temperature = 0.2 }        # applied to the request; see `allow_override`
allow_override = []                   # params the request may set to another value
[aliases]
production = 1
canary = { version = 2, weight = 0.1 }  # that share of the `production` alias's traffic
```

A version's content (messages, params, allow_override) has a hash; a version that requests have
used (its hash is in the request log) may not change: the load refuses the edit with the file
and line, and says to add a version instead. Evaluations `gateway prompts promote` appends
(`[[versions.evals]]`) are not content.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gateway.config.document import Doc, Table, parse, type_name
from gateway.config.errors import Problem
from gateway.config.files import read_config_file
from gateway.config.prompt_types import (
    ALIAS_NAME,
    PRODUCTION,
    PROMPT_ID,
    ROLES,
    VARIABLE,
    Prompt,
    PromptAlias,
    PromptMessage,
    PromptVersion,
    UsedVersions,
    content_hash,
)


def load_prompts(
    directory: Path, problems: list[Problem], used: UsedVersions
) -> tuple[dict[str, Prompt], dict[str, bytes]]:
    """Every `*.toml` prompt in `directory` (none when it does not exist), and their bytes."""
    prompts: dict[str, Prompt] = {}
    files: dict[str, bytes] = {}
    try:
        is_dir = stat.S_ISDIR(os.stat(directory).st_mode)
    except FileNotFoundError:
        return prompts, files
    except OSError as exc:  # a symlink loop, a file on the path: a typo, not "no prompts"
        problems.append(Problem(str(directory), 1, f"cannot read prompts_dir: {exc.strerror}"))
        return prompts, files
    if not is_dir:  # a file where the registry should be: a typo, not "no prompts"
        problems.append(Problem(str(directory), 1, "prompts_dir is not a directory"))
        return prompts, files
    for file in prompt_files(directory):
        prompt_id = file.stem
        try:
            content = read_config_file(file)
        except OSError as exc:
            problems.append(Problem(str(file), 1, f"cannot read prompt file: {exc.strerror}"))
            continue
        files[prompt_id] = content
        prompt = parse_prompt(file, content, problems, used)
        if prompt is not None:
            prompts[prompt_id] = prompt
    return prompts, files


def prompt_files(directory: Path) -> list[Path]:
    """The registry's files, sorted: `*.toml` but those whose name starts with a dot, which
    editors and copies leave beside the file being edited (Emacs's `.#id.toml` lock, a dangling
    symlink; macOS's `._id.toml`): read as prompts they refused every reload until removed."""
    return sorted(file for file in directory.glob("*.toml") if not file.name.startswith("."))


def parse_prompt(
    file: Path, content: bytes, problems: list[Problem], used: UsedVersions
) -> Prompt | None:
    """The prompt in `content` (its id is the file's name without `.toml`), or None with its
    problems reported."""
    prompt_id = file.stem
    if not PROMPT_ID.fullmatch(prompt_id):
        problems.append(Problem(str(file), 1, f"invalid prompt id '{prompt_id}' (file name)"))
        return None
    parsed = parse(str(file), content, problems)
    return None if parsed is None else _prompt(prompt_id, file, *parsed, used)


def _prompt(prompt_id: str, file: Path, data: Table, doc: Doc, used: UsedVersions) -> Prompt | None:
    before = len(doc.problems)
    for key in data:
        if key not in ("versions", "aliases", "description"):
            doc.report((key,), f"unknown key '{key}' at top level of prompt '{prompt_id}'")
    raw_versions = data.get("versions")
    if not isinstance(raw_versions, list) or not raw_versions:
        doc.report(("versions",), f"prompt '{prompt_id}' has no [[versions]]")
        return None
    versions: dict[int, PromptVersion] = {}
    for i, raw in enumerate(raw_versions):
        version = _version(doc, i, raw, prompt_id, used)
        if version is None:
            continue
        if version.version in versions:
            doc.report(("versions", i, "version"), f"version {version.version} is defined twice")
        versions[version.version] = version
    aliases = _aliases(doc, data.get("aliases", {}), versions, _declared(raw_versions))
    if len(doc.problems) > before:
        return None
    return Prompt(prompt_id, file, MappingProxyType(versions), MappingProxyType(aliases))


def _number(value: object) -> int | None:
    """A version number as a file may write it (an integer, not a boolean), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _declared(raw_versions: list[Any]) -> set[int]:
    """The version numbers the file declares, valid versions or not."""
    numbers = (_number(raw.get("version")) for raw in raw_versions if isinstance(raw, dict))
    return {number for number in numbers if number is not None}


# Fields a version's params cannot set: how the answer travels (`stream` made every JSON request
# a stream the gateway could not read: 502), the conversation itself, and the prompt reference.
REQUEST_OWN = ("stream", "stream_options", "messages", "input", "prompt")


def _not_a_param(name: str) -> str | None:
    if name in REQUEST_OWN:
        return f"'{name}' is the request's own: a prompt version cannot set it"
    return None


def _version(
    doc: Doc, i: int, raw: Any, prompt_id: str, used: UsedVersions
) -> PromptVersion | None:
    path: tuple[str | int, ...] = ("versions", i)
    if not isinstance(raw, dict):
        doc.report(path, f"versions[{i}]: expected table, got {type_name(raw)}")
        return None
    known = ("version", "messages", "params", "allow_override", "description", "evals")
    for key in raw:
        if key not in known:
            doc.report(path + (key,), f"unknown key '{key}' in versions[{i}]")
    number = _number(raw.get("version"))
    if number is None or number < 1:
        doc.report(path + ("version",), f"versions[{i}].version: expected a positive integer")
        return None
    messages = _messages(doc, path, raw.get("messages"))
    params = raw.get("params", {})
    if not isinstance(params, dict):
        doc.report(path + ("params",), f"versions[{i}].params: expected table")
        params = {}
    unsendable = [(name, _not_json(value) or _not_a_param(name)) for name, value in params.items()]
    for name, problem in unsendable:
        if problem is not None:  # it goes into request bodies as it is
            doc.report(path + ("params", name), f"versions[{i}].params.{name}: {problem}")
    allow = raw.get("allow_override", [])
    if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
        doc.report(path + ("allow_override",), f"versions[{i}].allow_override: strings expected")
        allow = []
    if messages is None or any(problem is not None for _, problem in unsendable):
        return None
    digest = content_hash(messages, params, allow)
    was = used.get((prompt_id, number))
    if was is not None and was != digest:
        doc.report(
            path + ("messages",),
            f"prompt '{prompt_id}' version {number} was used by requests (hash {was}) and "
            "cannot change: add a new version instead",
        )
    names = dict.fromkeys(name for m in messages for name in VARIABLE.findall(m.content))
    evals = raw.get("evals", [])
    return PromptVersion(
        number,
        messages,
        MappingProxyType(dict(params)),
        tuple(allow),
        tuple(names),
        digest,
        len(evals) if isinstance(evals, list) else 0,
    )


def _not_json(value: object) -> str | None:
    """Why a TOML value cannot go into a JSON request body as it is, or None when it can: a
    date or time (TOML has them, JSON does not), an integer beyond 64 bits, inf or nan."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return next((problem for item in value if (problem := _not_json(item)) is not None), None)
    if isinstance(value, bool | str):
        return None
    if isinstance(value, int):
        return None if -(2**63) <= value < 2**64 else "an integer beyond 64 bits"
    if isinstance(value, float):
        return None if math.isfinite(value) else "inf and nan are not JSON numbers"
    return f"a {type_name(value)} is not a JSON value (quote it as a string)"


def _messages(doc: Doc, path: tuple[str | int, ...], raw: Any) -> tuple[PromptMessage, ...] | None:
    where = f"versions[{path[1]}].messages"
    if not isinstance(raw, list) or not raw:
        doc.report(path + ("messages",), f"{where}: expected a non-empty array of messages")
        return None
    found: list[PromptMessage] = []
    for j, item in enumerate(raw):
        at = path + ("messages", j)
        role = item.get("role") if isinstance(item, dict) else None
        content = item.get("content") if isinstance(item, dict) else None
        if role not in ROLES or not isinstance(content, str):
            doc.report(
                at, f'{where}[{j}]: expected {{role = {" | ".join(ROLES)}, content = "..."}}'
            )
            continue
        found.append(PromptMessage(role, content))
    return tuple(found) if len(found) == len(raw) else None


def _aliases(
    doc: Doc, raw: Any, versions: Mapping[int, PromptVersion], declared: set[int]
) -> dict[str, PromptAlias]:
    """The aliases; one naming a version that is declared but invalid is not reported again."""
    if not isinstance(raw, dict):
        doc.report(("aliases",), "aliases: expected table")
        return {}
    aliases: dict[str, PromptAlias] = {}
    total = 0.0
    for name, value in raw.items():
        at = ("aliases", name)
        if not ALIAS_NAME.fullmatch(name) or name.isdigit():
            doc.report(at, f"invalid alias name '{name}'")
            continue
        weight = None
        if isinstance(value, dict):
            version, weight = value.get("version"), value.get("weight")
            if (
                not isinstance(weight, int | float)
                or isinstance(weight, bool)
                or not 0 <= weight <= 1
            ):
                doc.report(at, f"aliases.{name}.weight: expected a number from 0 to 1")
                continue
            if name == PRODUCTION:
                doc.report(at, "aliases.production takes a version, not a weight")
                continue
            total += weight
        else:
            version = value
        number = _number(version)
        if number is None or number not in versions:
            if number not in declared:
                doc.report(at, f"aliases.{name}: no version {version!r} in this prompt")
            continue
        aliases[name] = PromptAlias(name, number, None if weight is None else float(weight))
    if total > 1:
        doc.report(("aliases",), f"the canary weights add up to {total:g}, more than 1")
    return aliases
