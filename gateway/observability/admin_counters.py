"""The admin API's own counters: calls to `/admin/*` refused before any handler ran.

A refused call has no audit line (the trail names who acted, and a flood of guesses must not
fill the disk), so these and a WARNING line a second per reason (gateway.admin) are where a
probe of the admin key shows.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

# The error codes of the refusals (gateway.http.admin): 404 while the API is off, 401 without
# a key, 401 with a wrong one or with several Authorization headers.
REASONS = ("admin_disabled", "missing_api_key", "invalid_api_key")


class AdminCounters:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.refusals = Counter(
            "gateway_admin_refusals",
            "Calls to /admin/* refused before their handler, by reason = admin_disabled | "
            "missing_api_key | invalid_api_key",
            ["reason"],
            registry=registry,
        )
        for reason in REASONS:  # at 0 from the start: increase() sees the first refusal
            self.refusals.labels(reason)
