"""What a key's policy checks on a request, worked out without any state: pure functions.

`LimitPlans.get(key, model)` gives the checks (rpm, tpm, concurrency, budgets, for the key, its
team and the key on that model) made once per config, and `LimitPlans.fallbacks(key, model)`
those of the models the request may fall back to that have limits of their own for the key
(reserved only when the router moves to one), filled in with the tokens and cost a request may
use (`gateway.limits.estimate`); `refusal_message` and `rate_headers`
turn a state backend's verdict into what the client reads. The stateful side is
`gateway.limits.limiter`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from gateway.config.types import KeyConfig, LimitsConfig, ModelConfig, PolicyConfig
from gateway.errors import RateLimited
from gateway.limits.estimate import Estimate
from gateway.limits.sorting import Sorting, sort_checks
from gateway.state import BUDGET_KINDS, AcquireResult, CheckResult, LimitCheck
from gateway.state.prepared import WindowFigures

_KIND_WORDS = {
    "rpm": "requests per minute",
    "tpm": "tokens per minute",
    "concurrent": "concurrent requests",
}


_UNLIMITED = LimitsConfig()


def _checks_for(
    scope: str, subject: str, limits: LimitsConfig, estimate: Estimate
) -> list[LimitCheck]:
    checks = []
    if limits.rpm:
        checks.append(LimitCheck(scope, subject, "rpm", limits.rpm, 1))
    if limits.tpm:
        checks.append(LimitCheck(scope, subject, "tpm", limits.tpm, estimate.tokens))
    if limits.max_concurrent:
        checks.append(LimitCheck(scope, subject, "concurrent", limits.max_concurrent, 1))
    if limits.budget_usd_per_day is not None:
        checks.append(
            LimitCheck(scope, subject, "budget_day", limits.budget_usd_per_day, estimate.cost_usd)
        )
    if limits.budget_usd_per_month is not None:
        checks.append(
            LimitCheck(
                scope, subject, "budget_month", limits.budget_usd_per_month, estimate.cost_usd
            )
        )
    return checks


def limit_checks(
    key_id: str, team: str | None, model: ModelConfig, policy: PolicyConfig, estimate: Estimate
) -> list[LimitCheck]:
    """Every check that applies to one request, key scope first."""
    checks = _checks_for("key", key_id, policy.limits, estimate)
    if team:
        checks += _checks_for("team", team, policy.team_limits, estimate)
    model_limits = policy.model_limits.get(model.name)
    if model_limits is not None:
        checks += _checks_for("model", f"{key_id}/{model.name}", model_limits, estimate)
    # The subject is the key's; `LimitPlan.for_request` makes it `<key>/<end user>`.
    checks += _checks_for("user", key_id, policy.user_limits, estimate)
    return checks


def _scopes(policy: PolicyConfig, model: ModelConfig) -> list[LimitsConfig]:
    scopes = [policy.limits, policy.team_limits, policy.user_limits]
    model_limits = policy.model_limits.get(model.name)
    if model_limits is not None:
        scopes.append(model_limits)
    return scopes


def has_limits(policy: PolicyConfig, model: ModelConfig) -> bool:
    return any(s != _UNLIMITED for s in _scopes(policy, model))


def needs_estimate(policy: PolicyConfig, model: ModelConfig) -> bool:
    """Only tpm and budgets need a token estimate; skip tiktoken otherwise."""
    return any(
        s.tpm or s.budget_usd_per_day is not None or s.budget_usd_per_month is not None
        for s in _scopes(policy, model)
    )


@dataclass(frozen=True)
class LimitPlan:
    """The checks one key's policy makes on every request to one model, worked out once per
    config (`limit_plan`): only the tpm and budget amounts change from request to request."""

    checks: tuple[LimitCheck, ...]  # as `limit_checks` orders them; tpm and budget amounts 0
    needs_estimate: bool

    def for_request(self, estimate: Estimate, user: str | None = None) -> list[LimitCheck]:
        """`limit_checks` for this estimate and end user (the user scope's checks apply only
        to a request that names its user)."""
        if self.tpm_only_varies:  # rpm, tpm, concurrency of keys, teams, models: the usual
            return self.for_tokens(estimate.prompt_tokens + estimate.completion_tokens)
        return [
            check
            if check.kind in _FIXED_AMOUNTS and check.scope != "user"
            else LimitCheck(
                check.scope,
                check.subject if check.scope != "user" else f"{check.subject}/{user}",
                check.kind,
                check.limit,
                estimate.tokens
                if check.kind == "tpm"
                else estimate.cost_usd
                if check.kind.startswith("budget")
                else check.amount,
            )
            for check in self.checks
            if check.scope != "user" or user is not None
        ]

    def for_tokens(self, tokens: int) -> list[LimitCheck]:
        """`for_request` of a plan whose tpm amounts alone vary (`tpm_only_varies`): its checks
        with `tokens` on each tpm check (no `Estimate` to make: its cost is read by budgets
        only, and such a plan has none)."""
        checks = list(self.checks)
        for at in self.tpm_at:
            check = checks[at]
            checks[at] = LimitCheck(check.scope, check.subject, "tpm", check.limit, tokens)
        return checks

    @functools.cached_property
    def tpm_at(self) -> tuple[int, ...]:
        """Where the tpm checks are in `checks`."""
        return tuple(at for at, check in enumerate(self.checks) if check.kind == "tpm")

    @functools.cached_property
    def sorting(self) -> Sorting | None:
        """How `for_request`'s checks sort (`gateway.limits.sorting`), when that is the same for
        every request (only tpm amounts vary); None when the end user or budgets change it."""
        return sort_checks(self.checks) if self.tpm_only_varies else None

    @functools.cached_property
    def priced(self) -> bool:
        """Whether a check reads the request's estimated cost (a budget)."""
        return any(check.kind in BUDGET_KINDS for check in self.checks)

    @functools.cached_property
    def tpm_only_varies(self) -> bool:
        """No budget and no end-user check: only the tpm amounts change per request."""
        return all(c.scope != "user" and c.kind not in BUDGET_KINDS for c in self.checks)


