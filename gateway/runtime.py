"""Everything derived from one config that the hot path needs, built once per (re)load."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gateway.config.credential_names import is_credential_name
from gateway.config.provider_types import ProviderConfig
from gateway.config.secret_env import ENVIRONMENT
from gateway.config.types import GatewayConfig, KeyConfig, ModelConfig
from gateway.guardrails.compiled import GuardrailSet, build_guardrail_sets
from gateway.limits.plan import LimitPlans
from gateway.providers import serves_openai_only
from gateway.scrub import NO_SECRETS, Secrets


class Secret:
    """A provider key read from the environment; never shows its value in a repr or str."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__


@dataclass(frozen=True)
class Runtime:
    config: GatewayConfig
    keys_by_hash: Mapping[str, KeyConfig]
    provider_keys: Mapping[str, Secret]
    # The limit checks of each (key, model), worked out once per config.
    limit_plans: LimitPlans = field(compare=False, repr=False)
    # Compiled guardrails by policy name (policies without any are absent).
    guardrails: Mapping[str, GuardrailSet] = field(default_factory=lambda: MappingProxyType({}))
    # Scrubs this config's provider and admin keys out of upstream text (see gateway.scrub).
    secrets: Secrets = field(default=NO_SECRETS, compare=False, repr=False)
    # By policy name, for policies that guard answers: a digest of their output guardrails.
    # Cached answers are shared only by policies with the same one (see gateway.pipeline.cache).
    answer_guards: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # By model name, the model as embeddings and legacy completions see it: only the
    # deployments that serve them (`openai_only_models`); a model with none is absent.
    openai_only_models: Mapping[str, ModelConfig] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )
    # By provider name, the headers sent with each of its requests over the adapter's own:
    # its `headers` and those of `headers_env` with their variables' values. A provider with
    # neither is absent.
    provider_headers: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    def find_key(self, presented: str) -> KeyConfig | None:
        """The key whose stored sha256 (or previous one) matches the presented secret."""
        found = self.find_secret(presented)
        return found[0] if found is not None else None

    def find_secret(self, presented: str) -> tuple[KeyConfig, bool] | None:
        """The key whose stored sha256 matches the presented secret, compared in constant
        time, and whether it matched the key's previous secret (`previous_key_sha256`: one
        being rotated out)."""
        digest = hashlib.sha256(presented.encode()).hexdigest()
        key = self.keys_by_hash.get(digest)
        if key is None:
            return None
        if hmac.compare_digest(key.key_sha256, digest):
            return key, False
        previous = key.previous_key_sha256
        if previous is not None and hmac.compare_digest(previous, digest):
            return key, True
        return None

    def provider_key(self, provider: str) -> str | None:
        secret = self.provider_keys.get(provider)
        return secret.reveal() if secret is not None else None


def keys_by_hash(keys: Iterable[KeyConfig]) -> dict[str, KeyConfig]:
    """Each key under its secret's sha256, and under its previous one while it has one (the
    loader refuses two keys with one secret)."""
    found = {key.previous_key_sha256: key for key in keys if key.previous_key_sha256}
    found.update((key.key_sha256, key) for key in keys)
    return found


def provider_credentials(provider: ProviderConfig, env: Mapping[str, str]) -> list[str]:
    """The credentials a provider's config holds besides its key: header and query values with
    a credential's name, every `headers_env` value, the password of a proxy URL, the Entra ID
    client secret."""
    values = [
        value
        for table in (provider.headers, provider.query)
        for name, value in table.items()
        if is_credential_name(name)
    ]
    values += [env.get(variable, "") for variable in provider.headers_env.values()]
    proxy = provider.network.proxy
    if proxy:
        password = urllib.parse.urlsplit(proxy).password
        if password:
            values.append(password)
    password_env = provider.network.proxy_password_env
    if password_env and env.get(password_env):
        values.append(env[password_env])
    secret_env = provider.entra.client_secret_env
    if secret_env and env.get(secret_env):
        values.append(env[secret_env])
    return values


def build_runtime(config: GatewayConfig, env: Mapping[str, str] | None = None) -> Runtime:
    env = ENVIRONMENT if env is None else env
    provider_keys = {
        name: Secret(env[p.api_key_env])
        for name, p in config.providers.items()
        if p.api_key_env and env.get(p.api_key_env)
    }
    admin_key = env.get(config.admin.key_env) if config.admin.key_env else None
    secrets = Secrets(
        [s.reveal() for s in provider_keys.values()]
        + [admin_key or ""]
        + [value for p in config.providers.values() for value in provider_credentials(p, env)]
    )
    return Runtime(
        config=config,
        keys_by_hash=MappingProxyType(keys_by_hash(config.keys)),
        provider_keys=MappingProxyType(provider_keys),
        guardrails=build_guardrail_sets(config),
        limit_plans=LimitPlans(config.policies, config.models),
        secrets=secrets,
        answer_guards=MappingProxyType(answer_guards(config)),
        openai_only_models=MappingProxyType(openai_only_models(config)),
        provider_headers=MappingProxyType(provider_headers(config, env)),
    )


def provider_headers(config: GatewayConfig, env: Mapping[str, str]) -> dict[str, Mapping[str, str]]:
    """By provider name, its `headers` and its `headers_env` read from `env` (the loader has
    checked that each is set), for the providers with any."""
    found: dict[str, Mapping[str, str]] = {}
    for name, provider in config.providers.items():
        if provider.headers or provider.headers_env:
            headers = dict(provider.headers)
            headers.update((h, env.get(v, "")) for h, v in provider.headers_env.items())
            found[name] = MappingProxyType(headers)
    return found


def openai_only_models(config: GatewayConfig) -> dict[str, ModelConfig]:
    """Each model with a deployment that serves embeddings and legacy completions, as those
    endpoints route it: without its deployments on providers that do not (Anthropic's). The
    model itself when every deployment serves them (nearly always)."""
    models = {}
    for name, model in config.models.items():
        serving = tuple(
            d for d in model.deployments if serves_openai_only(config.providers[d.provider])
        )
        if serving == model.deployments:
            models[name] = model
        elif serving:
            models[name] = dataclasses.replace(model, deployments=serving)
    return models


def answer_guards(config: GatewayConfig) -> dict[str, str]:
    """By policy name, a digest of the guardrails that see its answers (`applies_to` output or
    both, in order, with every setting), for the policies that have any."""
    digests = {}
    for name, policy in config.policies.items():
        output = [g for g in policy.guardrails if g.applies_to != "input"]
        if output:
            digests[name] = hashlib.sha256(repr(output).encode()).hexdigest()[:32]
    return digests
