"""``python -m deepfit ...``: the same command line as ``deepfit ...``."""

from __future__ import annotations

import sys

from deepfit.cli import main

if __name__ == "__main__":
    sys.exit(main())
