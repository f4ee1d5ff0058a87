"""Whether Octa loads a plugin, judged from the version requirement of its ``Hello``
(docs/protocol.md §5), step by step as Octa 0.2.1 decides:

1. the plugin must answer ``Hello`` with ``Hello`` (an ``Error``, another frame or a closed
   connection and the load fails);
2. the requirement must parse (``VersionReq::parse``; Octa 0.2.1 unwraps the result, so an
   unparsable requirement crashes Octa itself);
3. Octa's own version must match it (``VersionReq::matches``), otherwise "Version mismatch".

Cargo rules (:mod:`octa_conformance.semver`), not npm's: a bare ``"0.2.1"`` means ``^0.2.1``.
The version checks (``suites/test_version.py``) and ``octa-conform session`` both judge with
:func:`octa_accepts`.
"""

from __future__ import annotations

from octa_conformance.semver import parse_requirement


def octa_accepts(requirement: str | None, version: str) -> tuple[bool, str]:
    """Whether Octa ``version`` loads a plugin whose Hello carried ``requirement``, and why.

    ``requirement`` is None when the plugin gave no (well-formed) Hello response.
    """
    if requirement is None:
        return False, "no Hello response: the plugin fails to load"
    try:
        req = parse_requirement(requirement)
    except ValueError as e:
        return False, f"the requirement does not parse, Octa 0.2.1 panics ({e})"
    if not req.matches(version):
        return False, f"Version mismatch: the plugin requires {requirement!r}, Octa is {version}"
    return True, f"{requirement!r} matches {version}"
