"""The Java-side event time of streaming runs (jobs/flink/kafka_table.time_ms_sql) against the Python rule.

Watermarks of a fused streaming run come from SQL; lateness is then decided in Python on the time the entry
decodes. The SQL must give exactly decode.parse_timestamp's value, or no time at all (the record then moves
no watermark, as a line without a time always did) — never another value: a time ahead of the true one
would make on-time events late. Oracle: parse_timestamp itself, over hand-picked and generated texts.
"""

from __future__ import annotations

import random
import time

import pytest

from jobs.runtime.decode import parse_timestamp

pytestmark = pytest.mark.flink

HAND = [
    "2026-11-02T09:30:05Z", "2026-11-02T09:30:05.123Z", "2026-11-02T09:30:05.1Z", "2026-11-02T09:30:05.123456789Z",
    "2026-11-02 09:30:05", "2026-11-02T09:30", "2026-11-02T09:30:05+02:00", "2026-11-02T09:30:05.5-05:30",
    "2026-11-02T00:10:00+01:00", "2026-11-02T09:30:05z", "1970-01-01T00:00:00Z", "2026-02-29T00:00:00Z",
    "2024-02-29T00:00:00Z", "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-02T24:00:00Z",
    "2026-11-02T09:60:00Z", "2026-11-02T09:30:60Z", "1700000000000", "0", "-5", "00017", "1e12", "12.5",
    " 1700000000000", "2026-11-02", "2026-11-02T09:30:05+0200", "junk", "", "true", "9999-12-31T23:59:59Z",
    "2262-04-11T23:47:16.854Z", "1969-12-31T23:59:59.999Z", "99999999999999999999",
]


def _generated(n: int) -> list[str]:
    rng = random.Random(22)
    now_ms = int(time.time() * 1000)
    out = []
    for _ in range(n):
        ms = rng.randint(0, now_ms + 7_200_000)
        if rng.random() < 0.3:
            out.append(str(ms))
            continue
        secs, frac = divmod(ms, 1000)
        base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
        sep = rng.choice(["T", " "])
        text = base[:10] + sep + base[11:]
        text += rng.choice(["", f".{frac:03d}", f".{frac:03d}{rng.randint(0, 999):03d}", f".{frac // 100}"])
        offset = rng.choice(["", "Z", "+02:00", "-05:30", "+00:00", "+14:00"])
        out.append(text + offset)
    return out


def _python(text: str) -> int | None:
    try:
        return parse_timestamp(text)
    except ValueError:
        return None


def test_sql_event_time_is_pythons_or_none() -> None:
    from pyflink.table import EnvironmentSettings, TableEnvironment

    from jobs.flink.embedded import prepare_python_path
    from jobs.flink.kafka_table import time_ms_sql

    prepare_python_path()
    texts = HAND + _generated(400)
    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    t_env.get_config().set("parallelism.default", "1")
    rows = ", ".join(f"({i}, '{t}')" for i, t in enumerate(texts))
    query = f"SELECT i, {time_ms_sql('s')} FROM (VALUES {rows}) AS v(i, s)"
    got = {row[0]: row[1] for row in t_env.execute_sql(query).collect()}
    wrong = [(t, got[i], _python(t)) for i, t in enumerate(texts) if got[i] is not None and got[i] != _python(t)]
    assert wrong == []
    # the two forms producers write are all understood: only these Python-only forms, and times within a few
    # seconds of the future bound (Java's clock is read later, in whole seconds), get no time in Java
    python_only = {"2026-11-02", "2026-11-02T09:30:05+0200", " 1700000000000"}
    bound_ms = int(time.time() * 1000) + 3_600_000
    missing = [t for i, t in enumerate(texts) if got[i] is None and _python(t) is not None
               and t not in python_only and abs(_python(t) - bound_ms) > 120_000]
    assert missing == []
    assert got[HAND.index("2026-11-02T09:30:05+02:00")] == parse_timestamp("2026-11-02T07:30:05Z")
    assert got[HAND.index("2026-02-30T00:00:00Z")] is None
