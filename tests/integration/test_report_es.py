"""kairos report against the real Elasticsearch: documents written here (indices of its own), every number
checked against values worked out by hand (Wilson intervals from textbook tables, uplift by Newcombe's
formula written out below, attribution by reading the list of documents)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from jobs.config.naming import Naming
from jobs.config.settings import load_connections
from jobs.connect.es_template import ensure_index_template, template_name
from jobs.nodes.outputs import iso_ms
from jobs.report.build import Options, make_report
from jobs.report.data import Match

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
T0 = 1_793_613_600_000  # 2026-11-02T10:00:00Z
MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000


def contact(scenario, n, kind, key, t, experiments):
    return {"id": f"{scenario}:send:{n}", "scenario": scenario, "node": "send", "kind": kind, "key": key,
            "event_id": n, "time": iso_ms(t), "event": {}, "fields": {"would_have_sent": kind == "holdout"},
            "experiments": experiments}


def documents(scenario):
    docs = []
    # promo a: a0..a3 in the first hour (bandit arm x), a4 (x) and a5..a9 (y) in the second
    for i in range(10):
        arm = "x" if i <= 4 else "y"
        docs.append(contact(scenario, f"a{i}", "contact", f"a{i}", T0 + (i * MIN if i < 4 else HOUR + i * MIN),
                            {"promo": "a", "pick": arm}))
    # promo b: b1 is contacted twice (b1 and b1bis), b0 .. b8 otherwise once: 10 contacts
    for i in range(9):
        docs.append(contact(scenario, f"b{i}", "contact", f"b{i}", T0 + i * MIN, {"promo": "b"}))
    docs.append(contact(scenario, "b1bis", "contact", "b1", T0 + 30 * MIN, {"promo": "b"}))
    # control: 5 held out (they passed the bandit too: no trial of it)
    for i in range(5):
        docs.append(contact(scenario, f"c{i}", "holdout", f"c{i}", T0 + i * MIN, {"promo": "control", "pick": "x"}))
    # not contacts: a suppressed contact, and a detection of another kind
    docs.append({**contact(scenario, "s0", "contact_suppressed", "s0", T0, {"promo": "a"})})
    docs.append({**contact(scenario, "d0", "topup_offer", "d0", T0, {"promo": "a"})})
    return docs


def conversions(scenario):
    a = lambda n: f"{scenario}:send:{n}"  # noqa: E731
    return [
        {"customer_id": "a0", "ts": T0 + 10 * MIN, "action_id": a("a0")},
        {"customer_id": "a0", "ts": T0 + 20 * MIN, "action_id": a("a0")},  # a second one: a0 counts once
        {"customer_id": "a1", "ts": T0 + 2 * DAY},  # within 7 days, no action id
        {"customer_id": "a2", "ts": iso_ms(T0 + 5 * MIN), "action_id": a("a2")},  # ISO time
        {"customer_id": "a3", "ts": T0 + 3 * MIN + 8 * DAY},  # more than 7 days after: not counted
        {"customer_id": "a4", "ts": T0},  # before a4's contact: not counted
        {"customer_id": "b1", "ts": T0 + 40 * MIN},  # after b1's second contact: only that one converts
        {"customer_id": "zz", "ts": T0},  # never contacted
        {"customer_id": "c9", "ts": "not a time"},  # no usable time: said in the summary
    ]


@pytest.fixture(scope="module")
def es_data(es_url):
    conns = load_connections(None, es_url)
    es = conns.es.client()
    tag = uuid.uuid4().hex[:8]
    scenario, naming = f"rpt_{tag}", Naming(f"rpt_{tag}", prefix=f"exptest{tag}-")
    ensure_index_template(conns.es, naming)  # the mapping kairos puts before a job writes detections
    conversions_index = f"exptest{tag}-conversions"
    es.indices.create(index=conversions_index, mappings={"properties": {
        "customer_id": {"type": "keyword"}, "action_id": {"type": "keyword"},
        "ts": {"type": "date", "format": "strict_date_optional_time||epoch_millis", "ignore_malformed": True}}})
    for doc in documents(scenario):
        es.index(index=naming.index, id=doc["id"], document=doc)
    for i, doc in enumerate(conversions(scenario)):
        es.index(index=conversions_index, id=str(i), document=doc)
    es.indices.refresh(index=[naming.index, conversions_index])
    yield es, scenario, naming, conversions_index
    es.indices.delete(index=[naming.index, conversions_index], ignore_unavailable=True)
    es.indices.delete_index_template(name=template_name(naming))
    es.close()


def row(report, experiment, variant):
    table = next(t for t in report.tables if t.experiment == experiment)
    return next(r for r in table.rows if r.variant == variant)


def close(interval, low, high):
    return interval is not None and math.isclose(interval.low, low, abs_tol=5e-5) and \
        math.isclose(interval.high, high, abs_tol=5e-5)


def test_rates_intervals_and_uplift(es_data):
    es, scenario, naming, conversions_index = es_data
    report = make_report(es, Options(naming.index, conversions_index, scenario, bucket_ms=HOUR))
    a, b, c = row(report, "promo", "a"), row(report, "promo", "b"), row(report, "promo", "control")
    assert (a.contacts, a.conversions) == (10, 3)  # a0 (twice: once), a1, a2; not a3 (8 d), not a4 (before)
    assert (b.contacts, b.conversions) == (10, 1)  # b1's second contact only
    assert (c.contacts, c.conversions) == (5, 0)
    # Wilson 95%: 3/10 -> [0.1078, 0.6032], 1/10 -> [0.0179, 0.4042], 0/5 -> [0, 0.4345] (textbook tables)
    assert close(a.rate, 0.107791, 0.603222) and close(b.rate, 0.017876, 0.404150) and close(c.rate, 0.0, 0.434482)
    # Newcombe: d = 0.3 - 0; low = d - sqrt((0.3 - 0.107791)^2 + (0.434482 - 0)^2), high = d + sqrt((0.603222 - 0.3)^2)
    assert math.isclose(a.uplift.estimate, 0.3) and close(a.uplift, 0.3 - 0.475099, 0.603222)
    assert c.uplift is None
    # the bandit's arms: hold-outs are no trial; x = a0..a4 (3 converted), y = a5..a9
    x, y = row(report, "pick", "x"), row(report, "pick", "y")
    assert (x.contacts, x.conversions, y.contacts, y.conversions) == (5, 3, 5, 0)
    shares = next(t for t in report.tables if t.experiment == "pick").shares
    assert shares == {T0: {"x": 4}, T0 + HOUR: {"x": 1, "y": 5}}
    assert "Not counted: 0 contact and 1 conversion documents" in report.markdown
    assert "| a | 10 | 3 | 30.00% [10.78%, 60.32%] | +30.00 pp [-17.51, +60.32] |" in report.markdown


def test_by_action_id_and_since(es_data):
    es, scenario, naming, conversions_index = es_data
    by_id = make_report(es, Options(naming.index, conversions_index, scenario, match=Match.ACTION_ID))
    assert (row(by_id, "promo", "a").conversions, row(by_id, "promo", "b").conversions) == (2, 0)  # a0, a2
    later = make_report(es, Options(naming.index, conversions_index, scenario, since_ms=T0 + HOUR))
    x, y = row(later, "pick", "x"), row(later, "pick", "y")
    assert (x.contacts, y.contacts, x.conversions) == (1, 5, 0)  # only a4..a9; a4's conversion came before
    assert [t.experiment for t in later.tables] == ["pick", "promo"]


def test_the_command_writes_markdown_html_and_plots(es_data, es_url, tmp_path):
    _, scenario, naming, conversions_index = es_data
    out = tmp_path / "report"
    done = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "report", "--es", es_url, "--scenario", scenario,
         "--prefix", naming.prefix, "--conversions", "conversions", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert "| b | 10 | 1 | 10.00% [1.79%, 40.42%] |" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["report.md", "report.html", f"rates-{scenario}-pick.png", f"rates-{scenario}-promo.png",
         f"shares-{scenario}-pick.png", f"shares-{scenario}-promo.png"])
    assert (out / f"shares-{scenario}-pick.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4 and "<td>control</td>" in page
