"""(Re)write the expected outputs of every e2e case from the in-process harness.

    PYTHONPATH=. .venv/bin/python -m tests.e2e.regen_expected [CASE ...]

Only a starting point: read every changed record and check it is what the scenario means before
committing (git diff scenarios/*/expected tests/e2e/scenarios/*/expected).
"""

from __future__ import annotations

import sys

from tests.conftest import harness_run, write_expected
from tests.e2e.cases import ALL, BY_NAME


def main(names: list[str]) -> int:
    for case in [BY_NAME[n] for n in names] if names else ALL:
        write_expected(case.expected, harness_run(case.scenario, case.files, case.references))
        print(f"{case.name}: wrote {case.expected}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
