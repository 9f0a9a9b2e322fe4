"""Entry point: `python -m tools.bench [--quick] [--only ...] [--json P] ...`."""

import sys

from tools.bench.cli import main

sys.exit(main())
