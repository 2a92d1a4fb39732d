"""Expression fuzz: hypothesis-generated expressions through compile (validate) and evaluation on generated events.

Expressions are built per type (number, text, bool, timestamp, `any`) to a bounded depth, so most of them
type-check and reach evaluation, and mixed with what must be refused: escape attempts (dunder names, imports,
lambdas, comprehensions, `**`), random text, and structured expressions with random characters spliced in.
Counted, per expression: refused at compile time with ExprError (fine), any other exception at compile time
(a crash); per evaluation on each generated event: a value, EvalError / ZeroDivisionError (fine: the event is a
dead letter), anything else (a crash); the evaluation time (max, p99, how many over 10 ms; one over 10 ms is
timed again 5 times and its fastest kept as `reproducible`: a shared machine stalls a thread now and then);
escapes: a Python audit event of the kind only an escape raises (open, exec, import, os / subprocess /
socket calls, frame or code objects) during an evaluation, or a result that is not plain data.
"""

from __future__ import annotations

import contextlib
import math
import random
import sys
import time
from collections import Counter

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from jobs.lang.expr import EvalError, ExprError, compile_expression
from jobs.lang.types import parse_type

ENV_SPEC = {"amount": "int", "price": "float", "segment": "string", "country": "string", "vip": "bool",
            "ts": "timestamp", "prev_ts": "timestamp", "note": "string", "tags": "list<string>",
            "scores": "list<int>", "attrs": "map<string>", "profile": {"balance": "float", "tier": "string"},
            "extra": "any"}
ENV = {k: parse_type(v) for k, v in ENV_SPEC.items()}
SLOW_MS = 10.0
SUSPICIOUS = ("open", "exec", "compile", "import", "os.", "subprocess.", "socket.", "shutil.", "ctypes.",
              "sys._getframe", "sys.settrace", "sys.setprofile", "builtins.input", "code.__new__",
              "function.__new__", "object.__getattr__", "object.__setattr__", "object.__delattr__", "marshal.",
              "pickle.", "urllib.", "http.", "webbrowser.", "glob.", "pty.", "fcntl.", "mmap.")
PLAIN = (type(None), bool, int, float, str)


class _Audit:
    armed = False
    seen: Counter = Counter()

    @classmethod
    def hook(cls, event: str, args) -> None:
        if cls.armed and event.startswith(SUSPICIOUS) and not _library_read(event, args):
            cls.seen[event] += 1


def _library_read(event: str, args) -> bool:
    """The trusted library reading its own data (zoneinfo loads a time zone's file on first use), not the
    expression: a read-only open of a file under the interpreter's prefix or the system's zoneinfo."""
    if event != "open" or not args or not isinstance(args[0], str):
        return False
    mode = args[1] if len(args) > 1 and isinstance(args[1], str) else "r"
    roots = (sys.prefix, sys.base_prefix, "/usr/share/zoneinfo", "/usr/lib/python3")
    return set(mode) <= {"r", "b"} and args[0].startswith(roots)


sys.addaudithook(_Audit.hook)


def _lit_text(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


INTS = st.one_of(st.integers(-1000, 1000), st.sampled_from([0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, -(2**62)]))
FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=64).map(lambda f: repr(f).replace("e+", "e"))
TEXTS = st.text(max_size=12).map(_lit_text)
FUNCS_NUM = ("abs", "round", "floor", "ceil", "to_int", "to_float")


