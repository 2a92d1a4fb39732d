"""`python -m jobs.cli ...` (what cluster jobs and tests run): the same as the `kairos` script."""

import sys

from jobs.cli import main

sys.exit(main())
