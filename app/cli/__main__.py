"""`python -m app.cli`: the same entry point as the `paradup` console script."""

import sys

from app.cli import main

sys.exit(main())
