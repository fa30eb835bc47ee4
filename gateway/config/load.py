"""TOML config -> validated, immutable `GatewayConfig`.

`load_config` reads the config file and every policy file it names, checks everything (types,
ranges, unknown keys, cross references, environment variables) and raises one `ConfigError`
listing every problem as `file:line: message`. `check_config` returns the same problems as a
list. Relative paths in the config (`policies_dir`, `logging.path`) are relative to the
directory of the config file. Secret values (environment variables, key hashes) never appear in
a message.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, get_args

from gateway.config.errors import ConfigError, Problem
from gateway.config.locate import KeyPath, Locator
from gateway.config.types import (
    AdminConfig,
    CacheConfig,
    CacheMode,
    DeploymentConfig,
    GatewayConfig,
    GuardrailAction,
    GuardrailConfig,
    GuardrailOnError,
    GuardrailStage,
    GuardrailType,
    KeyConfig,
    LimitsConfig,
    LoggingConfig,
    ModelConfig,
    PiiEngine,
    PolicyConfig,
    ProviderConfig,
    ProviderType,
    RecognizerConfig,
    RedisErrorMode,
    RoutingConfig,
    ServerConfig,
    StateBackend,
    StateConfig,
    Sticky,
    Strategy,
    Timeouts,
)
from gateway.guardrails.catalog import DEFAULT_THRESHOLDS, NER_ENTITIES, PII_ENTITIES

DEFAULT_POLICY = "default"
DEFAULT_POLICIES_DIR = "policies"


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Load and validate `path`; raise `ConfigError` with every problem found."""
    config, problems = _load(Path(path), os.environ if env is None else env)
    if problems or config is None:
        raise ConfigError(problems)
    return config


def check_config(path: str | Path, env: Mapping[str, str] | None = None) -> list[Problem]:
    """Every problem in `path` and the policies it names; [] when the config is clean."""
    return _load(Path(path), os.environ if env is None else env)[1]


def hash_key(secret: str) -> str:
    """The hex sha256 of a gateway key, as `[[keys]] key_sha256` stores it."""
    return hashlib.sha256(secret.encode()).hexdigest()


# -- field specs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    kind: str  # string | integer | number | boolean | array of strings | array of tables
    required: bool = False
    nonempty: bool = False
    choices: tuple[str, ...] = ()
    low: float | None = None  # inclusive
    high: float | None = None  # inclusive
    positive: bool = False


def _one_of(literal: Any, required: bool = False) -> _Field:
    return _Field("string", required=required, choices=get_args(literal))


_NAME = _Field("string", required=True, nonempty=True)
_TEXT = _Field("string")
_NONEMPTY = _Field("string", nonempty=True)
_BOOL = _Field("boolean")
_POS_INT = _Field("integer", positive=True)
_POS_NUM = _Field("number", positive=True)
_COST = _Field("number", low=0)
_NAMES = _Field("array of strings")

