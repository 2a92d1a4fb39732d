"""Proportions and their 95% intervals. Wilson's score interval for one rate (good at small counts and near
0 or 1, where the normal approximation gives impossible bounds); for a difference of two independent rates,
Newcombe's hybrid score interval (method 10 of Newcombe 1998), built from the two Wilson intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # the 97.5% quantile of the standard normal


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def wilson(successes: int, trials: int, z: float = Z95) -> Interval | None:
    """The rate successes / trials with its Wilson score interval; None without trials."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    # at 0 or all successes a bound equals the rate exactly; rounding must not put it on the wrong side
    return Interval(p, min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half)))


def difference(k1: int, n1: int, k2: int, n2: int, z: float = Z95) -> Interval | None:
    """rate1 - rate2 with Newcombe's hybrid score interval; None when either group is empty."""
    a, b = wilson(k1, n1, z), wilson(k2, n2, z)
    if a is None or b is None:
        return None
    d = a.estimate - b.estimate
    low = d - math.sqrt((a.estimate - a.low) ** 2 + (b.high - b.estimate) ** 2)
    high = d + math.sqrt((a.high - a.estimate) ** 2 + (b.estimate - b.low) ** 2)
    return Interval(d, low, high)
