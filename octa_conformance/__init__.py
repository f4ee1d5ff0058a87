"""octa-conformance: a fake Octa host and conformance suites for Octa plugins.

The scriptable host: ``launch(plugin)`` gives a connected :class:`FakeOcta`.
"""

__version__ = "0.1.0"

from octa_conformance.config import HarnessConfig, Timeouts
from octa_conformance.host import FakeOcta, Run, RunResult, launch

__all__ = ["FakeOcta", "HarnessConfig", "Run", "RunResult", "Timeouts", "__version__", "launch"]