_TOP = {"policies_dir": _NONEMPTY}
_TOP_TABLES = ("server", "state", "logging", "admin", "routing")
_TOP_ARRAYS = ("providers", "models", "keys")
_SERVER = {
    "host": _NONEMPTY,
    "port": _Field("integer", low=1, high=65535),
    "workers": _Field("integer", low=1),
    "max_body_bytes": _POS_INT,
    "request_timeout_s": _POS_NUM,
}
_ROUTING = {
    "max_attempts": _POS_INT,
    "backoff_base_s": _POS_NUM,
    "backoff_max_s": _POS_NUM,
    "breaker_failures": _POS_INT,
    "breaker_window_s": _POS_NUM,
    "breaker_cooldown_s": _POS_NUM,
    "probe_timeout_s": _POS_NUM,
}
_STATE = {
    "backend": _one_of(StateBackend),
    "redis_url": _NONEMPTY,
    "on_redis_error": _one_of(RedisErrorMode),
}
_LOGGING = {
    "path": _NONEMPTY,
    "include_bodies": _BOOL,
    "redact_pii_in_logs": _BOOL,
    "max_bytes": _POS_INT,
    "backups": _Field("integer", low=0),
}
_ADMIN = {"key_env": _NONEMPTY}
_PROVIDER = {
    "name": _NAME,
    "type": _one_of(ProviderType, required=True),
    "base_url": _TEXT,
    "api_key_env": _NONEMPTY,
    "anthropic_version": _NONEMPTY,
}
_MODEL = {
    "name": _NAME,
    "strategy": _one_of(Strategy),
    "fallbacks": _NAMES,
    "context_window_fallbacks": _NAMES,
    "content_policy_fallbacks": _NAMES,
    "sticky": _one_of(Sticky),
    "max_attempts": _POS_INT,
    "deployments": _Field("array of tables"),
}
# TOML name -> Timeouts field.
_TIMEOUTS = {
    "connect_timeout_s": "connect_s",
    "first_token_timeout_s": "first_token_s",
    "idle_timeout_s": "idle_s",
    "total_timeout_s": "total_s",
}
_DEPLOYMENT = {
    "provider": _NAME,
    "model": _NAME,
    "weight": _Field("number", low=0),
    "input_cost_per_1m": _COST,
    "output_cost_per_1m": _COST,
    "cached_input_cost_per_1m": _COST,
    "context_window": _POS_INT,
    "rpm": _POS_INT,
    "tpm": _POS_INT,
    **{name: _POS_NUM for name in _TIMEOUTS},
}
_KEY = {
    "id": _NAME,
    "key_sha256": _TEXT,
    "key_env": _NONEMPTY,
    "team": _NONEMPTY,
    "policy": _NONEMPTY,
    "models": _NAMES,
}
_LIMITS = {
    "rpm": _POS_INT,
    "tpm": _POS_INT,
    "max_concurrent": _POS_INT,
    "budget_usd_per_day": _COST,
    "budget_usd_per_month": _COST,
}
_CACHE = {"mode": _one_of(CacheMode), "ttl_s": _POS_INT, "per_team": _BOOL}
_POLICY_TABLES = ("limits", "cache", "team_limits", "model_limits", "guardrails")
_GUARDRAIL = {
    "name": _NAME,
    "type": _one_of(GuardrailType, required=True),
    "applies_to": _one_of(GuardrailStage),
    "action": _one_of(GuardrailAction),
    "on_error": _one_of(GuardrailOnError),
    "threshold": _Field("number", low=0, high=1),
    "entities": _NAMES,
    "engine": _one_of(PiiEngine),
    "recognizers": _Field("array of tables"),
    "patterns": _NAMES,
    "deny_list": _NAMES,
    "model": _NONEMPTY,
}
_RECOGNIZER = {
    "entity": _NAME,
    "patterns": _NAMES,
    "deny_list": _NAMES,
    "context": _NAMES,
    "score": _Field("number", low=0, high=1),
}
# Keys that only mean something for some guardrail types.
_GUARDRAIL_KEYS_BY_TYPE = {
    "entities": ("pii", "regex"),
    "engine": ("pii",),
    "recognizers": ("pii",),
    "patterns": ("regex",),
    "deny_list": ("regex", "toxicity", "prompt_injection"),
    "model": ("moderation",),
}

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_POLICY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_TOML_POSITION = re.compile(
    r"^(.*) \((?:at line (\d+), column \d+|at end of document)\)$", re.DOTALL
)

_INVALID = object()


# -- one document ----------------------------------------------------------------------------