_FIXED_AMOUNTS = frozenset({"rpm", "concurrent"})  # 1 per request
_NO_ESTIMATE = Estimate(0, 0, 0.0)
_NOT_MADE = LimitPlan((), False)  # `LimitPlans.get`: no plan made yet for this pair


class LimitPlans:
    """The plans of one config by (key id, model name), each made on first use. Lives on the
    runtime, so a reload starts afresh; keys and models come from the config, so it is as
    bounded as the config is."""

    def __init__(
        self, policies: Mapping[str, PolicyConfig], models: Mapping[str, ModelConfig]
    ) -> None:
        self._policies = policies
        self._models = models
        self._plans: dict[tuple[str, str], LimitPlan | None] = {}
        self._fallbacks: dict[tuple[str, str], Mapping[str, LimitPlan] | None] = {}
        # Whether any policy limits a model that some model falls back to: without, no request
        # of this config has a fallback to reserve, and routing asks nothing (worked out once).
        fallback_models = {name for model in models.values() for name in _fallback_names(model)}
        self.fallback_limits = any(
            limits != _UNLIMITED and name in fallback_models
            for policy in policies.values()
            for name, limits in policy.model_limits.items()
        )

    def get(self, key: KeyConfig, model: ModelConfig) -> LimitPlan | None:
        """The plan of (key, model); None when no limit applies."""
        cache_key = (key.id, model.name)
        known = self._plans.get(cache_key, _NOT_MADE)
        if known is not _NOT_MADE:
            return known
        policy = self._policies.get(key.policy)
        plan = None
        if policy is not None and has_limits(policy, model):
            checks = limit_checks(key.id, key.team, model, policy, _NO_ESTIMATE)
            plan = LimitPlan(tuple(checks), needs_estimate(policy, model))
        self._plans[cache_key] = plan
        return plan

    def fallbacks(self, key: KeyConfig, model: ModelConfig) -> Mapping[str, LimitPlan] | None:
        """By model name, the plans of the models a request to `model` may fall back to (its
        fallback lists, theirs in turn) that have limits of their own for the key
        (`[model_limits."NAME"]`, scope "model"): what moving to one reserves besides the
        request's own checks (the key's, team's and user's, which were reserved already).
        None when none has."""
        cache_key = (key.id, model.name)
        if cache_key in self._fallbacks:
            return self._fallbacks[cache_key]
        policy = self._policies.get(key.policy)
        plans: dict[str, LimitPlan] = {}
        if policy is not None:
            for name in _reachable(self._models, model):
                limits = policy.model_limits.get(name)
                if limits is not None and limits != _UNLIMITED:
                    checks = _checks_for("model", f"{key.id}/{name}", limits, _NO_ESTIMATE)
                    needs = bool(limits.tpm) or _budgeted(limits)
                    plans[name] = LimitPlan(tuple(checks), needs)
        found = MappingProxyType(plans) if plans else None
        self._fallbacks[cache_key] = found
        return found


