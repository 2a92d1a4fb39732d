"""Determinism under load: the fraud example gives identical outputs when two CPU burners compete with it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .cases import BY_NAME
from .test_counters import unbalanced

# a bounded busy loop: it ends by itself after 180 s even if the finally below never runs
BURN = "import time\nend = time.monotonic() + 180\nwhile time.monotonic() < end:\n    pass\n"


@pytest.mark.flink
def test_fraud_outputs_identical_under_cpu_load(flink_run) -> None:
    case = BY_NAME["card_fraud_velocity"]
    normal = flink_run(case.scenario, case.files)
    burners = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(2)]
    try:
        loaded = flink_run(case.scenario, case.files, label="under-load")
        assert all(b.poll() is None for b in burners), "the burners must run for the whole job"
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert loaded == normal
    assert unbalanced(loaded, case) == []