@dataclass
class _Doc:
    """One parsed TOML file; problems go to a list shared by the config and its policies."""

    file: str
    locator: Locator
    problems: list[Problem]

    def report(self, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.file, self.locator.line(path), message))

    def fields(
        self, table: dict[str, Any], path: KeyPath, where: str, spec: Mapping[str, _Field]
    ) -> dict[str, Any]:
        """The valid values of `table` by key; reports unknown, missing and invalid keys."""
        values: dict[str, Any] = {}
        for key, raw in table.items():
            field = spec.get(key)
            if field is None:
                self.report(path + (key,), f"unknown key '{key}' in {where}")
                continue
            value = self._value(raw, path + (key,), field)
            if value is not _INVALID:
                values[key] = value
        for key, field in spec.items():
            if field.required and key not in table:
                self.report(path, f"missing key '{key}' in {where}")
        return values

    def table(self, data: dict[str, Any], name: str, spec: Mapping[str, _Field]) -> dict[str, Any]:
        raw = data.get(name, {})
        if not isinstance(raw, dict):
            self.report((name,), f"{name}: expected table, got {_type_name(raw)}")
            return {}
        return self.fields(raw, (name,), f"[{name}]", spec)

    def entries(self, data: dict[str, Any], name: str) -> Iterator[tuple[int, dict[str, Any]]]:
        """The tables of a top-level array of tables, with their indices."""
        raw = data.get(name, [])
        if not isinstance(raw, list):
            self.report(
                (name,), f"{name}: expected array of tables ([[{name}]]), got {_type_name(raw)}"
            )
            return
        for index, item in enumerate(raw):
            if isinstance(item, dict):
                yield index, item
            else:
                self.report(
                    (name, index), f"{name}[{index}]: expected table, got {_type_name(item)}"
                )

    def _value(self, raw: Any, path: KeyPath, field: _Field) -> Any:
        label = _dotted(path)
        kind = field.kind
        if kind == "array of strings" or kind == "array of tables":
            if not isinstance(raw, list):
                self.report(path, f"{label}: expected {kind}, got {_type_name(raw)}")
                return _INVALID
            wanted: type = str if kind == "array of strings" else dict
            bad = [(i, item) for i, item in enumerate(raw) if not isinstance(item, wanted)]
            for i, item in bad:
                expected = "string" if wanted is str else "table"
                self.report(
                    path + (i,), f"{label}[{i}]: expected {expected}, got {_type_name(item)}"
                )
            return _INVALID if bad else (tuple(raw) if wanted is str else raw)
        if not _is_kind(raw, kind):
            self.report(path, f"{label}: expected {kind}, got {_type_name(raw)}")
            return _INVALID
        if kind == "number":
            raw = float(raw)
            if not math.isfinite(raw):
                self.report(path, f"{label}: must be a finite number, got {raw}")
                return _INVALID
        problem = _range_problem(raw, field)
        if problem:
            self.report(path, f"{label}: {problem}")
            return _INVALID
        return raw


