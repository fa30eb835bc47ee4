"""Validated, immutable configuration types.

The loader (`gateway.config.load`) turns TOML into these; nothing else builds them from raw
dicts. Every object is frozen so a whole config can be swapped atomically on reload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ProviderType = Literal["openai", "anthropic", "mock"]
Strategy = Literal[
    "weighted", "round_robin", "least_busy", "lowest_latency", "lowest_cost", "usage_based"
]
StateBackend = Literal["memory", "redis"]
RedisErrorMode = Literal["fail_open", "fail_closed"]
CacheMode = Literal["off", "exact"]
Sticky = Literal["none", "key", "user"]


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    max_body_bytes: int = 4 * 1024 * 1024
    # Whole-request deadline (seconds), covering every attempt and the full stream.
    request_timeout_s: float = 600.0


@dataclass(frozen=True)
class StateConfig:
    backend: StateBackend = "memory"
    redis_url: str | None = None
    on_redis_error: RedisErrorMode = "fail_open"


@dataclass(frozen=True)
class LoggingConfig:
    path: Path = Path("logs/requests.jsonl")
    include_bodies: bool = False
    redact_pii_in_logs: bool = False
    max_bytes: int = 100 * 1024 * 1024
    backups: int = 5


@dataclass(frozen=True)
class AdminConfig:
    key_env: str | None = None


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    type: ProviderType
    base_url: str = ""
    api_key_env: str | None = None
    # Anthropic-only: value of the anthropic-version header sent upstream.
    anthropic_version: str = "2023-06-01"


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 5.0
    first_token_s: float = 60.0
    # Longest silence allowed between two stream chunks (or while reading a JSON body).
    idle_s: float = 60.0
    total_s: float = 600.0


@dataclass(frozen=True)
class DeploymentConfig:
    provider: str
    model: str
    weight: float = 1.0
    input_cost_per_1m: float = 0.0
    output_cost_per_1m: float = 0.0
    cached_input_cost_per_1m: float | None = None
    context_window: int | None = None
    rpm: int | None = None
    tpm: int | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    # Stable label for metrics, headers and records: `provider/model` (computed once; it is
    # read many times per request).
    name: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", f"{self.provider}/{self.model}")


@dataclass(frozen=True)
class ModelConfig:
    name: str
    deployments: tuple[DeploymentConfig, ...]
    strategy: Strategy = "weighted"
    fallbacks: tuple[str, ...] = ()
    # Used instead of `fallbacks` when the prompt fits no deployment / the upstream refused on content policy.
    context_window_fallbacks: tuple[str, ...] = ()
    content_policy_fallbacks: tuple[str, ...] = ()
    # Sticky assignment for canaries and A/B splits: by key id or the request's `user` field.
    sticky: Sticky = "none"
    # Tries on this model group before its fallbacks; None = [routing] max_attempts.
    max_attempts: int | None = None
    # The deployments' names, in order (computed once: the limits acquire sends them per request).
    deployment_names: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "deployment_names", tuple(d.name for d in self.deployments))


@dataclass(frozen=True)
class RoutingConfig:
    max_attempts: int = 3
    backoff_base_s: float = 0.05
    backoff_max_s: float = 2.0
    # Circuit breaker: this many failures within the window open it for the cooldown.
    breaker_failures: int = 5
    breaker_window_s: float = 30.0
    breaker_cooldown_s: float = 30.0
    # A half-open probe that never reports back frees the slot after this long.
    probe_timeout_s: float = 30.0


@dataclass(frozen=True)
class KeyConfig:
    id: str
    # Hex sha256 of the secret; filled from `key_env` at load when that is used instead.
    key_sha256: str
    team: str | None = None
    policy: str = "default"
    # None means every model.
    models: tuple[str, ...] | None = None
    # Whose spend a request with this key adds to: ("key", id) and ("team", team) when it has one
    # (computed once: every request settles it).
    spenders: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spenders = (("key", self.id),) + ((("team", self.team),) if self.team else ())
        object.__setattr__(self, "spenders", spenders)

    def allows(self, model: str) -> bool:
        return self.models is None or model in self.models


@dataclass(frozen=True)
class LimitsConfig:
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None
    budget_usd_per_day: float | None = None
    budget_usd_per_month: float | None = None


@dataclass(frozen=True)
class CacheConfig:
    mode: CacheMode = "off"
    ttl_s: int = 3600
    per_team: bool = True


GuardrailType = Literal["pii", "regex", "toxicity", "moderation", "prompt_injection"]
GuardrailStage = Literal["input", "output", "both"]
GuardrailAction = Literal["block", "redact", "mask", "restore", "log"]
GuardrailOnError = Literal["block", "allow"]
PiiEngine = Literal["patterns", "ner"]


@dataclass(frozen=True)
class RecognizerConfig:
    """A custom PII recognizer: regexes and/or a deny list, boosted by nearby context words."""

    entity: str
    patterns: tuple[str, ...] = ()
    deny_list: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    score: float = 0.6


@dataclass(frozen=True)
class GuardrailConfig:
    """One `[[guardrails]]` entry of a policy; see docs/guardrails.md for each type's keys."""

    name: str
    type: GuardrailType
    applies_to: GuardrailStage = "input"
    action: GuardrailAction = "block"
    on_error: GuardrailOnError = "block"
    # Minimum score of a finding; None = the type's default.
    threshold: float | None = None
    # pii: entity types to look for (empty = the default set); regex: the label of a match.
    entities: tuple[str, ...] = ()
    engine: PiiEngine = "patterns"
    recognizers: tuple[RecognizerConfig, ...] = ()
    # regex: patterns and whole-word phrases; toxicity: extra words that always count.
    patterns: tuple[str, ...] = ()
    deny_list: tuple[str, ...] = ()
    # moderation: the public model (a [[models]] name) asked through the gateway's routing.
    model: str | None = None


@dataclass(frozen=True)
class PolicyConfig:
    name: str
    # Per key (every key using this policy has its own counters).
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    # Shared by every key of the requesting key's team.
    team_limits: LimitsConfig = field(default_factory=LimitsConfig)
    # Per key and model: `[model_limits."gpt-4o"]`.
    model_limits: Mapping[str, LimitsConfig] = field(default_factory=dict)
    # Applied in order to what goes to the provider and to what comes back.
    guardrails: tuple[GuardrailConfig, ...] = ()


@dataclass(frozen=True)
class GatewayConfig:
    server: ServerConfig
    state: StateConfig
    logging: LoggingConfig
    admin: AdminConfig
    providers: Mapping[str, ProviderConfig]
    models: Mapping[str, ModelConfig]
    keys: tuple[KeyConfig, ...]
    policies: Mapping[str, PolicyConfig]
    policies_dir: Path
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    # The config file this was loaded from, and a short hash of it and every policy file.
    source: Path | None = None
    version: str = ""
