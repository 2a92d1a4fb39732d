"""The contact policy as an action node applies it: consent, quiet hours, per-offer cooldown, frequency caps.

The scenario declares the policy once (`policy:`, read by jobs/lang/policy.py); every action node compiles
its own `PolicyRuntime` against the fields that reach it, and all of them share one customer's contact history
in Flink keyed state (ValueState with the policy's TTL, namespace `_policy`), so a cap counts every channel.

Decisions are taken in event-time order: the action node hands a contact to the policy from an event-time
timer at the contact's time (its delay, or at once: when the watermark reaches the event), never in arrival
order, so the same input gives the same contacts whatever order it arrives in within the allowed lateness.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from jobs.lang.expr import CompiledExpr
from jobs.lang.policy import Cap, PolicySpec, QuietThen, valid_zone
from jobs.lang.types import STRING
from jobs.nodes.base import CompileContext, Ctx, Env, Output, Runtime, StateKind, StateSpec
from jobs.nodes.policy_shared import parse, remote_last, remote_used, snapshot, union_own

STATE = "_policy"  # node ids start with a letter: this namespace is the policy's alone


class Reason(StrEnum):
    """Why a contact was not sent: the `reason` field of its detection (count them in Kibana)."""

    CANCELLED = "cancelled"  # the action's cancel_if matched (jobs/nodes/action.py)
    NO_CONSENT = "no_consent"
    QUIET_HOURS = "quiet_hours"
    COOLDOWN = "cooldown"
    CAP = "cap"


class Verdict(StrEnum):
    """What the policy decides for one contact (`decide`)."""

    SEND = "send"
    SUPPRESS = "suppress"  # with the Reason
    HOLD = "hold"  # with the time the quiet hours end


@dataclass
class PolicyRuntime:
    channel: str
    ttl_ms: int
    cooldown_ms: int | None
    caps: list[Cap]  # the caps that count this channel
    window_ms: int  # the longest cap window of the policy (all channels share the history)
    consent: CompiledExpr | None
    quiet: tuple[int, int, QuietThen] | None  # (start minute, end minute, then)
    zone: CompiledExpr | None
    default_zone: str
    shared: str | None = None  # the policy file's identity: its history is shared with other jobs (Kafka runs)
    publish: str | None = None  # set by the Kafka path (jobs/flink/contacts_io.py): the origin of our snapshots

    def prepare(self, ctx: Ctx) -> dict[str, Any]:
        """What the policy needs from the triggering event, taken when it arrives: a time zone that is not a
        zone makes the event a dead letter then (with the reason), not a failed timer later."""
        out: dict[str, Any] = {"consent": True if self.consent is None else self.consent.fn(ctx) is True}
        if self.quiet is not None:
            zone = self.zone.fn(ctx) if self.zone is not None else None
            if zone is None:
                zone = self.default_zone
            elif not valid_zone(zone):
                raise ValueError(f"invalid time zone {str(zone)[:80]!r}: not an IANA zone name such as Europe/Warsaw")
            out["zone"] = zone
        return out

    def quiet_until(self, t: int, zone: str) -> int | None:
        """The end of the quiet hours `t` falls in (epoch ms), or None when `t` is outside them."""
        start, end, _ = self.quiet
        tz = ZoneInfo(zone)
        local = datetime.fromtimestamp(t / 1000, tz)
        minute = local.hour * 60 + local.minute
        if start < end:
            quiet, day = start <= minute < end, local.date()
        else:  # over midnight, e.g. 21:00-08:00
            quiet = minute >= start or minute < end
            day = local.date() + timedelta(days=1) if minute >= start else local.date()
        if not quiet:
            return None
        return int(datetime.combine(day, time(end // 60, end % 60), tz).timestamp() * 1000)

    def decide(self, entry: dict, t: int, rt: Runtime) -> tuple[Verdict, Any]:
        """(SEND, None), (SUPPRESS, Reason) or (HOLD, release time) for a contact at time t."""
        if not entry.get("consent", True):
            return Verdict.SUPPRESS, Reason.NO_CONSENT
        if self.quiet is not None:
            until = self.quiet_until(t, entry["zone"])
            if until is not None:
                if self.quiet[2] == QuietThen.HOLD:
                    return Verdict.HOLD, until
                return Verdict.SUPPRESS, Reason.QUIET_HOURS
        # other jobs' contacts (shared policy, Kafka runs): one of them later than t (that job is ahead in event
        # time) also blocks the offer within the cooldown; caps count them in (t - per, t] like our own
        remote = (rt.value_state(STATE, "remote").value() or {}) if self.shared is not None else {}
        if self.cooldown_ms:
            last = (rt.value_state(STATE, "offers").value() or {}).get(entry["offer"])
            other = remote_last(remote, entry["offer"]) if remote else None
            last = other if last is None or (other is not None and other > last) else last
            if last is not None and t - last < self.cooldown_ms:
                return Verdict.SUPPRESS, Reason.COOLDOWN
        if self.caps:
            contacts = rt.value_state(STATE, "contacts").value() or []
            for cap in self.caps:
                used = sum(1 for ts, channel in contacts
                           if t - cap.per_ms < ts <= t and (cap.channel is None or channel == cap.channel))
                if remote:
                    used += remote_used(remote, t, cap.per_ms, cap.channel)
                if used >= cap.max:
                    return Verdict.SUPPRESS, Reason.CAP
        return Verdict.SEND, None

    def record(self, entry: dict, t: int, rt: Runtime) -> None:
        """A contact was sent at t: it counts for later cooldowns and caps (old entries are pruned here)."""
        contacts, offers = [], {}
        if self.window_ms:
            state = rt.value_state(STATE, "contacts")
            contacts = [*(c for c in state.value() or [] if c[0] > t - self.window_ms), (t, self.channel)]
            state.update(contacts)
        if self.cooldown_ms:
            state = rt.value_state(STATE, "offers")
            offers = {o: ts for o, ts in (state.value() or {}).items() if t - ts < self.cooldown_ms}
            offers[entry["offer"]] = t
            state.update(offers)
        if self.publish is not None:  # the whole recent history: the topic's latest value per origin is the truth
            rt.emit(Output.CONTACTS, snapshot(self.shared, self.publish, rt.scenario, rt.current_key(), t, contacts,
                                        offers))

    def merge(self, ctx: Ctx, rt: Runtime) -> None:
        """A snapshot read back from the contacts topic. Another origin's replaces that origin's previous one;
        our own is added to our history (a union: after a fresh start without a checkpoint the job gets its own
        contacts back; when it comes back from a live round trip it adds nothing). Every action node of the
        operator is told; the upsert and the union are the same each time."""
        origin, contacts, offers = parse(ctx)
        if origin == self.publish:
            union_own(rt, self.window_ms, self.cooldown_ms, contacts, offers)
            return
        if ctx.get("scenario") == rt.scenario:  # another operator of this job: not shared within a job either
            return
        state = rt.value_state(STATE, "remote")
        remote = dict(state.value() or {})
        remote[origin] = {"contacts": contacts, "offers": offers}
        state.update(remote)

    def state_specs(self) -> list[StateSpec]:
        specs = [StateSpec(STATE, "contacts", StateKind.VALUE, self.ttl_ms),
                 StateSpec(STATE, "offers", StateKind.VALUE, self.ttl_ms)]
        return specs + ([StateSpec(STATE, "remote", StateKind.VALUE, self.ttl_ms)] if self.shared is not None else [])


def compile_policy(spec: PolicySpec, channel: str, env: Env, cc: CompileContext) -> PolicyRuntime | None:
    """The policy as it applies to one action node: its expressions typed against the fields reaching it."""
    consent, ok = None, True
    if channel in spec.consent:
        consent = cc.condition(spec.consent[channel], env, what=f"policy consent for '{channel}'")
        ok = consent is not None
    quiet = zone = None
    default_zone = "UTC"
    if spec.quiet is not None:
        q = spec.quiet
        quiet, default_zone = (q.start_min, q.end_min, q.then), q.default_time_zone
        if q.time_zone is not None:
            zone = cc.expr(q.time_zone, env, expected=STRING, what="policy time_zone")
            ok = ok and zone is not None
    if not ok:
        return None
    caps = [c for c in spec.caps if c.channel is None or c.channel == channel]
    return PolicyRuntime(channel, spec.ttl_ms, spec.cooldown_ms, caps, spec.longest_window_ms, consent, quiet,
                         zone, default_zone, spec.shared)