def _is_kind(raw: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(raw, str)
    if kind == "boolean":
        return isinstance(raw, bool)
    if kind == "integer":
        return isinstance(raw, int) and not isinstance(raw, bool)
    return isinstance(raw, (int, float)) and not isinstance(raw, bool)  # number


def _range_problem(value: Any, field: _Field) -> str | None:
    if field.nonempty and value == "":
        return "must not be empty"
    if field.choices and value not in field.choices:
        return f"must be one of {', '.join(repr(c) for c in field.choices)}, got {value!r}"
    if isinstance(value, str):
        return None
    if field.low is not None and field.high is not None and not field.low <= value <= field.high:
        return f"must be between {_num(field.low)} and {_num(field.high)}, got {_num(value)}"
    if field.positive and value <= 0:
        return f"must be greater than 0, got {_num(value)}"
    if field.low is not None and value < field.low:
        return f"must be at least {_num(field.low)}, got {_num(value)}"
    return None


def _num(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _type_name(value: Any) -> str:
    for kind, name in (
        (bool, "boolean"),
        (int, "integer"),
        (float, "float"),
        (str, "string"),
        (list, "array"),
        (dict, "table"),
    ):
        if isinstance(value, kind):
            return name
    return "date/time"


def _dotted(path: KeyPath) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(
        "."
    )


def _where(section: str, index: int, name: Any) -> str:
    return (
        f"[[{section}]] '{name}'" if isinstance(name, str) and name else f"[[{section}]][{index}]"
    )


# -- sections ---------------------------------------------------------------------------------


def _providers(
    doc: _Doc, data: dict[str, Any], env: Mapping[str, str]
) -> dict[str, ProviderConfig | None]:
    """Providers by name, in file order; None for a named provider with problems."""
    providers: dict[str, ProviderConfig | None] = {}
    for i, raw in doc.entries(data, "providers"):
        path: KeyPath = ("providers", i)
        values = doc.fields(raw, path, _where("providers", i, raw.get("name")), _PROVIDER)
        name = values.get("name")
        if name is None:
            continue
        if name in providers:
            doc.report(path + ("name",), f"duplicate provider name '{name}'")
            continue
        before = len(doc.problems)
        kind = values.get("type")
        base_url = values.get("base_url", "")
        if kind in ("openai", "anthropic") and not base_url and "base_url" not in raw:
            doc.report(
                path + ("base_url",), f"provider '{name}': base_url is required for type '{kind}'"
            )
        elif "base_url" in values and not base_url.startswith(("http://", "https://")):
            # The URL itself is not shown: it may carry credentials.
            doc.report(
                path + ("base_url",),
                f"provider '{name}': base_url must start with http:// or https://",
            )
        env_name = values.get("api_key_env")
        if env_name is not None:
            _check_env(doc, path + ("api_key_env",), f"provider '{name}'", env_name, env)
        ok = kind is not None and len(doc.problems) == before
        providers[name] = ProviderConfig(**values) if ok else None
    return providers


_FALLBACK_FIELDS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")


def _models(
    doc: _Doc, data: dict[str, Any], providers: Mapping[str, object]
) -> dict[str, ModelConfig | None]:
    """Models by name, in file order; None for a named model with problems."""
    models: dict[str, ModelConfig | None] = {}
    fallbacks: list[tuple[KeyPath, str, tuple[str, ...]]] = []
    for i, raw in doc.entries(data, "models"):
        path: KeyPath = ("models", i)
        where = _where("models", i, raw.get("name"))
        before = len(doc.problems)
        values = doc.fields(raw, path, where, _MODEL)
        name = values.get("name")
        label = f"model '{name}'" if name else where
        deployments: list[DeploymentConfig] = []
        for j, table in enumerate(values.get("deployments", ())):
            deployment = _deployment(
                doc,
                table,
                path + ("deployments", j),
                f"{where} deployments[{j}]",
                f"{label} deployments[{j}]",
                providers,
            )
            if deployment is not None:
                if any(d.name == deployment.name for d in deployments):
                    doc.report(
                        path + ("deployments", j),
                        f"{label} deployments[{j}]: repeats deployment '{deployment.name}'",
                    )
                deployments.append(deployment)
        if raw.get("deployments", []) == []:
            doc.report(path + ("deployments",), f"{label} has no deployment")
        if name is None:
            continue
        if name in models:
            doc.report(path + ("name",), f"duplicate model name '{name}'")
            continue
        for field_name in _FALLBACK_FIELDS:
            fallbacks.append((path + (field_name,), name, tuple(values.get(field_name, ()))))
        if deployments and all(d.weight == 0 for d in deployments):
            doc.report(
                path + ("deployments",), f"{label}: at least one deployment needs a weight above 0"
            )
        ok = len(doc.problems) == before
        models[name] = (
            ModelConfig(
                name=name,
                deployments=tuple(deployments),
                strategy=values.get("strategy", "weighted"),
                fallbacks=tuple(values.get("fallbacks", ())),
                context_window_fallbacks=tuple(values.get("context_window_fallbacks", ())),
                content_policy_fallbacks=tuple(values.get("content_policy_fallbacks", ())),
                sticky=values.get("sticky", "none"),
                max_attempts=values.get("max_attempts"),
            )
            if ok
            else None
        )
    for path, name, names in fallbacks:
        for k, fallback in enumerate(names):
            if fallback == name:
                doc.report(path + (k,), f"model '{name}': a model cannot fall back to itself")
            elif fallback not in models:
                doc.report(
                    path + (k,),
                    f"model '{name}': fallback '{fallback}' is not a configured model",
                )
    return models


def _deployment(
    doc: _Doc,
    raw: dict[str, Any],
    path: KeyPath,
    where: str,
    label: str,
    providers: Mapping[str, object],
) -> DeploymentConfig | None:
    values = doc.fields(raw, path, where, _DEPLOYMENT)
    timeouts = Timeouts(
        **{field: values.pop(key) for key, field in _TIMEOUTS.items() if key in values}
    )
    provider = values.get("provider")
    if provider is not None and provider not in providers:
        doc.report(
            path + ("provider",), f"{label}: provider '{provider}' is not a configured provider"
        )
    if "provider" not in values or "model" not in values:
        return None
    return DeploymentConfig(**values, timeouts=timeouts)


def _keys(
    doc: _Doc, data: dict[str, Any], env: Mapping[str, str], models: Mapping[str, object]
) -> list[tuple[int, KeyConfig | None]]:
    """(index in [[keys]], key or None when it has problems), in file order."""
    keys: list[tuple[int, KeyConfig | None]] = []
    ids: set[str] = set()
    owners: dict[str, str] = {}  # sha256 -> key id
    for i, raw in doc.entries(data, "keys"):
        path: KeyPath = ("keys", i)
        before = len(doc.problems)
        values = doc.fields(raw, path, _where("keys", i, raw.get("id")), _KEY)
        key_id = values.get("id")
        label = f"key '{key_id}'" if key_id else _where("keys", i, None)
        if key_id in ids:
            doc.report(path + ("id",), f"duplicate key id '{key_id}'")
        elif key_id:
            ids.add(key_id)
        digest = _key_digest(doc, raw, values, path, label, env)
        if digest is not None:
            if digest in owners:
                doc.report(
                    path + ("key_sha256" if "key_sha256" in raw else "key_env",),
                    f"{label}: same secret as key '{owners[digest]}'",
                )
            else:
                owners[digest] = key_id or label
        policy = values.get("policy", DEFAULT_POLICY)
        if not _POLICY_NAME.fullmatch(policy):
            doc.report(
                path + ("policy",),
                f"{label}: policy name '{policy}' may only use letters, digits, '.', '-' and '_'",
            )
        allowed = values.get("models")
        if allowed == ():
            doc.report(
                path + ("models",), f"{label}: models is empty (omit it to allow every model)"
            )
        for k, model in enumerate(allowed or ()):
            if model not in models:
                doc.report(
                    path + ("models", k), f"{label}: model '{model}' is not a configured model"
                )
        ok = key_id is not None and digest is not None and len(doc.problems) == before
        key = KeyConfig(key_id, digest, values.get("team"), policy, allowed) if ok else None  # type: ignore[arg-type]
        keys.append((i, key))
    return keys


def _key_digest(
    doc: _Doc,
    raw: dict[str, Any],
    values: dict[str, Any],
    path: KeyPath,
    label: str,
    env: Mapping[str, str],
) -> str | None:
    if "key_sha256" in raw and "key_env" in raw:
        doc.report(path + ("key_env",), f"{label}: set either key_sha256 or key_env, not both")
        return None
    if "key_sha256" not in raw and "key_env" not in raw:
        doc.report(path, f"{label}: one of key_sha256 or key_env is required")
        return None
    if "key_sha256" in values:
        # The value is never shown: a raw secret pasted here by mistake must not reach a log.
        if not _SHA256.fullmatch(values["key_sha256"]):
            doc.report(
                path + ("key_sha256",),
                f"{label}: key_sha256 must be 64 hex characters (see `gateway keys hash SECRET`)",
            )
            return None
        return str(values["key_sha256"]).lower()
    if "key_env" in values and _check_env(doc, path + ("key_env",), label, values["key_env"], env):
        return hash_key(env[values["key_env"]])
    return None


def _check_env(doc: _Doc, path: KeyPath, label: str, name: str, env: Mapping[str, str]) -> bool:
    if name not in env:
        doc.report(path, f"{label}: environment variable {name} is not set")
        return False
    if not env[name]:
        doc.report(path, f"{label}: environment variable {name} is empty")
        return False
    return True


# -- policies ---------------------------------------------------------------------------------


def _policies(
    doc: _Doc, directory: Path, keys: list[tuple[int, KeyConfig | None]], data: dict[str, Any]
) -> tuple[dict[str, PolicyConfig], dict[str, bytes]]:
    """Every policy named by a key, plus `default`; and the bytes of each file read."""
    wanted: dict[str, list[tuple[int, str]]] = {DEFAULT_POLICY: []}
    for i, key in keys:
        raw = data["keys"][i]
        policy = raw.get("policy", DEFAULT_POLICY)
        if isinstance(policy, str) and _POLICY_NAME.fullmatch(policy):
            wanted.setdefault(policy, []).append((i, raw.get("id") if key is None else key.id))
    policies: dict[str, PolicyConfig] = {}
    files: dict[str, bytes] = {}
    for name, users in wanted.items():
        file = directory / f"{name}.toml"
        try:
            content = file.read_bytes()
        except FileNotFoundError:
            if name == DEFAULT_POLICY:
                policies[name] = PolicyConfig(name)  # no default.toml: no limits, no cache
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
        policy = _policy(name, str(file), content, doc.problems, _model_names(data))
        if policy is not None:
            policies[name] = policy
    return policies, files


def _policy(
    name: str,
    file: str,
    content: bytes,
    problems: list[Problem],
    models: frozenset[str] = frozenset(),
) -> PolicyConfig | None:
    parsed = _parse(file, content, problems)
    if parsed is None:
        return None
    data, doc = parsed
    for key in data:
        if key not in _POLICY_TABLES:
            doc.report((key,), f"unknown key '{key}' at top level")
    limits = LimitsConfig(**doc.table(data, "limits", _LIMITS))
    cache = CacheConfig(**doc.table(data, "cache", _CACHE))
    team_limits = LimitsConfig(**doc.table(data, "team_limits", _LIMITS))
    model_limits: dict[str, LimitsConfig] = {}
    raw_models = data.get("model_limits", {})
    if not isinstance(raw_models, dict):
        doc.report(("model_limits",), "model_limits: expected a table of model names")
        raw_models = {}
    for model_name, table in raw_models.items():
        if not isinstance(table, dict):
            doc.report(("model_limits", model_name), f"model_limits.{model_name}: expected a table")
            continue
        values = doc.fields(
            table, ("model_limits", model_name), f"[model_limits.{model_name}]", _LIMITS
        )
        model_limits[model_name] = LimitsConfig(**values)
    return PolicyConfig(
        name,
        limits,
        cache,
        team_limits=team_limits,
        model_limits=MappingProxyType(model_limits),
        guardrails=_guardrails(doc, data, models),
    )


def _model_names(data: dict[str, Any]) -> frozenset[str]:
    raw = data.get("models", [])
    items = raw if isinstance(raw, list) else []
    return frozenset(
        m["name"] for m in items if isinstance(m, dict) and isinstance(m.get("name"), str)
    )


def _guardrails(
    doc: _Doc, data: dict[str, Any], models: frozenset[str]
) -> tuple[GuardrailConfig, ...]:
    """The valid `[[guardrails]]` of a policy, in file order; reports every problem."""
    guardrails: list[GuardrailConfig] = []
    names: set[str] = set()
    for i, raw in doc.entries(data, "guardrails"):
        path: KeyPath = ("guardrails", i)
        before = len(doc.problems)
        values = doc.fields(raw, path, _where("guardrails", i, raw.get("name")), _GUARDRAIL)
        name, kind = values.get("name"), values.get("type")
        label = f"guardrail '{name}'" if name else _where("guardrails", i, None)
        if name in names:
            doc.report(path + ("name",), f"duplicate guardrail name '{name}'")
        elif name:
            names.add(name)
        if kind is None:
            continue
        for key, kinds in _GUARDRAIL_KEYS_BY_TYPE.items():
            if key in raw and kind not in kinds:
                doc.report(path + (key,), f"{label}: '{key}' does not apply to type '{kind}'")
        action, applies_to = values.get("action", "block"), values.get("applies_to", "input")
        if action == "restore" and (kind != "pii" and kind != "regex" or applies_to == "output"):
            doc.report(
                path + ("action",),
                f"{label}: action 'restore' needs type 'pii' or 'regex' and applies_to 'input' or 'both'",
            )
        if action in ("redact", "mask") and kind in ("toxicity", "moderation", "prompt_injection"):
            doc.report(path + ("action",), f"{label}: type '{kind}' can only 'block' or 'log'")
        engine = values.get("engine", "patterns")
        for k, entity in enumerate(values.get("entities", ()) if kind == "pii" else ()):
            custom = {r.get("entity") for r in values.get("recognizers", ()) if isinstance(r, dict)}
            if entity not in PII_ENTITIES and entity not in custom:
                doc.report(path + ("entities", k), f"{label}: unknown entity '{entity}'")
            elif entity in NER_ENTITIES and engine != "ner":
                doc.report(
                    path + ("entities", k), f"{label}: entity '{entity}' needs engine = 'ner'"
                )
        recognizers = []
        for j, table in enumerate(values.get("recognizers", ())):
            rpath = path + ("recognizers", j)
            spec = doc.fields(table, rpath, f"{label} recognizers[{j}]", _RECOGNIZER)
            if not spec.get("patterns") and not spec.get("deny_list"):
                doc.report(rpath, f"{label} recognizers[{j}]: needs patterns or deny_list")
            _check_patterns(doc, rpath, f"{label} recognizers[{j}]", spec.get("patterns", ()))
            if "entity" in spec:
                recognizers.append(RecognizerConfig(**spec))
        _check_patterns(doc, path, label, values.get("patterns", ()))
        if kind == "regex" and not values.get("patterns") and not values.get("deny_list"):
            doc.report(path, f"{label}: type 'regex' needs patterns or deny_list")
        model = values.get("model")
        if kind == "moderation" and model is None:
            doc.report(path, f"{label}: type 'moderation' needs model = '<a [[models]] name>'")
        elif model is not None and models and model not in models:
            doc.report(path + ("model",), f"{label}: model '{model}' is not a configured model")
        if name is None or len(doc.problems) != before:
            continue
        values["recognizers"] = tuple(recognizers)
        values.setdefault("threshold", DEFAULT_THRESHOLDS[kind])
        guardrails.append(GuardrailConfig(**values))
    return tuple(guardrails)


def _check_patterns(doc: _Doc, path: KeyPath, label: str, patterns: tuple[str, ...]) -> None:
    for k, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            doc.report(
                path + ("patterns", k), f"{label}: patterns[{k}] is not a valid regex: {exc}"
            )


# -- files ------------------------------------------------------------------------------------


def _parse(
    file: str, content: bytes, problems: list[Problem]
) -> tuple[dict[str, Any], _Doc] | None:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        problems.append(Problem(file, line, "file is not valid UTF-8"))
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_POSITION.match(str(exc))
        if match is None:
            problems.append(Problem(file, 1, str(exc)))
        else:
            line = int(match.group(2)) if match.group(2) else max(1, len(text.splitlines()))
            problems.append(Problem(file, line, match.group(1)))
        return None
    return data, _Doc(file, Locator(text), problems)


def _load(path: Path, env: Mapping[str, str]) -> tuple[GatewayConfig | None, list[Problem]]:
    problems: list[Problem] = []
    file = str(path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        return None, [Problem(file, 1, f"cannot read config file: {exc.strerror}")]
    parsed = _parse(file, content, problems)
    if parsed is None:
        return None, problems
    data, doc = parsed
    for key in data:
        if key not in _TOP and key not in _TOP_TABLES and key not in _TOP_ARRAYS:
            doc.report((key,), f"unknown key '{key}' at top level")
    top = doc.fields({k: v for k, v in data.items() if k in _TOP}, (), "the top level", _TOP)
    server = ServerConfig(**doc.table(data, "server", _SERVER))
    state = _state(doc, doc.table(data, "state", _STATE))
    routing = RoutingConfig(**doc.table(data, "routing", _ROUTING))
    logging = doc.table(data, "logging", _LOGGING)
    admin = doc.table(data, "admin", _ADMIN)
    if "key_env" in admin:
        _check_env(doc, ("admin", "key_env"), "admin", admin["key_env"], env)
    providers = _providers(doc, data, env)
    models = _models(doc, data, providers)
    keys = _keys(doc, data, env, models)
    # Relative paths are relative to the config file's directory, not the process's CWD.
    base = path.parent
    policies_dir = base / top.get("policies_dir", DEFAULT_POLICIES_DIR)
    policies, policy_files = _policies(doc, policies_dir, keys, data)
    if problems:
        config_first = sorted(problems, key=lambda p: (p.file != file, p.file, p.line))
        return None, config_first
    logging["path"] = Path(os.path.abspath(base / logging.get("path", LoggingConfig.path)))
    config = GatewayConfig(
        server=server,
        state=state,
        logging=LoggingConfig(**logging),
        admin=AdminConfig(**admin),
        providers=MappingProxyType(dict(providers)),  # type: ignore[arg-type]
        models=MappingProxyType(dict(models)),  # type: ignore[arg-type]
        keys=tuple(key for _, key in keys if key is not None),
        policies=MappingProxyType(policies),
        policies_dir=Path(os.path.abspath(policies_dir)),
        routing=routing,
        # Absolute but not resolved: a symlinked config (Kubernetes ConfigMap) stays watchable.
        source=Path(os.path.abspath(path)),
        version=_version(content, policy_files),
    )
    return config, []


def _state(doc: _Doc, values: dict[str, Any]) -> StateConfig:
    url = values.get("redis_url")
    if values.get("backend") == "redis" and url is None:
        doc.report(("state", "backend"), "state.redis_url is required when backend = 'redis'")
    if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
        doc.report(
            ("state", "redis_url"), "state.redis_url must start with redis://, rediss:// or unix://"
        )
    return StateConfig(**values)


def _version(config: bytes, policy_files: Mapping[str, bytes]) -> str:
    """Short hash of the config bytes and each policy's name and bytes: same files, same version."""
    digest = hashlib.sha256(config)
    for name in sorted(policy_files):
        content = policy_files[name]
        digest.update(f"\0{name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()[:12]