def _num(d: int):
    leaf = st.one_of(st.sampled_from(["amount", "price", "profile.balance", "scores[0]", "scores[amount % 3]"]),
                     INTS.map(str), FLOATS)
    if d == 0:
        return leaf
    n, s = _num(d - 1), _str(d - 1)
    return st.one_of(
        leaf,
        st.tuples(n, st.sampled_from(["+", "-", "*", "/", "%"]), n).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        n.map(lambda x: f"-{x}"),
        st.tuples(st.sampled_from(FUNCS_NUM), n).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(n, n).map(lambda t: f"power({t[0]}, {t[1]})"),
        st.tuples(st.sampled_from(["greatest", "least", "coalesce"]), st.lists(n, min_size=1, max_size=4))
          .map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        s.map(lambda x: f"length({x})"),
        st.sampled_from(["size(tags)", "size(scores)", "day_of_week(ts)", "hour_of_day(ts)",
                         "hours_between(prev_ts, ts)", "to_int(extra)", "to_float(segment)"]),
        st.tuples(_bool(d - 1), n, n).map(lambda t: f"case when {t[0]} then {t[1]} else {t[2]} end"),
        st.sampled_from(["seconds", "minutes", "hours", "days"]).flatmap(lambda u: n.map(lambda x: f"{u}({x})")),
    )


def _str(d: int):
    leaf = st.one_of(st.sampled_from(["segment", "country", "note", "profile.tier", "attrs.channel", "tags[0]",
                                      "attrs['x y']", "`segment`"]), TEXTS)
    if d == 0:
        return leaf
    s, n = _str(d - 1), _num(d - 1)
    return st.one_of(
        leaf,
        st.tuples(s, s).map(lambda t: f"({t[0]} || {t[1]})"),
        st.tuples(st.sampled_from(["lower", "upper", "trim"]), s).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(s, n, n).map(lambda t: f"substr({t[0]}, {t[1]}, {t[2]})"),
        st.tuples(s, s, s).map(lambda t: f"replace({t[0]}, {t[1]}, {t[2]})"),
        st.one_of(n, s, _bool(d - 1)).map(lambda x: f"to_string({x})"),
        st.lists(st.one_of(s, n), min_size=1, max_size=4).map(lambda xs: f"concat({', '.join(xs)})"),
        st.sampled_from(["'yyyy-MM-dd HH:mm'", "'EEE'", "'%s%%'", "'{0}'", "''"]).map(
            lambda f: f"date_format(ts, {f})"),
        st.tuples(_bool(d - 1), s, s).map(lambda t: f"if({t[0]}, {t[1]}, {t[2]})"),
    )


def _bool(d: int):
    leaf = st.sampled_from(["vip", "true", "false", "note is null", "extra is not null", "'new' in tags"])
    if d == 0:
        return leaf
    b, n, s = _bool(d - 1), _num(d - 1), _str(d - 1)
    ops = st.sampled_from(["=", "<>", "<", "<=", ">", ">=", "!="])
    return st.one_of(
        leaf,
        st.tuples(n, ops, n).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(s, ops, s).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(s, st.text(alphabet="ab%_\\x", max_size=8)).map(lambda t: f"{t[0]} like {_lit_text(t[1])}"),
        st.tuples(n, n, n).map(lambda t: f"{t[0]} between {t[1]} and {t[2]}"),
        st.tuples(s, st.lists(TEXTS, min_size=1, max_size=4)).map(lambda t: f"{t[0]} in ({', '.join(t[1])})"),
        st.tuples(b, st.sampled_from(["and", "or"]), b).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        b.map(lambda x: f"not {x}"),
        st.tuples(st.sampled_from(["contains", "starts_with", "ends_with"]), s, s).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.sampled_from(["ts > prev_ts", "ts + hours(2) >= prev_ts", "to_timestamp(segment) < ts",
                         "extra.risk > 0.5", "extra * 2 > 1", "extra || 'x' = 'y'", "extra.a.b.c = 1"]),
    )


ESCAPES = st.sampled_from([
    "__import__('os')", "().__class__.__bases__", "''.__class__.__mro__[1].__subclasses__()", "x.__globals__",
    "profile.__dict__", "_private", "open('/etc/passwd')", "exec('1')", "eval('1')", "compile('1','f','eval')",
    "lambda: 1", "[x for x in tags]", "9**9**9", "amount ** 2", "globals()", "locals()", "vars()", "getattr(1,'a')",
    "type(1)", "ctx", "ctx['amount']", "_expr", "__builtins__", "segment.__len__()", "(a := 1)", "1; 2",
    "tags.append(1)", "f'{amount}'", "b'x'", "segment.upper()", "print(1)", "breakpoint()", "input()",
    "exit()", "import os", "attrs.__class__", "`__class__`", "extra.__class__", "extra['__class__']",
    "profile['__dict__']", "'a' * 1000000000", "[1] * 1000000000", "concat(" + "'x', " * 40 + "'x')",
])


