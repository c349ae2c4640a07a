"""``python -m contract_tests``: the same as ``chatimg-contract``."""

import sys

from .cli import main

sys.exit(main())
