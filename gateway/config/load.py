"""TOML config -> validated, immutable `GatewayConfig`.

`load_config` reads the config file and every policy file it names, checks everything (types,
ranges, unknown keys, cross references, environment variables) and raises one `ConfigError`
listing every problem as `file:line: message`. `check_config` returns the same problems as a
list. Relative paths in the config (`policies_dir`, `prompts_dir`, `logging.path`) are relative
to the directory of the config file. Secret values (environment variables, key hashes) never
appear in a message. The prompt files of `prompts_dir` are loaded with the config (a version
that requests used may not change: `gateway.config.prompts`).

What each table accepts comes from `types.py` (see `gateway.config.specs`); the cross-field rules
are in `routes` (providers, models), `keys`, `policies` and `guardrails`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from gateway.config.document import Doc, parse
from gateway.config.errors import ConfigError, Problem
from gateway.config.files import read_config_file
from gateway.config.keys import admin_key_problem, hash_key, keys
from gateway.config.policies import policies
from gateway.config.prompts import load_prompts, prompt_files
from gateway.config.provider_types import ProviderConfig
from gateway.config.routes import models, providers
from gateway.config.secret_env import ENVIRONMENT
from gateway.config.specs import spec_of
from gateway.config.state_types import StateConfig
from gateway.config.types import AdminConfig, GatewayConfig, KeyConfig, LoggingConfig
from gateway.config.urls import host_problem, split, url_has_password
from gateway.config.used_versions import used_versions
from gateway.state.redis.keys import prefix_problem
from gateway.state.redis.options import (
    DEFAULT_URL,
    RedisOptions,
    choose_client,
    host_port,
    unknown_url_options,
    url_db,
    url_problem,
)

__all__ = ["check_config", "hash_key", "load_config"]

GATEWAY = spec_of(GatewayConfig)

_T = TypeVar("_T")


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Load and validate `path`; raise `ConfigError` with every problem found."""
    config, problems = _load(Path(path), ENVIRONMENT if env is None else env)
    if problems or config is None:
        raise ConfigError(problems)
    return config


def check_config(path: str | Path, env: Mapping[str, str] | None = None) -> list[Problem]:
    """Every problem in `path` and the policies it names; [] when the config is clean."""
    return _load(Path(path), ENVIRONMENT if env is None else env)[1]


def _load(path: Path, env: Mapping[str, str]) -> tuple[GatewayConfig | None, list[Problem]]:
    problems: list[Problem] = []
    file = str(path)
    try:
        content = read_config_file(path)
    except OSError as exc:
        return None, [Problem(file, 1, f"cannot read config file: {exc.strerror}")]
    parsed = parse(file, content, problems)
    if parsed is None:
        return None, problems
    data, doc = parsed
    top = doc.fields(data, (), "at top level", GATEWAY)
    _check_state(doc, top["state"] if "state" in top else StateConfig(), env)
    if "server" in top:
        _check_host(doc, top["server"].host)
        _check_cors_origins(doc, top["server"].cors_origins)
    if "tracing" in top and top["tracing"].endpoint is not None:
        _check_tracing_endpoint(doc, top["tracing"].endpoint)
    found_providers = providers(doc, top.get("providers", []), env, path.parent)
    found_models = models(doc, top.get("models", []), found_providers)
    found_keys = keys(doc, top.get("keys", []), env, found_models)
    admin = top.get("admin", AdminConfig())
    _check_admin_key(doc, admin, env, [k for _, k in found_keys], found_providers)
    # Relative paths are relative to the config file's directory, not the process's CWD.
    base = path.parent
    policies_dir = base / top.get("policies_dir", GATEWAY.default("policies_dir"))
    found_policies, policy_files = policies(
        doc, policies_dir, found_keys, top.get("keys", []), frozenset(found_models)
    )
    prompts_dir = base / top.get("prompts_dir", GATEWAY.default("prompts_dir"))
    logging = _absolute_log_path(top.get("logging", LoggingConfig()), base)
    for key, message in _log_path_problems(logging):
        doc.report(("logging", key), message)
    # The request log holds what prompt versions were used (the immutability check): read only
    # when there are prompts to check (most configs have none). Its files hold 600 MB at the
    # defaults: read whole once per process, then what was appended (used_versions.py).
    used = used_versions(logging.path, logging.backups) if prompt_files(prompts_dir) else {}
    found_prompts, prompt_bytes = load_prompts(prompts_dir, problems, used)
    if problems:
        config_first = sorted(problems, key=lambda p: (p.file != file, p.file, p.line))
        return None, config_first
    config = GATEWAY.build(
        top,
        logging=logging,
        providers=MappingProxyType(_valid(found_providers)),
        models=MappingProxyType(_valid(found_models)),
        keys=tuple(key for _, key in found_keys if key is not None),
        policies=MappingProxyType(found_policies),
        policies_dir=Path(os.path.abspath(policies_dir)),
        prompts_dir=Path(os.path.abspath(prompts_dir)),
        prompts=MappingProxyType(found_prompts),
        # Absolute but not resolved: a symlinked config (Kubernetes ConfigMap) stays watchable.
        source=Path(os.path.abspath(path)),
        version=_version(content, {**policy_files, **_prefixed("prompt:", prompt_bytes)}),
    )
    return config, []


