"""Contact history shared by jobs that apply the same policy file (docs/decisions/0015-contact-policy.md).

Every keyed operator that applies a shared policy publishes, after each contact it sends, a **snapshot** of its
own history for that customer: the contact times within the longest cap window and the last time per offer
within the cooldown (exactly its `_policy.contacts` / `_policy.offers` state). The Kafka path writes it to the
compacted contacts topic keyed by customer, policy and origin (jobs/flink/contacts_io.py), so compaction keeps
the latest snapshot of every origin, which is all a reader needs; every job applying a policy of the same name
reads the topic back into ValueState `_policy.remote` = {origin: snapshot}, and its caps and cooldowns count
those contacts as they count their own.

Only for connected runs: file runs and `kairos test` have no shared topic, nothing is published there.
"""

from __future__ import annotations

from typing import Any

from jobs.nodes.outputs import iso_ms


def snapshot(policy: str, origin: str, scenario: str, customer: str, t: int, contacts: list, offers: dict) -> dict:
    """What one sent contact publishes: the origin's whole recent history for the customer (a changelog value)."""
    return {"policy": policy, "origin": origin, "scenario": scenario, "customer": customer, "time": iso_ms(t),
            "contacts": [[int(ts), str(channel)] for ts, channel in contacts],
            "offers": {str(offer): int(ts) for offer, ts in offers.items()}}


def parse(ctx: dict[str, Any]) -> tuple[str, list[tuple[int, str]], dict[str, int]]:
    """(origin, contacts, offers) of a snapshot read back; ValueError (a dead letter) when it is not one."""
    origin, contacts, offers = ctx.get("origin"), ctx.get("contacts"), ctx.get("offers")
    if not isinstance(origin, str) or not isinstance(contacts, list) or not isinstance(offers, dict):
        raise ValueError("not a contacts snapshot: needs origin (text), contacts (list), offers (mapping)")
    try:
        pairs = [(int(ts), str(channel)) for ts, channel in contacts]
        last = {str(offer): int(ts) for offer, ts in offers.items()}
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not a contacts snapshot: {exc}") from None
    return origin, pairs, last


def remote_used(remote: dict, t: int, per_ms: int, channel: str | None) -> int:
    """Contacts of other jobs in the cap window (t - per, t], on `channel` or on all channels."""
    return sum(1 for snap in remote.values() for ts, ch in snap["contacts"]
               if t - per_ms < ts <= t and (channel is None or ch == channel))


def remote_last(remote: dict, offer: str) -> int | None:
    """The latest contact of other jobs with this offer (None: none kept)."""
    times = [snap["offers"][offer] for snap in remote.values() if offer in snap["offers"]]
    return max(times) if times else None


def union_own(rt, window_ms: int, cooldown_ms: int | None, contacts: list, offers: dict) -> None:
    """Our own snapshot back from the topic: its contacts join `_policy.contacts` / `_policy.offers`."""
    if window_ms and contacts:
        state = rt.value_state("_policy", "contacts")
        merged = sorted({(int(ts), str(ch)) for ts, ch in [*(state.value() or []), *contacts]})
        state.update([c for c in merged if c[0] > merged[-1][0] - window_ms])
    if cooldown_ms and offers:
        state = rt.value_state("_policy", "offers")
        merged = dict(state.value() or {})
        for offer, ts in offers.items():
            merged[offer] = max(ts, merged.get(offer, ts))
        newest = max(merged.values())
        state.update({o: ts for o, ts in merged.items() if newest - ts < cooldown_ms})
