"""Stage 2 for the scenario-level `policy:` block (contact policy): its shape, read once per scenario file.

The block is either written inline or is the path of a shared policy file (relative to the scenario) that
several scenarios reference; errors point into whichever file holds the text. Its expressions (consent, the
customer's time zone) are typed later, per action node, against the fields that reach that node
(jobs/nodes/policy.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jobs.lang import params as P
from jobs.lang.errors import Collector, Location, ScenarioError
from jobs.lang.loader import YList, YMap, load_yaml
from jobs.lang.paths import ReferenceFileError, file_in_tree

DEFAULT_TTL_MS = 30 * 86_400_000
POLICY_PARAMS = [
    P.Param("ttl", P.DURATION, "How long a customer's contact history is kept (Flink state TTL); every cooldown and "
            "cap window must fit in it (default 30d).", default=DEFAULT_TTL_MS),
    P.Param("cooldown", P.DURATION, "The same offer is not sent again to a customer within this long of the "
            "previous contact with it."),
    P.Param("caps", P.ANY, "Frequency caps: a list of {max: N, per: duration, channel: name (optional: all "
            "channels)}.", schema={"type": "array", "items": {"type": "object"}}),
    P.Param("quiet_hours", P.ANY, "{start: 'HH:MM', end: 'HH:MM', time_zone: expression, default_time_zone: "
            "name, then: hold | drop}: no contact in that local-time window.", schema={"type": "object"}),
    P.Param("consent", P.ANY, "Per channel, a bool expression that must be true to contact the customer, e.g. "
            "{sms: profile.sms_consent}.", schema={"type": "object"}),
    P.Param("description", P.TEXT, "What this policy is for."),
    P.Param("name", P.NAME, "Policy files only: the identity under which jobs share contact history through the "
            "contacts topic (default: the file name without .yaml). Jobs whose scenarios reference policies of "
            "the same name count each other's contacts."),
]


class QuietThen(StrEnum):
    """What quiet hours do to a contact that falls inside them."""

    HOLD = "hold"  # send when the quiet hours end
    DROP = "drop"  # do not send


CAP_PARAMS = [
    P.Param("max", P.INT, "At most this many contacts...", True),
    P.Param("per", P.DURATION, "...per rolling window of this length.", True),
    P.Param("channel", P.NAME, "Count only this channel's contacts (default: all channels)."),
]
QUIET_PARAMS = [
    P.Param("start", P.TEXT, "Local time the quiet hours start, 'HH:MM' (quoted).", True),
    P.Param("end", P.TEXT, "Local time they end, 'HH:MM'; before start means the next day.", True),
    P.Param("time_zone", P.EXPR, "The customer's IANA time zone, an expression on the event (e.g. profile.tz)."),
    P.Param("default_time_zone", P.TEXT, "The zone used when `time_zone` is absent or null.", default="UTC"),
    P.Param("then", P.CHOICE, "hold: send when the quiet hours end; drop: do not send.", default=QuietThen.HOLD,
            choices=tuple(QuietThen)),
]
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Cap:
    max: int
    per_ms: int
    channel: str | None


@dataclass(frozen=True)
class QuietHours:
    start_min: int  # minutes after local midnight
    end_min: int
    time_zone: P.Value | None  # an expression, typed per action node
    default_time_zone: str
    then: QuietThen


@dataclass
class PolicySpec:
    file: str
    loc: Location
    ttl_ms: int
    cooldown_ms: int | None = None
    caps: list[Cap] = field(default_factory=list)
    quiet: QuietHours | None = None
    consent: dict[str, P.Value] = field(default_factory=dict)  # channel -> bool expression
    # a policy file's identity (its `name`, default the file's stem): jobs applying policies of one name share
    # contact history through the contacts topic (jobs/flink/contacts_io.py); None for an inline policy
    shared: str | None = None

    @property
    def longest_window_ms(self) -> int:
        return max([c.per_ms for c in self.caps] or [0])


def valid_zone(name: object) -> bool:
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _positive(v: dict[str, P.Value], name: str, errors: Collector, what: str) -> int | None:
    if name not in v or v[name].value is None:
        return None
    if v[name].value <= 0:
        errors.error(v[name].loc, f"'{name}' in {what} must be longer than 0")
        return None
    return v[name].value


def _minutes(v: dict[str, P.Value], name: str, errors: Collector) -> int | None:
    if name not in v:
        return None
    match = _HHMM.match(str(v[name].value))
    if not match:
        errors.error(v[name].loc, f"'{name}' of quiet_hours must be a local time 'HH:MM' in quotes, "
                                  f"not {v[name].value!r}")
        return None
    return int(match.group(1)) * 60 + int(match.group(2))


def _read_quiet(raw: object, loc: Location, errors: Collector) -> QuietHours | None:
    if not isinstance(raw, YMap):
        errors.error(loc, "'quiet_hours' must be a mapping with start, end and time_zone")
        return None
    v = P.read_params(raw, QUIET_PARAMS, errors, what="quiet_hours")
    start, end = _minutes(v, "start", errors), _minutes(v, "end", errors)
    zone = v["default_time_zone"]
    if not valid_zone(zone.value):
        errors.error(zone.loc, f"'{zone.value}' is not a known time zone (an IANA name such as Europe/Warsaw)")
        return None
    if start is None or end is None or "then" not in v:
        return None
    if start == end:
        errors.error(raw.loc, "quiet_hours: start and end are the same time: the window would be empty")
        return None
    return QuietHours(start, end, v.get("time_zone"), zone.value, v["then"].value)


def _read_caps(raw: object, loc: Location, errors: Collector) -> list[Cap]:
    if not isinstance(raw, YList) or not raw:
        errors.error(loc, "'caps' must be a list of {max, per, channel}")
        return []
    caps = []
    for i, item in enumerate(raw):
        if not isinstance(item, YMap):
            errors.error(raw.item_loc(i), "a cap must be a mapping {max: N, per: duration, channel: name}")
            continue
        v = P.read_params(item, CAP_PARAMS, errors, what="a cap")
        per = _positive(v, "per", errors, "a cap")
        if "max" in v and v["max"].value is not None and v["max"].value < 1:
            errors.error(v["max"].loc, "'max' in a cap must be at least 1")
        elif per is not None and "max" in v and v["max"].value is not None:
            caps.append(Cap(v["max"].value, per, v["channel"].value if "channel" in v else None))
    return caps


def read_policy(raw: object, loc: Location, scenario_file: str, errors: Collector) -> PolicySpec | None:
    """The `policy:` value: an inline mapping, or the path of a shared policy file."""
    shared = None
    if isinstance(raw, str):
        try:
            path = file_in_tree(Path(scenario_file).parent, raw, "put the shared policy file beside the scenarios")
        except ReferenceFileError as exc:
            errors.error(loc, f"policy: {exc}")
            return None
        try:
            raw = load_yaml(path)
        except ScenarioError as exc:  # the policy file's own positions stand
            for diagnostic in exc.diagnostics:
                errors.error(diagnostic.location, diagnostic.message)
            return None
        if not isinstance(raw, YMap):
            errors.error(Location(str(path), 1, 1), "a policy file must be a mapping (ttl, cooldown, caps, ...)")
            return None
        shared = re.sub(r"\.ya?ml$", "", path.name)
    if not isinstance(raw, YMap):
        errors.error(loc, "'policy' must be a mapping, or the path of a policy file")
        return None
    v = P.read_params(raw, POLICY_PARAMS, errors, what="the policy")
    ttl = _positive(v, "ttl", errors, "the policy")
    spec = PolicySpec(raw.loc.file, raw.loc, ttl or DEFAULT_TTL_MS, _positive(v, "cooldown", errors, "the policy"))
    if "name" in v:
        if shared is None:
            errors.error(v["name"].loc, "'name' is for a shared policy file: an inline policy is the scenario's own "
                                        "(put it in a file that several scenarios reference to share contacts)")
        else:
            shared = v["name"].value
    spec.shared = shared
    if "caps" in v:
        spec.caps = _read_caps(v["caps"].value, v["caps"].loc, errors)
    if "quiet_hours" in v:
        spec.quiet = _read_quiet(v["quiet_hours"].value, v["quiet_hours"].loc, errors)
    if "consent" in v:
        consent = v["consent"].value
        if not isinstance(consent, YMap) or not consent:
            errors.error(v["consent"].loc, "'consent' must map channel names to bool expressions")
        else:
            for channel, text in consent.items():
                expr = "true" if text is True else "false" if text is False else str(text)
                spec.consent[channel] = P.Value(expr, consent.value_loc(channel))
    if spec.cooldown_ms is not None and spec.cooldown_ms > spec.ttl_ms:
        errors.error(v["cooldown"].loc, f"the cooldown ({v['cooldown'].value} ms) is longer than the policy's state "
                                        f"ttl ({spec.ttl_ms} ms): the previous contact would be forgotten first")
    for i, cap in enumerate(spec.caps):
        if cap.per_ms > spec.ttl_ms:
            errors.error(v["caps"].value.item_loc(i), f"a cap window ({cap.per_ms} ms) is longer than the policy's "
                                                      f"state ttl ({spec.ttl_ms} ms)")
    if not any(name in v for name in ("cooldown", "caps", "quiet_hours", "consent")):
        errors.error(raw.loc, "the policy sets nothing: give at least one of cooldown, caps, quiet_hours, consent")
    return spec