def _check_admin_key(
    doc: Doc,
    admin: AdminConfig,
    env: Mapping[str, str],
    found_keys: list[KeyConfig | None],
    found_providers: Mapping[str, ProviderConfig | None],
) -> None:
    """`[admin] key_env` names a set variable holding a key of its own: not a gateway key's
    (`admin_key_problem`), nor a provider's, which is sent upstream with every request to it
    (the provider, and whatever logs its traffic, would hold the admin key)."""
    name = admin.key_env
    if name is None or not doc.require_env(("admin", "key_env"), "admin", name, env):
        return
    problem = admin_key_problem(env[name], found_keys)
    for provider_name, provider in found_providers.items():
        key_env = provider.api_key_env if provider is not None else None
        if problem is None and key_env is not None and env.get(key_env) == env[name]:
            problem = f"is the key of provider '{provider_name}': the admin key must be its own"
    if problem is not None:
        doc.report(("admin", "key_env"), f"admin: environment variable {name} {problem}")


def _check_state(doc: Doc, state: StateConfig, env: Mapping[str, str]) -> None:
    url = state.redis_url
    if state.backend == "redis" and url is None and not state.sentinels:
        doc.report(("state", "backend"), "state.redis_url is required when backend = 'redis'")
    if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
        doc.report(
            ("state", "redis_url"), "state.redis_url must start with redis://, rediss:// or unix://"
        )
    for key, message in _redis_problems(state):
        doc.report(("state", key), message)
    if state.sentinel_password_env is not None:
        doc.require_env(
            ("state", "sentinel_password_env"), "state", state.sentinel_password_env, env
        )
    if state.redis_password_env is not None:
        doc.require_env(("state", "redis_password_env"), "state", state.redis_password_env, env)
        if url is not None and url_has_password(url):
            doc.report(
                ("state", "redis_password_env"),
                "state.redis_password_env: state.redis_url holds a password too; keep it in "
                "the environment variable only (the URL may keep the user: redis://user@host)",
            )


def _redis_problems(state: StateConfig) -> list[tuple[str, str]]:
    """(key, message) for each Redis setting that cannot work as written."""
    problems = []
    prefix = prefix_problem(state.key_prefix)
    if prefix is not None:
        problems.append(("key_prefix", f"state.key_prefix: {prefix}"))
    for text in state.sentinels:
        try:
            host_port(text)
        except ValueError as exc:
            problems.append(("sentinels", f"state.sentinels: {exc}"))
    if state.cluster and state.sentinels:
        problems.append(("cluster", "state.cluster and state.sentinels exclude each other"))
    url = state.redis_url or DEFAULT_URL
    problem = url_problem(url)
    if problem is not None:
        # The rest reads the URL's parts: they would fail on the same problem.
        return [*problems, ("redis_url", f"state.redis_url: {problem}")]
    if state.cluster and url_db(url) != 0:
        # redis-py would refuse it when the gateway starts, with a traceback.
        problems.append(("redis_url", "state.redis_url: a Redis Cluster has database 0 only"))
    unknown = unknown_url_options(url)
    if unknown:
        problems.append(("redis_url", f"state.redis_url: unknown options {', '.join(unknown)}"))
    options = RedisOptions(url=url, client=state.client, cluster=state.cluster, sentinels=())
    if state.sentinels:
        options = dataclasses.replace(options, sentinels=(("sentinel", 26379),))
    try:
        choose_client(options)
    except ValueError as exc:
        problems.append(("client", f"state.client: {exc}"))
    return problems


