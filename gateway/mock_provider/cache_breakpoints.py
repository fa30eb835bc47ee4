"""What the mock's Claude refuses of prompt-cache breakpoints, as Anthropic's API does: more than
4 (`cache_control` on tools, system and message blocks, and the top-level automatic one, which
Claude puts on the last cacheable block), a `ttl` other than `5m` / `1h`, and a 1-hour
breakpoint after a 5-minute one (longer-lived breakpoints come first)."""

from __future__ import annotations

from typing import Any

from gateway.providers.anthropic.prompt_cache import breakpoints

MAX_BREAKPOINTS = 4


def breakpoints_refusal(body: dict[str, Any]) -> str | None:
    """The message of the 400 for the request's breakpoints, or None."""
    controls = breakpoints(body)
    automatic = body.get("cache_control")
    if automatic is not None:
        if not isinstance(automatic, dict) or automatic.get("type") != "ephemeral":
            return "cache_control: Input tag does not match the expected tag 'ephemeral'"
        controls.append(automatic)  # the last cacheable block's
    if len(controls) > MAX_BREAKPOINTS:
        return (
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {len(controls)}."
        )
    ttls = [control.get("ttl") or "5m" for control in controls]
    if any(ttl not in ("5m", "1h") for ttl in ttls):
        return "cache_control.ttl: Input should be '5m' or '1h'"
    if "5m" in ttls and "1h" in ttls[ttls.index("5m") :]:
        return (
            "a cache_control block with ttl='1h' must not come after one with ttl='5m': "
            "longer-lived cache breakpoints come first"
        )
    return None
