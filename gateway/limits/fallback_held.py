"""What a request holds once the router moved it to a fallback model with limits of its own:
the request's own reservation (the key's, team's and user's checks, which the limits stage
reserved before routing) and the one of the fallback model's own checks (`[model_limits."B"]`,
reserved as the router moved to it), each on the backend that holds it. The limiter frees and
settles them together, with the same usage and cost, as it does one `Held`
(`Limiter.free_slots`, `settle`, `settle_before_last_byte`)."""

from __future__ import annotations

from collections.abc import Iterator

from gateway.limits.held import Held
from gateway.limits.prepared_plans import PreparedHeld

Subjects = tuple[tuple[str, str], ...]


class FallbackHeld:
    """The reservations of a request that fell back, settled together."""

    __slots__ = ("parts", "settled_cost", "slots_freed")

    # The requested model's breakers were read with its acquire; routing is over by now.
    breakers = None

    def __init__(self, parts: tuple[Held | PreparedHeld, ...]) -> None:
        # The request's own reservation first (when it has one): the key's and team's spend
        # goes with it, since their budgets (if any) are among its checks.
        self.parts = parts
        self.slots_freed = False  # by `Limiter.free_slots`, before the response's last byte
        # Set by `Limiter.settle_before_last_byte`: the cost it settled (the record reuses it).
        self.settled_cost: float | None = None

    @property
    def holds_slots(self) -> bool:
        return any(part.holds_slots for part in self.parts)

    def spending(self, spend_subjects: Subjects) -> Iterator[tuple[Held | PreparedHeld, Subjects]]:
        """Each part with the spend subjects its settlement adds the cost to: the request's
        spenders (the key and its team) with the first part only, so the cost counts once."""
        for at, part in enumerate(self.parts):
            yield part, spend_subjects if at == 0 else ()
