"""octa-conformance: a fake Octa host and conformance suites for Octa plugins."""

__version__ = "0.1.0"