def expressions():
    structured = st.one_of(_num(3), _str(3), _bool(3))
    spliced = st.tuples(structured, st.integers(0, 200), st.text(min_size=1, max_size=4)).map(
        lambda t: t[0][:t[1]] + t[2] + t[0][t[1]:])
    # (kind, text): kinds drawn with equal weight, so each gets about a quarter of the budget
    return st.sampled_from(["typed", "escape", "text", "spliced"]).flatmap(lambda kind: {
        "typed": structured, "escape": ESCAPES, "text": st.text(max_size=40), "spliced": spliced}[kind].map(
        lambda source: (kind, source)))


def _any_value(rng, depth: int = 2):
    kind = rng.randrange(8 if depth else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([0, 1, -1, 2**63 - 1, -(2**63), rng.randint(-1000, 1000)])
    if kind == 3:
        return rng.choice([0.0, -0.0, 1e308, -1e308, 5e-324, rng.uniform(-1e6, 1e6)])
    if kind == 4:
        return _text(rng)
    if kind == 5:
        return [_any_value(rng, depth - 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["a", "b", "risk", "__class__"]): _any_value(rng, depth - 1) for _ in range(rng.randrange(4))}


def _text(rng, n: int = 12) -> str:
    alphabet = "ab %_'\\xyz\u00e9\u0142\u4e2d\U0001f600\n\t\x00-+.0123456789"
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(n)))


def event(rng) -> dict:
    """One event as the source decodes it: each declared field of its type or null, `any` anything JSON."""
    def opt(make):
        return None if rng.random() < 0.15 else make()

    big = lambda: rng.choice([0, 1, -1, 2**63 - 1, -(2**63), rng.randint(-10**6, 10**6)])  # noqa: E731
    real = lambda: rng.choice([0.0, 1e308, -1e308, 5e-324, rng.uniform(-1e4, 1e4)])  # noqa: E731
    ts = lambda: rng.randint(-62_135_596_800_000, 253_402_300_799_000)  # noqa: E731 - years 1 to 9999, as decode allows
    return {
        "amount": opt(big), "price": opt(real),
        "segment": opt(lambda: "x" * 65_536 if rng.random() < 0.02 else _text(rng, 30)),
        "country": opt(lambda: _text(rng, 3)), "vip": opt(lambda: rng.random() < 0.5), "ts": opt(ts),
        "prev_ts": opt(ts), "note": opt(lambda: _text(rng)),
        "tags": opt(lambda: [opt(lambda: _text(rng, 5)) for _ in range(rng.randrange(4))]),
        "scores": opt(lambda: [opt(big) for _ in range(rng.randrange(4))]),
        "attrs": opt(lambda: {rng.choice(["channel", "x y"]): opt(lambda: _text(rng, 5))
                              for _ in range(rng.randrange(3))}),
        "profile": opt(lambda: {"balance": opt(real), "tier": opt(lambda: _text(rng, 3))}),
        "extra": _any_value(rng)}


def _plain(value, depth: int = 0) -> bool:
    if isinstance(value, PLAIN):
        return not isinstance(value, float) or math.isfinite(value)
    if depth > 20:
        return False
    if isinstance(value, (list, tuple)):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


