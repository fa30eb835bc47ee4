"""The gauges read from the state backend when /metrics is scraped, never on a request's path:
budgets (budgets.py) and what the memory backend holds (state_size.py).

With `--workers N` each worker writes its own values to the multiprocess files: the budgets,
read from the backend by the worker a scrape reaches, show that latest reading
(`livemostrecent`): another worker's older one may be from before a budget changed or a
period began; the memory backend's sizes are per process and add up over the live workers
(`livesum`).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge


class StateGauges:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        by_budget = ["scope", "subject", "period"]
        self.budget_spend = Gauge(
            "gateway_budget_spend_usd",
            "Spend counted against a budget, by scope = key | team and period = day | month",
            by_budget, multiprocess_mode="livemostrecent", registry=r,
        )  # fmt: skip
        self.budget_remaining = Gauge(
            "gateway_budget_remaining_usd",
            "What is left of a budget, by scope = key | team and period = day | month",
            by_budget, multiprocess_mode="livemostrecent", registry=r,
        )  # fmt: skip
        self.cache_entries = Gauge(
            "gateway_cache_entries", "Entries in the response cache", ["backend"],
            multiprocess_mode="livesum", registry=r,
        )  # fmt: skip
        self.cache_bytes = Gauge(
            "gateway_cache_bytes", "Bytes of keys and answers in the response cache", ["backend"],
            multiprocess_mode="livesum", registry=r,
        )  # fmt: skip
        self.state_entries = Gauge(
            "gateway_state_entries",
            "Entries the memory state backend holds, by kind = responses | windows | slots | "
            "spend | reservations",
            ["backend", "kind"], multiprocess_mode="livesum", registry=r,
        )  # fmt: skip
        self.state_bytes = Gauge(
            "gateway_state_bytes",
            "Bytes the memory state backend holds, by kind = responses",
            ["backend", "kind"], multiprocess_mode="livesum", registry=r,
        )  # fmt: skip
