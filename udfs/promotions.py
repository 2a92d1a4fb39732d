"""Trusted promotion logic for `call` nodes: reviewed Python for what expressions cannot say.

Pure functions of their arguments (no I/O, no clocks), so a replay gives the same offers.
"""

from __future__ import annotations

from udfs import export

# Loyalty multipliers per customer tier; an unknown tier is a data problem, not a zero.
_TIER_MULTIPLIER = {"bronze": 1, "silver": 2, "gold": 3}


@export
def loyalty_points(amount: float, tier: str | None) -> int:
    """Points for an order: 1 per whole 10 spent, times the tier's multiplier. Raises on an unknown tier."""
    if tier not in _TIER_MULTIPLIER:
        raise ValueError(f"unknown loyalty tier {tier!r}")
    return int(amount // 10) * _TIER_MULTIPLIER[tier]


@export
def topup_propensity(spent: float, events: int, credit: float, plan_price: float | None) -> float:
    """How likely (0..1) a subscriber is to accept a top-up now.

    Heavy recent spending relative to the monthly plan price and a nearly empty balance push it up; many
    separate usage events (an active user, not one long call) add a little. Rounded to 2 digits so the
    decision table's thresholds are stable across platforms.
    """
    if spent < 0 or events < 0:
        raise ValueError("spent and events must not be negative")
    price = plan_price if plan_price and plan_price > 0 else 30.0  # unknown plan: a typical prepaid price
    intensity = min(spent / price, 1.0)  # an hour costing a whole month's price is as heavy as it gets
    emptiness = 1.0 - min(max(credit, 0.0) / 10.0, 1.0)  # below 10 of credit the need becomes real
    activity = min(events / 10.0, 1.0)
    return round(0.5 * intensity + 0.4 * emptiness + 0.1 * activity, 2)
