"""The report's intervals against published worked examples (not against this code's own output)."""

from __future__ import annotations

import math

from jobs.report.stats import difference, wilson


def test_wilson_matches_the_textbook_tables():
    # Newcombe (1998a), Statistics in Medicine 17:857, table II: 81/263 -> 0.2553 to 0.3662; 15/148 -> 0.0624 to
    # 0.1605; 0/20 -> 0 to 0.1611; 1/29 -> 0.0061 to 0.1718
    for (k, n), (low, high) in {(81, 263): (0.2553, 0.3662), (15, 148): (0.0624, 0.1605), (0, 20): (0.0, 0.1611),
                                (1, 29): (0.0061, 0.1718)}.items():
        got = wilson(k, n)
        assert math.isclose(got.low, low, abs_tol=1e-4) and math.isclose(got.high, high, abs_tol=1e-4), (k, n, got)
    assert wilson(0, 0) is None
    for n in range(1, 400):  # the bounds never cross the rate, even by rounding (matplotlib refuses that)
        for k in (0, n):
            got = wilson(k, n)
            assert got.low <= got.estimate <= got.high and (got.low == 0.0 if k == 0 else got.high == 1.0)


def test_newcombe_difference_matches_the_paper():
    # Newcombe (1998b), Statistics in Medicine 17:873, table II, method 10: 56/70 - 48/80 -> 0.0524 to 0.3339;
    # 9/10 - 3/10 -> 0.1705 to 0.8090; 5/56 - 0/29 -> -0.0381 to 0.1926
    cases = {(56, 70, 48, 80): (0.0524, 0.3339), (9, 10, 3, 10): (0.1705, 0.8090),
              (5, 56, 0, 29): (-0.0381, 0.1926)}
    for (k1, n1, k2, n2), (low, high) in cases.items():
        got = difference(k1, n1, k2, n2)
        assert math.isclose(got.low, low, abs_tol=1e-4) and math.isclose(got.high, high, abs_tol=1e-4), got
    assert difference(1, 2, 0, 0) is None
