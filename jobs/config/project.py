"""Where the project is: the root holding jobs/, udfs/, flink-conf/ and .cache/ (jars), as installed (-e)."""

from __future__ import annotations

import os

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
