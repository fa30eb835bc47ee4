"""Validated, immutable configuration types: the one schema of the config and policy files.

The loader (`gateway.config.load`) turns TOML into these; nothing else builds them from raw
dicts. Every object is frozen so a whole config can be swapped atomically on reload.

The loader derives each TOML table from these dataclasses (`gateway.config.specs`): a table
accepts exactly the fields of its type (init fields, not marked `toml(skip=True)`), with their
kinds from the annotations, allowed values from `Literal[...]`, bounds from the `Annotated`
aliases below and defaults from the field defaults. A scalar without a default is a required key;
an absent table or array is its default (empty). Cross-field rules live in the loader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from gateway.config.prompt_types import Prompt
from gateway.config.provider_types import ProviderConfig
from gateway.config.schema import (
    NON_EMPTY,
    Fraction,
    NonEmptyStr,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    Range,
    toml,
)
from gateway.config.state_types import StateConfig, TtlSeconds

# Who writes a response on the wire (gateway/http/response_writer.py).
ResponseWriterName = Literal["auto", "uvicorn"]
Strategy = Literal[
    "weighted", "round_robin", "least_busy", "lowest_latency", "lowest_cost", "usage_based"
]
CacheMode = Literal["off", "exact", "semantic"]
Sticky = Literal["none", "key", "user"]
# Which sampling settings an Anthropic deployment is sent (gateway.providers.anthropic.sampling).
Sampling = Literal["auto", "all", "one", "none"]
# Which API of an OpenAI-format upstream serves a deployment's chat clients.
DeploymentApi = Literal["auto", "chat", "responses"]

# Worker processes of `gateway serve` (`[server] workers`, `--workers`): each a whole interpreter.
MAX_WORKERS = 256


@dataclass(frozen=True)
class ServerConfig:
    host: NonEmptyStr = "127.0.0.1"
    port: Annotated[int, Range(low=1, high=65535)] = 8080
    workers: Annotated[int, Range(low=1, high=MAX_WORKERS)] = 1
    max_body_bytes: PositiveInt = 4 * 1024 * 1024
    # Whole-request deadline (seconds), covering every attempt and the full stream.
    request_timeout_s: PositiveFloat = 600.0
    # Browser origins allowed to call the /v1/ routes (CORS); "*" allows any. Empty: no CORS.
    cors_origins: tuple[str, ...] = ()
    # HTTP limits of the server itself (gateway/http/protocol.py), fixed when it starts.
    # Request line plus headers, and how many headers: past either -> 431.
    max_header_bytes: PositiveInt = 64 * 1024
    max_headers: PositiveInt = 100
    # First byte of a request to the end of its headers, and longest silence inside a body.
    header_timeout_s: PositiveFloat = 10.0
    body_timeout_s: PositiveFloat = 30.0
    # Connections served at once per process; one more gets 503 to its first request.
    max_connections: PositiveInt = 1000
    # Bytes of request bodies one process holds at once (gateway/http/body_budget.py).
    max_inflight_body_bytes: PositiveInt = 256 * 1024 * 1024
    # "auto": the gateway's writer where it mirrors the installed uvicorn's, else uvicorn's.
    response_writer: ResponseWriterName = "auto"
    # A configured secret a stream writes a few characters per event leaves as `****`
    # (gateway/http/split_secrets.py); off saves its cost on every stream.
    split_secret_watch: bool = True


@dataclass(frozen=True)
class LoggingConfig:
    # Relative in the TOML to the config file's directory; absolute once loaded.
    path: Annotated[Path, NON_EMPTY] = Path("logs/requests.jsonl")
    include_bodies: bool = False
    redact_pii_in_logs: bool = False
    max_bytes: PositiveInt = 100 * 1024 * 1024
    backups: Annotated[int, Range(low=0, high=1000)] = 5  # each read at every load with prompts
    # Admin calls, reloads and prompt promotions (gateway/observability/audit.py); relative like
    # `path`.
    audit_path: Annotated[Path, NON_EMPTY] = Path("logs/audit.jsonl")
    # The audit trail rotates past this size keeping this many old files, which /admin/audit
    # reads too.
    audit_max_bytes: PositiveInt = 100 * 1024 * 1024
    audit_backups: Annotated[int, Range(low=0, high=1000)] = 5
    # Longest a finished request's record waits to be written, batched with others (what a
    # SIGKILL can lose); 0 writes each record as its response ends.
    record_batch_ms: Annotated[float, Range(low=0, high=1000)] = 50.0


TraceProtocol = Literal["http", "grpc"]


@dataclass(frozen=True)
class TracingConfig:
    """OpenTelemetry export (docs/operations.md, "Tracing"); off while `endpoint` is unset."""

    # OTLP endpoint: `http://collector:4318/v1/traces` (http) or `http://collector:4317` (grpc).
    endpoint: NonEmptyStr | None = None
    protocol: TraceProtocol = "http"
    service_name: NonEmptyStr = "llm-gateway"
    # Prompt and answer text as span attributes (gen_ai.input/output.messages).
    capture_content: bool = False
    # Share of requests traced (decided per request, before any work).
    sample_ratio: Fraction = 1.0
    # Spans waiting for export; beyond it new spans are dropped (and counted).
    queue_size: PositiveInt = 4096
    export_timeout_s: PositiveFloat = 2.0


@dataclass(frozen=True)
class MetricsConfig:
    # Request tags (x-gateway-tags, metadata) that become labels of the gateway_tag_* series.
    tag_labels: tuple[str, ...] = ()
    # Distinct values per tag label (per process) before the rest are counted as `other`.
    tag_values_max: PositiveInt = 20


@dataclass(frozen=True)
class AdminConfig:
    key_env: NonEmptyStr | None = None


@dataclass(frozen=True)
class TierCosts:
    """What a processing tier that served an answer costs, as a multiple of the deployment's
    token prices (its `[models.deployments.tier_costs]` table): OpenAI's Fast mode (`service_tier`
    `priority`, which `fast` asks for), Flex and Ultrafast, and Claude's fast mode (`speed:
    "fast"`). The defaults are the providers' published ratios for their current models."""

    priority: NonNegativeFloat = 2.0
    flex: NonNegativeFloat = 0.5
    ultrafast: NonNegativeFloat = 6.0
    fast: NonNegativeFloat = 2.0  # Claude's fast mode (Opus 4.8 and 5; Opus 4.6's was 6x)

    def multiplier(self, tier: str | None) -> float:
        """The multiple for the tier an answer names (1 for none, or a tier not listed)."""
        match tier:
            case "priority":
                return self.priority
            case "flex":
                return self.flex
            case "ultrafast":
                return self.ultrafast
            case "fast":
                return self.fast
        return 1.0


@dataclass(frozen=True)
class Timeouts:
    """A deployment's timeouts, written in its `[[models.deployments]]` table as `*_timeout_s`."""

    connect_s: PositiveFloat = field(default=5.0, metadata=toml(key="connect_timeout_s"))
    first_token_s: PositiveFloat = field(default=60.0, metadata=toml(key="first_token_timeout_s"))
    # Longest silence allowed between two stream chunks (or while reading a JSON body).
    idle_s: PositiveFloat = field(default=60.0, metadata=toml(key="idle_timeout_s"))
    total_s: PositiveFloat = field(default=600.0, metadata=toml(key="total_timeout_s"))


@dataclass(frozen=True)
class DeploymentConfig:
    provider: NonEmptyStr
    model: NonEmptyStr
    # 0 takes no traffic (a canary rolled back); at least one deployment of a model is above 0.
    weight: NonNegativeFloat = 1.0
    input_cost_per_1m: NonNegativeFloat = 0.0
    output_cost_per_1m: NonNegativeFloat = 0.0
    cached_input_cost_per_1m: NonNegativeFloat | None = None
    # Anthropic prompt-cache writes; None = 1.25 x input_cost_per_1m (Anthropic's 5-minute rate).
    cache_write_cost_per_1m: NonNegativeFloat | None = None
    # Anthropic's writes to the 1-hour cache; None = 2 x input_cost_per_1m (Anthropic's rate).
    cache_write_1h_cost_per_1m: NonNegativeFloat | None = None
    # OpenAI's audio tokens (gpt-4o-audio, gpt-realtime); None = the text price.
    audio_input_cost_per_1m: NonNegativeFloat | None = None
    audio_output_cost_per_1m: NonNegativeFloat | None = None
    # USD per 1,000 web searches the provider ran for an answer (`Usage.web_searches`).
    web_search_cost_per_1k: NonNegativeFloat = 0.0
    context_window: PositiveInt | None = None
    # The deployment serves a reasoning model (o1, o3, o4-mini, gpt-5, ...), which refuses
    # `max_tokens`: OpenAI-format requests send it as `max_completion_tokens`. Azure deployment
    # names are free-form, so the gateway cannot tell from `model`.
    reasoning: bool = False
    # Anthropic deployments: the sampling settings the model takes (auto: read from `model`).
    sampling: Sampling = "auto"
    api: DeploymentApi = "auto"  # "responses": chat clients served by the Responses API
    rpm: PositiveInt | None = None
    tpm: PositiveInt | None = None
    timeouts: Timeouts = field(default_factory=Timeouts, metadata=toml(flatten=True))
    # The price of the processing tiers that serve at a premium or a discount (`TierCosts`).
    tier_costs: TierCosts = field(default_factory=TierCosts)
    # Stable label for metrics, headers and records: `provider/model` (computed once; it is
    # read many times per request).
    name: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", f"{self.provider}/{self.model}")


@dataclass(frozen=True)
class ModelConfig:
    name: NonEmptyStr
    # Absent or empty in the TOML is reported as "has no deployment", not as a missing key.
    deployments: tuple[DeploymentConfig, ...]
    strategy: Strategy = "weighted"
    fallbacks: tuple[str, ...] = ()
    # Used instead of `fallbacks` when the prompt fits no deployment / the upstream refused on
    # content policy.
    context_window_fallbacks: tuple[str, ...] = ()
    content_policy_fallbacks: tuple[str, ...] = ()
    # Sticky assignment for canaries and A/B splits: by key id or the request's `user` field.
    sticky: Sticky = "none"
    # Tries on this model group before its fallbacks; None = [routing] max_attempts.
    max_attempts: PositiveInt | None = None
    # The deployments' names, in order (computed once: the limits acquire sends them per request).
    deployment_names: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "deployment_names", tuple(d.name for d in self.deployments))


@dataclass(frozen=True)
class RoutingConfig:
    max_attempts: PositiveInt = 3
    backoff_base_s: PositiveFloat = 0.05
    backoff_max_s: PositiveFloat = 2.0
    # Circuit breaker: this many failures within the window open it for the cooldown.
    breaker_failures: PositiveInt = 5
    breaker_window_s: PositiveFloat = 30.0
    breaker_cooldown_s: PositiveFloat = 30.0
    # The shortest hold of a half-open probe's slot; held longer while the probe may still
    # run (`gateway.routing.picking.probe_hold_s`).
    probe_timeout_s: PositiveFloat = 30.0
    # How long a rate-limited deployment (429, 529) is benched when the upstream names no wait.
    rate_limit_cooldown_s: PositiveFloat = 5.0
    # How long a deployment whose upstream answered 404 for its model (not pulled, misspelt)
    # is left out: long enough to spare the requests an extra round trip each, short enough
    # that pulling the model or fixing the config brings it back without a restart.
    missing_model_cooldown_s: PositiveFloat = 60.0


@dataclass(frozen=True)
class KeyConfig:
    id: NonEmptyStr
    # Hex sha256 of the secret. The TOML sets either this or `key_env` (then the loader fills
    # it with the hash of that variable's value).
    key_sha256: str = field(metadata=toml(optional=True))
    team: NonEmptyStr | None = None
    policy: NonEmptyStr = "default"
    # None means every model.
    models: tuple[str, ...] | None = None
    # The environment variable the secret was read from at load, when not `key_sha256`.
    key_env: NonEmptyStr | None = None
    # The hex sha256 of the secret being rotated out: still accepted as this key (same id,
    # limits, budgets and records) until the entry drops it (docs/operations.md).
    previous_key_sha256: str | None = None
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
    rpm: PositiveInt | None = None
    tpm: PositiveInt | None = None
    max_concurrent: PositiveInt | None = None
    budget_usd_per_day: NonNegativeFloat | None = None
    budget_usd_per_month: NonNegativeFloat | None = None


@dataclass(frozen=True)
class CacheConfig:
    mode: CacheMode = "off"
    ttl_s: TtlSeconds = 3600
    per_team: bool = True
    # semantic: the [[models]] name whose deployments embed the request's text (required).
    embedding_model: NonEmptyStr | None = None
    # semantic: the least cosine similarity that is a hit.
    similarity: Annotated[float, Range(low=0.5, high=1.0)] = 0.95


GuardrailType = Literal["pii", "regex", "toxicity", "moderation", "prompt_injection"]
GuardrailStage = Literal["input", "output", "both"]
GuardrailAction = Literal["block", "redact", "mask", "restore", "log"]
GuardrailOnError = Literal["block", "allow"]
PiiEngine = Literal["patterns", "ner"]


@dataclass(frozen=True)
class RecognizerConfig:
    """A custom PII recognizer: regexes and/or a deny list, boosted by nearby context words."""

    entity: NonEmptyStr
    patterns: tuple[str, ...] = ()
    deny_list: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    score: Fraction = 0.6


@dataclass(frozen=True)
class GuardrailConfig:
    """One `[[guardrails]]` entry of a policy; see docs/guardrails.md for each type's keys."""

    name: NonEmptyStr
    type: GuardrailType
    applies_to: GuardrailStage = "input"
    action: GuardrailAction = "block"
    on_error: GuardrailOnError = "block"
    # Minimum score of a finding; the loader fills the type's default when the TOML has none.
    threshold: Fraction | None = None
    # pii: entity types to look for (empty = the default set); regex: the label of a match.
    entities: tuple[str, ...] = ()
    engine: PiiEngine = "patterns"
    recognizers: tuple[RecognizerConfig, ...] = ()
    # regex: patterns and whole-word phrases; toxicity: extra words that always count.
    patterns: tuple[str, ...] = ()
    deny_list: tuple[str, ...] = ()
    # moderation: the public model (a [[models]] name) asked through the gateway's routing.
    model: NonEmptyStr | None = None


@dataclass(frozen=True)
class PolicyConfig:
    """One policy file, `<policies_dir>/<name>.toml`."""

    # The file's name without `.toml`.
    name: str = field(metadata=toml(skip=True))
    # Per key (every key using this policy has its own counters).
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    # Shared by every key of the requesting key's team.
    team_limits: LimitsConfig = field(default_factory=LimitsConfig)
    # Per key and model: `[model_limits."gpt-4o"]`.
    model_limits: Mapping[str, LimitsConfig] = field(default_factory=dict)
    # Per end user of a key (the request's `user` / `metadata.user_id`): each user of each key
    # has its own counters; requests that name no user are not counted here.
    user_limits: LimitsConfig = field(default_factory=LimitsConfig)
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
    # Read from the policy files that keys name (and `default`), not from the config file.
    policies: Mapping[str, PolicyConfig] = field(metadata=toml(skip=True))
    # Relative in the TOML to the config file's directory; absolute once loaded.
    policies_dir: Annotated[Path, NON_EMPTY] = Path("policies")
    # The prompt registry: one `<id>.toml` per prompt (docs/prompts.md); absolute once loaded.
    prompts_dir: Annotated[Path, NON_EMPTY] = Path("prompts")
    prompts: Mapping[str, Prompt] = field(default_factory=dict, metadata=toml(skip=True))
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    tracing: TracingConfig = field(default_factory=TracingConfig)
    # The config file this was loaded from, and a short hash of it and every policy file.
    source: Path | None = field(default=None, metadata=toml(skip=True))
    version: str = field(default="", metadata=toml(skip=True))
