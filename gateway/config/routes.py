"""`[[providers]]` and `[[models]]`: the cross-field rules of what requests are routed to.

Keys, kinds and bounds come from the specs of `types.py`; this module adds what one field cannot
say alone: unique names, deployments that name configured providers, fallbacks that name
configured models, a base URL for the providers that call out, an API key in the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from gateway.config.document import Doc, Entries, Table, entry_name
from gateway.config.locate import KeyPath
from gateway.config.provider_auth import check_auth
from gateway.config.provider_network import check_azure, check_network, check_provider_secrets
from gateway.config.provider_types import ProviderConfig
from gateway.config.specs import spec_of
from gateway.config.types import DeploymentConfig, ModelConfig
from gateway.config.urls import http_url_problem

PROVIDER = spec_of(ProviderConfig)
MODEL = spec_of(ModelConfig)
DEPLOYMENT = spec_of(DeploymentConfig)

_FALLBACK_FIELDS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")


def providers(
    doc: Doc, entries: Entries, env: Mapping[str, str], base: Path
) -> dict[str, ProviderConfig | None]:
    """Providers by name, in file order; None for a named provider with problems. Relative
    file paths are relative to `base` (the config file's directory)."""
    found: dict[str, ProviderConfig | None] = {}
    for i, raw in entries:
        path: KeyPath = ("providers", i)
        values = doc.fields(
            raw, path, f"in {entry_name('providers', i, raw.get('name'))}", PROVIDER
        )
        name = values.get("name")
        if name is None:
            continue
        if name in found:
            doc.report(path + ("name",), f"duplicate provider name '{name}'")
            continue
        before = len(doc.problems)
        _check_provider(doc, path, raw, values, env)
        label = f"provider '{name}'"
        check_azure(doc, path, label, values)
        values = check_network(doc, path, label, values, base)
        values = check_provider_secrets(doc, path, label, values, env)
        values = check_auth(doc, path, label, values, env, base)
        ok = "type" in values and len(doc.problems) == before
        found[name] = PROVIDER.build(values) if ok else None
    return found


def _check_provider(
    doc: Doc, path: KeyPath, raw: Table, values: Table, env: Mapping[str, str]
) -> None:
    label, kind = f"provider '{values['name']}'", values.get("type")
    base_url = values.get("base_url", "")
    if kind in ("openai", "anthropic", "azure") and not base_url and "base_url" not in raw:
        doc.report(path + ("base_url",), f"{label}: base_url is required for type '{kind}'")
    elif "base_url" in values and (problem := http_url_problem(base_url)) is not None:
        doc.report(path + ("base_url",), f"{label}: base_url {problem}")
    env_name = values.get("api_key_env")
    if env_name is not None:
        doc.require_env(path + ("api_key_env",), label, env_name, env)
    for name in ("responses", "compaction"):
        if values.get(name) is not None and kind == "anthropic":
            message = f"{label}: {name} applies to types 'openai', 'azure' and 'mock' only"
            doc.report(path + (name,), message)
    for name in ("stream_usage", "reasoning_content", "thought_signatures"):
        if name in values and kind not in ("openai", "azure"):
            message = f"{label}: {name} applies to types 'openai' and 'azure' only"
            doc.report(path + (name,), message)
    for dropped in values.get("drop_params", ()):
        if (problem := _drop_problem(dropped)) is not None:
            doc.report(path + ("drop_params",), f"{label}: drop_params {dropped!r} {problem}")


# What every request needs: without it there is no request, or no way to read the answer.
_KEPT_PARAMS = frozenset({"model", "messages", "input", "stream"})


def _drop_problem(name: str) -> str | None:
    """Why `name` cannot be a field left out of a provider's requests, or None."""
    if not name or "" in name.split("."):
        return "is not a field name: write `field` or `field.inner`"
    if name in _KEPT_PARAMS:
        return "cannot be left out: every request needs it"
    return None


def models(
    doc: Doc, entries: Entries, providers: Mapping[str, object]
) -> dict[str, ModelConfig | None]:
    """Models by name, in file order; None for a named model with problems."""
    found: dict[str, ModelConfig | None] = {}
    fallbacks: list[tuple[KeyPath, str, tuple[str, ...]]] = []
    for i, raw in entries:
        path: KeyPath = ("models", i)
        where = entry_name("models", i, raw.get("name"))
        before = len(doc.problems)
        values = doc.fields(raw, path, f"in {where}", MODEL)
        name = values.get("name")
        label = f"model '{name}'" if name else where
        deployments = _deployments(
            doc, path, values.get("deployments", []), where, label, providers
        )
        if raw.get("deployments", []) == []:
            doc.report(path + ("deployments",), f"{label} has no deployment")
        if name is None:
            continue
        if name in found:
            doc.report(path + ("name",), f"duplicate model name '{name}'")
            continue
        for field_name in _FALLBACK_FIELDS:
            fallbacks.append((path + (field_name,), name, values.get(field_name, ())))
        if deployments and all(d.weight == 0 for d in deployments):
            doc.report(
                path + ("deployments",), f"{label}: at least one deployment needs a weight above 0"
            )
        ok = len(doc.problems) == before
        found[name] = MODEL.build(values, deployments=deployments) if ok else None
    _check_fallbacks(doc, fallbacks, found)
    return found


def _deployments(
    doc: Doc,
    path: KeyPath,
    entries: Entries,
    where: str,
    label: str,
    providers: Mapping[str, object],
) -> tuple[DeploymentConfig, ...]:
    """The valid deployments of one model; reports unknown providers and repeats."""
    found: list[DeploymentConfig] = []
    for j, raw in entries:
        deployment_path = path + ("deployments", j)
        at = f"{label} deployments[{j}]"
        values = doc.fields(raw, deployment_path, f"in {where} deployments[{j}]", DEPLOYMENT)
        provider = values.get("provider")
        if provider is not None and provider not in providers:
            doc.report(
                deployment_path + ("provider",),
                f"{at}: provider '{provider}' is not a configured provider",
            )
        if "provider" not in values or "model" not in values:
            continue
        serving = providers.get(values["provider"])
        if values.get("reasoning") and isinstance(serving, ProviderConfig):
            if serving.type == "anthropic":
                doc.report(
                    deployment_path + ("reasoning",),
                    f"{at}: reasoning applies to deployments of openai and azure providers",
                )
        if values.get("sampling", "auto") != "auto" and isinstance(serving, ProviderConfig):
            if serving.type != "anthropic":
                doc.report(
                    deployment_path + ("sampling",),
                    f"{at}: sampling applies to deployments of anthropic providers",
                )
        if values.get("api") == "responses" and isinstance(serving, ProviderConfig):
            if serving.type == "anthropic" or serving.responses is False:
                doc.report(
                    deployment_path + ("api",),
                    f"{at}: api 'responses' needs a provider that serves the Responses API "
                    "(openai or azure type, not responses = false)",
                )
        deployment = DEPLOYMENT.build(values)
        if any(d.name == deployment.name for d in found):
            doc.report(deployment_path, f"{at}: repeats deployment '{deployment.name}'")
        found.append(deployment)
    return tuple(found)


def _check_fallbacks(
    doc: Doc,
    fallbacks: list[tuple[KeyPath, str, tuple[str, ...]]],
    models: Mapping[str, object],
) -> None:
    for path, name, names in fallbacks:
        for k, fallback in enumerate(names):
            if fallback == name:
                doc.report(path + (k,), f"model '{name}': a model cannot fall back to itself")
            elif fallback not in models:
                doc.report(
                    path + (k,), f"model '{name}': fallback '{fallback}' is not a configured model"
                )
