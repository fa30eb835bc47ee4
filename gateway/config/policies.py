"""Policy files: `<policies_dir>/<name>.toml` for every policy a key names, plus `default`.

A policy's tables (`[limits]`, `[cache]`, `[team_limits]`, `[model_limits.NAME]`,
`[[guardrails]]`) come from the spec of `PolicyConfig`; its problems are reported in its own
file. A missing `default.toml` is an empty policy (no limits, no cache); any other missing policy
is reported on the key that names it.
"""

from __future__ import annotations

from pathlib import Path

from gateway.config.document import Doc, Entries, Table, parse
from gateway.config.errors import Problem
from gateway.config.files import read_config_file
from gateway.config.guardrails import guardrails
from gateway.config.keys import POLICY_NAME
from gateway.config.specs import spec_of
from gateway.config.types import CacheConfig, KeyConfig, PolicyConfig

POLICY = spec_of(PolicyConfig)
DEFAULT_POLICY = str(spec_of(KeyConfig).default("policy"))


def policies(
    doc: Doc,
    directory: Path,
    keys: list[tuple[int, KeyConfig | None]],
    key_entries: Entries,
    models: frozenset[str],
) -> tuple[dict[str, PolicyConfig], dict[str, bytes]]:
    """Every policy named by a key, plus `default`; and the bytes of each file read.

    `models` are the configured model names (guardrails that ask a model must name one).
    """
    policies: dict[str, PolicyConfig] = {}
    files: dict[str, bytes] = {}
    for name, users in _wanted(keys, key_entries).items():
        file = directory / f"{name}.toml"
        try:
            content = read_config_file(file)
        except FileNotFoundError:
            if name == DEFAULT_POLICY:
                policies[name] = PolicyConfig(name)
                continue
            for i, key_id in users:
                label = f"key '{key_id}'" if isinstance(key_id, str) else f"[[keys]][{i}]"
                doc.report(
                    ("keys", i, "policy"), f"{label}: policy '{name}' not found (looked for {file})"
                )
            continue
        except OSError as exc:
            doc.problems.append(Problem(str(file), 1, f"cannot read policy file: {exc.strerror}"))
            continue
        files[name] = content
        policy = _policy(name, str(file), content, doc.problems, models)
        if policy is not None:
            policies[name] = policy
    return policies, files


def _wanted(
    keys: list[tuple[int, KeyConfig | None]], key_entries: Entries
) -> dict[str, list[tuple[int, object]]]:
    """Policy name -> (index in [[keys]], key id) of each key naming it; `default` always."""
    raw_keys = dict(key_entries)
    wanted: dict[str, list[tuple[int, object]]] = {DEFAULT_POLICY: []}
    for i, key in keys:
        raw = raw_keys[i]
        policy = raw.get("policy", DEFAULT_POLICY)
        if isinstance(policy, str) and POLICY_NAME.fullmatch(policy):
            wanted.setdefault(policy, []).append((i, raw.get("id") if key is None else key.id))
    return wanted


def _policy(
    name: str, file: str, content: bytes, problems: list[Problem], models: frozenset[str]
) -> PolicyConfig | None:
    parsed = parse(file, content, problems)
    if parsed is None:
        return None
    data, doc = parsed
    values: Table = doc.fields(data, (), "at top level", POLICY)
    found = guardrails(doc, values.get("guardrails", []), models)
    for model in values.get("model_limits", {}):
        if model not in models:
            # A typo here would leave the real model unlimited: refuse it.
            doc.report(
                ("model_limits", model),
                f"policy '{name}': [model_limits.\"{model}\"] names a model that is not configured",
            )
    cache = values.get("cache")
    if isinstance(cache, CacheConfig):  # else its table had problems, already reported
        _check_cache(doc, name, cache, data.get("cache", {}), models)
    return POLICY.build(values, name=name, guardrails=found)


def _check_cache(
    doc: Doc, name: str, cache: CacheConfig, raw: Table, models: frozenset[str]
) -> None:
    """A semantic cache names a configured embedding model; the other modes use none."""
    model = cache.embedding_model
    if cache.mode != "semantic":
        for key in ("embedding_model", "similarity"):
            if key in raw:
                doc.report(("cache", key), f"policy '{name}': '{key}' needs mode = 'semantic'")
    elif model is None:
        doc.report(
            ("cache", "mode"),
            f"policy '{name}': mode 'semantic' needs embedding_model = '<a [[models]] name>'",
        )
    elif models and model not in models:
        doc.report(
            ("cache", "embedding_model"),
            f"policy '{name}': embedding_model '{model}' is not a configured model",
        )
