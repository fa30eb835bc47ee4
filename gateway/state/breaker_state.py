"""What a circuit breaker's state reads as, in both state backends (`gateway.state.breaker`
keeps the rules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class BreakerState:
    state: Literal["closed", "open", "half_open"]
    failures: int  # failures inside the current window
    cooldown_remaining_s: float