def _fallback_names(model: ModelConfig) -> tuple[str, ...]:
    return model.fallbacks + model.context_window_fallbacks + model.content_policy_fallbacks


def _reachable(models: Mapping[str, ModelConfig], model: ModelConfig) -> list[str]:
    """The models the router may move to from `model`, each once, `model` itself not."""
    found: list[str] = []
    queue = list(_fallback_names(model))
    while queue:
        name = queue.pop(0)
        if name == model.name or name in found or name not in models:
            continue
        found.append(name)
        queue += _fallback_names(models[name])
    return found


def _budgeted(limits: LimitsConfig) -> bool:
    return limits.budget_usd_per_day is not None or limits.budget_usd_per_month is not None


@functools.lru_cache(maxsize=256)  # the limits of the config: a few values, read per request
def _number(value: float) -> str:
    """A limit as people write it: 100000000, not 1e+08; 0.01 stays 0.01."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@functools.lru_cache(maxsize=256)
def _number_bytes(value: float) -> bytes:
    return _number(value).encode()


def refusal_message(result: CheckResult) -> str:
    check = result.check
    who = f"{check.scope} '{check.subject}'"
    if check.kind.startswith("budget"):
        period = "daily" if check.kind == "budget_day" else "monthly"
        spent = check.limit - result.remaining
        return (
            f"budget exhausted: {who} has used its {period} budget of ${_number(check.limit)} "
            f"(${spent:.4f} spent); try again in {math.ceil(result.reset_s)} s"
        )
    return (
        f"rate limit reached for {who}: {_number(check.limit)} {_KIND_WORDS[check.kind]}; "
        f"try again in {max(1, math.ceil(result.reset_s))} s"
    )


def rate_limited(result: AcquireResult, refused: CheckResult) -> RateLimited:
    """The 429 of a refused acquire (`refused`: its first refused check): the message, the
    rate headers, `Retry-After` (whole seconds, at least 1) and `retry-after-ms`, which the
    OpenAI and Anthropic SDKs read first (a wait of 0.3 s is retried then, not after 1 s)."""
    headers = rate_headers(result.results)
    wait_s = result.retry_after_s
    headers["retry-after"] = str(max(1, math.ceil(wait_s)))
    headers["retry-after-ms"] = str(max(1, math.ceil(round(wait_s * 1000, 3))))
    return RateLimited(
        refusal_message(refused),
        headers=headers,
        budget=refused.check.kind.startswith("budget"),
    )


def rate_headers(results: tuple[CheckResult, ...]) -> dict[str, str]:
    """OpenAI-style x-ratelimit-* headers from the tightest request and token windows."""
    requests: CheckResult | None = None
    tokens: CheckResult | None = None
    for result in results:
        kind = result.check.kind
        if kind == "rpm":
            if requests is None or result.remaining < requests.remaining:
                requests = result
        elif kind == "tpm" and (tokens is None or result.remaining < tokens.remaining):
            tokens = result
    headers: dict[str, str] = {}
    if requests is not None:
        reset = requests.reset_s
        headers["x-ratelimit-limit-requests"] = _number(requests.check.limit)
        headers["x-ratelimit-remaining-requests"] = str(int(requests.remaining))
        headers["x-ratelimit-reset-requests"] = f"{reset if reset > 0.0 else 0.0:.3f}s"
    if tokens is not None:
        reset = tokens.reset_s
        headers["x-ratelimit-limit-tokens"] = _number(tokens.check.limit)
        headers["x-ratelimit-remaining-tokens"] = str(int(tokens.remaining))
        headers["x-ratelimit-reset-tokens"] = f"{reset if reset > 0.0 else 0.0:.3f}s"
    return headers


_REQUEST_HEADERS = (
    b"x-ratelimit-limit-requests",
    b"x-ratelimit-remaining-requests",
    b"x-ratelimit-reset-requests",
)
_TOKEN_HEADERS = (
    b"x-ratelimit-limit-tokens",
    b"x-ratelimit-remaining-tokens",
    b"x-ratelimit-reset-tokens",
)


def _window_lines(
    names: tuple[bytes, bytes, bytes], figures: WindowFigures
) -> list[tuple[bytes, bytes]]:
    """One window's three headers (from its limit, remaining, reset) as `rate_headers`
    writes them."""
    limit, remaining, reset_s = figures
    return [
        (names[0], _number_bytes(limit)),
        (names[1], b"%d" % remaining),
        (names[2], b"%.3fs" % (reset_s if reset_s > 0.0 else 0.0)),
    ]


def window_header_lines(requests: CheckResult, tokens: CheckResult) -> list[tuple[bytes, bytes]]:
    """`rate_headers` of the tightest request window and the tightest token window, as the
    response writes them (the allowed path of a request with limits)."""
    return prepared_header_lines(
        (requests.check.limit, requests.remaining, requests.reset_s),
        (tokens.check.limit, tokens.remaining, tokens.reset_s),
    )


def prepared_header_lines(
    requests: WindowFigures | None, tokens: WindowFigures | None
) -> list[tuple[bytes, bytes]]:
    """`rate_headers` of a prepared acquire (`gateway.state.prepared`): it kept the tightest
    windows' figures."""
    if requests is None or tokens is None:
        lines = _window_lines(_REQUEST_HEADERS, requests) if requests is not None else []
        if tokens is not None:
            lines += _window_lines(_TOKEN_HEADERS, tokens)
        return lines
    # Both windows (the usual plan, on every request): the six lines written out in one list,
    # without two `_window_lines` calls and their concatenation (about 50 opcodes a request).
    limit, remaining, reset_s = requests
    token_limit, tokens_remaining, tokens_reset_s = tokens
    return [
        (b"x-ratelimit-limit-requests", _number_bytes(limit)),
        (b"x-ratelimit-remaining-requests", b"%d" % remaining),
        (b"x-ratelimit-reset-requests", b"%.3fs" % (reset_s if reset_s > 0.0 else 0.0)),
        (b"x-ratelimit-limit-tokens", _number_bytes(token_limit)),
        (b"x-ratelimit-remaining-tokens", b"%d" % tokens_remaining),
        (b"x-ratelimit-reset-tokens", b"%.3fs" % (tokens_reset_s if tokens_reset_s > 0.0 else 0.0)),
    ]


def rate_header_lines(results: tuple[CheckResult, ...]) -> list[tuple[bytes, bytes]]:
    """`rate_headers` as the response writes them."""
    return [(name.encode(), value.encode()) for name, value in rate_headers(results).items()]
