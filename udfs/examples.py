"""Example trusted functions for `call` nodes (reviewed Python; analysts' expressions stay sandboxed)."""

from __future__ import annotations

from udfs import export

_COUNTRY_RISK = {"PL": 0.0, "DE": 0.1}


@export
def risk_score(amount: float | None, country: str | None) -> float:
    """A toy risk score in [0, 1]: big amounts and unfamiliar countries score higher."""
    if amount is None:
        raise ValueError("amount is missing")
    size = min(amount / 1000.0, 1.0)
    return round(0.5 * size + 0.5 * _COUNTRY_RISK.get(country or "", 1.0), 3)