def _check_host(doc: Doc, host: str) -> None:
    """A host the socket can be asked to bind (an unresolvable name fails at start, in words)."""
    problem = host_problem(host)
    if problem is not None:
        doc.report(("server", "host"), f"server.host: {problem}")


def _check_cors_origins(doc: Doc, origins: tuple[str, ...]) -> None:
    """An origin is `*` or `scheme://host[:port]`, as a browser sends it (no path, no `/`)."""
    for origin in origins:
        scheme, sep, rest = origin.partition("://")
        if origin != "*" and (
            scheme not in ("http", "https") or not sep or not rest or "/" in rest
        ):
            doc.report(
                ("server", "cors_origins"),
                f"server.cors_origins: {origin!r} is not an origin: write '*' or "
                "scheme://host[:port], without a path or a trailing '/'",
            )
        elif origin != "*" and (problem := split(origin)[1]) is not None:
            doc.report(("server", "cors_origins"), f"server.cors_origins: {origin!r} {problem}")


def _check_tracing_endpoint(doc: Doc, endpoint: str) -> None:
    """No credentials in the URL: the OpenTelemetry exporter logs the endpoint as written."""
    parts, problem = split(endpoint)
    if parts is not None and "@" in parts.netloc:
        problem = (
            "must not hold credentials (user:password@): send them as headers with the "
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS environment variable"
        )
    if problem is not None:
        doc.report(("tracing", "endpoint"), f"tracing.endpoint {problem}")


def _absolute_log_path(logging: LoggingConfig, base: Path) -> LoggingConfig:
    return dataclasses.replace(
        logging,
        path=Path(os.path.abspath(base / logging.path)),
        audit_path=Path(os.path.abspath(base / logging.audit_path)),
    )


def _log_path_problems(logging: LoggingConfig) -> list[tuple[str, str]]:
    """(key, message) for a log file the gateway could not append to: one that exists and is
    not a regular file (a directory, a FIFO, a device), or whose directory cannot be made."""
    problems = []
    for key, path in (("path", logging.path), ("audit_path", logging.audit_path)):
        try:
            if path.exists() or path.is_symlink():
                if not path.is_file():
                    message = f"{path} exists and is not a regular file"
                    problems.append((key, f"logging.{key}: {message}"))
                continue
            ancestor = next((parent for parent in path.parents if parent.exists()), None)
        except OSError as exc:  # not ENOENT or ENOTDIR: a directory that may not be searched
            problems.append((key, f"logging.{key}: cannot reach {path}: {exc.strerror}"))
            continue
        if ancestor is not None and not ancestor.is_dir():
            problems.append((key, f"logging.{key}: {ancestor} is not a directory"))
    return problems


def _valid(found: Mapping[str, _T | None]) -> dict[str, _T]:
    # Without problems every entry is valid; the filter only narrows the type.
    return {name: value for name, value in found.items() if value is not None}


def _prefixed(prefix: str, files: Mapping[str, bytes]) -> dict[str, bytes]:
    return {prefix + name: content for name, content in files.items()}


def _version(config: bytes, policy_files: Mapping[str, bytes]) -> str:
    """Short hash of the config bytes and each policy's name and bytes: same files, same version."""
    digest = hashlib.sha256(config)
    for name in sorted(policy_files):
        content = policy_files[name]
        digest.update(f"\0{name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()[:12]
