"""What features.py compares: the gateway variants (one config each), the two request bodies
every variant gets, and which variant stands beside which baseline in each section's table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from guardrails import PROMPT as GUARDRAIL_PROMPT
from harness import MODEL
from load_common import BODIES, PROMPT

# The cache key leaves out `stream`, so a stream with the chat prompt would be answered from the
# chat's JSON entry (a synthesised 3-event stream). A prompt of its own makes the stream a hit on
# a stream entry: the 20 chunks first sent, replayed. Every variant gets the same two bodies.
STREAM_PROMPT = [{"role": "user", "content": "Tell me something about streaming load tests."}]
FEATURE_BODIES = {
    "chat": BODIES["chat"],
    "stream": json.dumps({"model": MODEL, "messages": STREAM_PROMPT, "stream": True}).encode(),
}
assert PROMPT != STREAM_PROMPT
# The PII variants send a ~200-token prompt with an email, a phone number, an IP address and
# dates (loadtests/guardrails.py), so the guardrail really scans (a text without a digit or an
# '@' is skipped); `pii-off` sends the same prompt through the default pipeline.
PII_MESSAGES = [{"role": "user", "content": GUARDRAIL_PROMPT}]
PII_BODIES = {
    "chat": json.dumps({"model": MODEL, "messages": PII_MESSAGES}).encode(),
    "stream": json.dumps({"model": MODEL, "messages": PII_MESSAGES, "stream": True}).encode(),
}
PII_VARIANTS = ("pii", "pii-off")


def body_for(variant: str, mode: str) -> bytes:
    """The request body a variant (or the direct call) gets in one mode."""
    return (PII_BODIES if variant in PII_VARIANTS else FEATURE_BODIES)[mode]


CACHE_POLICY = '[cache]\nmode = "exact"\nttl_s = 86400\n'
# High enough never to refuse: rpm 1e8 is 1.7 M requests/s, far beyond one worker.
LIMITS_POLICY = "[limits]\nrpm = 100000000\ntpm = 100000000000\nmax_concurrent = 100000\n"
PII_POLICY = '[[guardrails]]\nname = "pii"\ntype = "pii"\napplies_to = "input"\naction = "redact"\n'


@dataclass(frozen=True)
class Variant:
    name: str
    policy: str = ""
    redis: bool = False
    deployments: int = 1
    strategy: str | None = None
    redis_client: str = "auto"  # [state] client: "auto" picks the RESP client on loopback


@dataclass(frozen=True)
class Comparison:
    section: str
    title: str
    variant: str
    baseline: str


def variants_for(sections: Sequence[str], strategies: Sequence[str]) -> list[Variant]:
    out = [Variant("gateway")]
    if "cache" in sections:
        out.append(Variant("cache", policy=CACHE_POLICY))
    if "redis" in sections:
        out += [
            Variant("limits", policy=LIMITS_POLICY),
            Variant("limits+redis", policy=LIMITS_POLICY, redis=True),
            Variant("limits+redis-py", policy=LIMITS_POLICY, redis=True, redis_client="redis-py"),
            Variant("redis", redis=True),
        ]
    if "routing" in sections:
        out += [Variant(f"2x {s}", deployments=2, strategy=s) for s in strategies]
    if "pii" in sections:
        out += [Variant("pii-off"), Variant("pii", policy=PII_POLICY)]
    return out


def comparisons_for(sections: Sequence[str], strategies: Sequence[str]) -> list[Comparison]:
    out = []
    if "cache" in sections:
        out.append(
            Comparison(
                "cache",
                "cache hits ([cache] mode = exact, the same request repeated) vs. no cache",
                "cache",
                "gateway",
            )
        )
    if "redis" in sections:
        out += [
            Comparison(
                "redis",
                "limits on Redis vs. the same limits in memory (the Redis cost per request)",
                "limits+redis",
                "limits",
            ),
            Comparison(
                "redis",
                "limits on Redis vs. the default pipeline (the whole stage)",
                "limits+redis",
                "gateway",
            ),
            Comparison(
                "redis",
                "limits on Redis through redis-py vs. through the RESP client (auto's pick)",
                "limits+redis-py",
                "limits+redis",
            ),
            Comparison("redis", "limits in memory vs. the default pipeline", "limits", "gateway"),
            Comparison(
                "redis",
                "Redis state without limits vs. memory state (breaker reads, spend settlements)",
                "redis",
                "gateway",
            ),
        ]
    if "routing" in sections:
        out += [
            Comparison(
                "routing",
                f"2 deployments, strategy {s} vs. 1 deployment (strategy weighted)",
                f"2x {s}",
                "gateway",
            )
            for s in strategies
        ]
    if "pii" in sections:
        out.append(
            Comparison(
                "pii",
                "PII guardrail (patterns engine, redact input) vs. none, same 200-token prompt",
                "pii",
                "pii-off",
            )
        )
    return out
