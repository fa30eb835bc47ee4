"""Check a measured share against the probability that should produce it.

Tests draw many times from a seeded generator (or from fixed keys), so a run is repeatable: a
correct implementation passes every time, and a wrong share fails by many standard deviations.
"""

from __future__ import annotations

import math

# Five standard deviations: a correct share lands outside with probability under 1e-6, so a
# seed was never picked to make a test pass; a share off by a few points over thousands of
# draws is far outside.
SIGMAS = 5.0


def assert_share(hits: int, draws: int, p: float, label: str = "share") -> None:
    """Fail unless `hits` out of `draws` is within SIGMAS binomial standard deviations of
    `p * draws`."""
    spread = SIGMAS * math.sqrt(draws * p * (1 - p))
    expected = p * draws
    assert abs(hits - expected) <= spread, (
        f"{label}: {hits}/{draws} = {hits / draws:.4f}, expected {p:.4f} (± {spread / draws:.4f})"
    )