class Stats:
    def __init__(self):
        self.expressions = self.refused = self.compiled = self.evaluations = self.eval_errors = 0
        self.crashes: list[dict] = []
        self.escapes: list[dict] = []
        self.times_ms: list[float] = []
        self.slow: list[dict] = []
        self.kinds: Counter = Counter()

    def observe(self, kind: str, source: str, evs: list[dict]) -> None:
        self.expressions += 1
        if self.expressions % 10_000 == 0:
            print(f"  {self.expressions} expressions, {len(self.crashes)} crashes, {len(self.escapes)} escapes",
                  flush=True)
        self.kinds[kind, "refused"] += 0
        try:
            compiled = compile_expression(source, ENV)
        except ExprError:
            self.refused += 1
            self.kinds[kind, "refused"] += 1
            return
        except Exception as exc:  # noqa: BLE001 - what the drill counts
            self.crashes.append({"phase": "compile", "expression": source[:300], "error": repr(exc)[:300]})
            return
        self.compiled += 1
        self.kinds[kind, "compiled"] += 1
        for ev in evs:
            self.evaluate(source, compiled.fn, ev)

    def evaluate(self, source: str, fn, ev: dict) -> None:
        self.evaluations += 1
        _Audit.seen.clear()
        _Audit.armed = True
        started = time.perf_counter()
        try:
            value = fn(ev)
            failed = None
        except (EvalError, ZeroDivisionError):
            value, failed = None, "eval"
        except Exception as exc:  # noqa: BLE001
            value, failed = None, repr(exc)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            _Audit.armed = False
        self.times_ms.append(elapsed_ms)
        if _Audit.seen or not _plain(value):
            self.escapes.append({"expression": source[:300], "audit": dict(_Audit.seen),
                                 "result_type": type(value).__name__})
        if failed == "eval":
            self.eval_errors += 1
        elif failed:
            self.crashes.append({"phase": "evaluate", "expression": source[:300], "error": failed[:300]})
        if elapsed_ms > SLOW_MS:
            self.slow.append({"expression": source[:300], "ms": round(elapsed_ms, 2),
                              "reproducible_ms": round(self._retime(fn, ev), 2)})

    @staticmethod
    def _retime(fn, ev) -> float:
        best = math.inf
        for _ in range(5):
            started = time.perf_counter()
            with contextlib.suppress(Exception):  # timed only: already counted
                fn(ev)
            best = min(best, (time.perf_counter() - started) * 1000)
        return best

    def summary(self) -> dict:
        ordered = sorted(self.times_ms)
        pick = lambda p: round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 3) if ordered else None  # noqa: E731
        reproducible = [s for s in self.slow if s["reproducible_ms"] > SLOW_MS]
        kinds = {k: {"refused": self.kinds[k, "refused"], "compiled": self.kinds[k, "compiled"]}
                 for k in sorted({k for k, _ in self.kinds})}
        return {"expressions": self.expressions, "by_kind": kinds, "refused_at_compile": self.refused,
                "compiled": self.compiled,
                "evaluations": self.evaluations, "eval_errors": self.eval_errors, "crashes": len(self.crashes),
                "crash_samples": self.crashes[:10], "escapes": len(self.escapes), "escape_samples": self.escapes[:10],
                "eval_ms": {"p50": pick(0.5), "p99": pick(0.99), "max": round(ordered[-1], 3) if ordered else None},
                "over_10ms": len(self.slow), "over_10ms_reproducible": len(reproducible),
                "max_reproducible_ms": max((s["reproducible_ms"] for s in self.slow), default=None),
                "slow_samples": sorted(self.slow, key=lambda s: -s["reproducible_ms"])[:5]}


def run(n: int, seed: int = 0) -> dict:
    stats = Stats()

    @settings(max_examples=n, deadline=None, database=None, phases=[Phase.generate], derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(source=expressions(), seed=st.integers(0, 2**32 - 1))
    def case(source: tuple[str, str], seed: int) -> None:
        # the events from a generator seeded by hypothesis: drawing them field by field through strategies cost
        # 15 ms per case here (and st.randoms() routes every call through hypothesis), 40 times the expression's
        # own compile and evaluation
        rng = random.Random(seed)
        stats.observe(*source, [event(rng) for _ in range(rng.randint(1, 3))])

    started = time.monotonic()
    case()
    result = stats.summary()
    result["seconds"] = round(time.monotonic() - started, 1)
    result["ok"] = result["crashes"] == 0 and result["escapes"] == 0 and result["over_10ms_reproducible"] == 0
    return result
