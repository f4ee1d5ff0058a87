"""``python -m octa_conformance.cli``: the same as ``octa-conform``."""

import sys

from octa_conformance.cli import main

sys.exit(main())
