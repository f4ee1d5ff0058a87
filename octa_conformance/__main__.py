"""``python -m octa_conformance``: the ``octa-conform`` command."""

import sys

from octa_conformance.cli import main

sys.exit(main())
