"""Version compatibility (docs/protocol.md §4.1, §5).

A plugin never decides whether it is compatible with Octa: it answers every ``Hello`` with
its *version requirement*, a Cargo semver requirement on Octa's version, and Octa decides.
``octa_accepts`` (``octa_conformance.compatibility``) is that decision, step by step as Octa
0.2.1 takes it:

1. the plugin must answer ``Hello`` with ``Hello`` (an ``Error``, another frame or a closed
   connection and the load fails);
2. the requirement must parse (``VersionReq::parse``; Octa 0.2.1 unwraps the result, so an
   unparsable requirement crashes Octa itself);
3. Octa's own version must match it (``VersionReq::matches``) — otherwise "Version mismatch".

Cargo rules, not npm's: a bare ``"0.2.1"`` means ``^0.2.1``, i.e. ``>=0.2.1, <0.3.0``. A
rejected plugin gets no ``Execute``: Octa sends ``Shutdown`` right after the plugin's
``Hello``, waits up to 5 s for the next frame (``Shutdown{message}``, or an ``Error``: the
SDK, still expecting ``Schema``, answers ``Error{protocol_error, "Expected Schema command"}``,
which Octa takes as a failed shutdown), then 1 s for the process to exit, then kills it with
SIGKILL. Either answer is fine for Octa; acknowledging ``Shutdown`` in every stage is judged by
``shutdown.in-any-stage``, the exit status by the other ``shutdown.*`` checks. What matters
here: the plugin answers ``Hello`` whatever version the host announced, does not crash on it,
and leaves no process behind once it is gone, by itself or killed.

The checks here pretend to be other Octa versions, derived from the plugin's requirement
(``semver.probe_versions``). They talk in the dialect the plugin's own ``Hello`` used: the
dialect is checked once, by ``handshake.hello-reply``.
"""

from __future__ import annotations

import asyncio
import signal

import psutil
import pytest

from octa_conformance.checking import check, expect, fail
from octa_conformance.compatibility import octa_accepts
from octa_conformance.context import CheckContext
from octa_conformance.host import FakeOcta
from octa_conformance.protocol import (
    Event,
    HelloCommand,
    HelloReply,
    Received,
    SchemaCommand,
    SchemaReply,
    ShutdownCommand,
    ShutdownReply,
)
from octa_conformance.semver import (
    Requirement,
    bounds,
    is_unbounded_above,
    parse_requirement,
    probe_versions,
)
from octa_conformance.suite_helpers import (
    expect_echoed,
    expect_reply,
    launch_in_plugin_dialect,
    reply_to,
)
from octa_conformance.supervisor import PluginProcess, describe_status
from octa_conformance.wording import describe_processes, describe_reply

# The Octa versions of the published compatibility matrix (the target is added to them).
MATRIX_VERSIONS = ("0.1.0", "0.2.0", "0.2.1", "0.3.0", "1.0.0")


# --- helpers ----------------------------------------------------------------------------


def usable_requirement(octa: CheckContext) -> tuple[str, Requirement]:
    """The requirement the plugin declared to the target version; skip if there is none."""
    text = octa.info.requirement
    if text is None:
        pytest.skip(
            "the plugin gave no Hello response to derive host versions from"
            f" ({octa.info.error or 'no reply'}); see handshake.hello-reply"
        )
    try:
        return text, parse_requirement(text)
    except ValueError as e:
        pytest.skip(
            f"the plugin's requirement does not parse ({e}); see handshake.requirement-parses"
        )


async def launch_as(octa: CheckContext, version: str) -> FakeOcta:
    """A fresh plugin, connected to a host that will announce Octa ``version``."""
    return await launch_in_plugin_dialect(octa, label=f"host announcing Octa {version}")


async def run_all(coros: list) -> None:
    """Run the per-version probes concurrently; raise the first failure in version order."""
    for outcome in await asyncio.gather(*coros, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome


def crash(status: int, answered: bool) -> bool:
    """Whether a plugin that ended by itself with ``status`` crashed.

    A death by a signal (the host sends none before its SIGKILL) always is; a non-zero status
    is when the plugin ended without answering Octa's ``Shutdown``: it died on the ``Hello``
    of an unfamiliar version, or on its way out before saying anything. A plugin that
    answered and then exits with a non-zero status went quietly as far as Octa can tell (the
    status itself is ``shutdown.exit-status``'s concern).
    """
    return status < 0 or (status != 0 and not answered)


async def gone(octa: CheckContext, process: PluginProcess) -> list[psutil.Process]:
    """What the plugin left running once it has ended (polled for ``timeouts.exit``: a helper
    it told to stop may take a moment to go; a process's death cannot be awaited here)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + octa.timeouts.exit
    while (left := process.descendants()) and loop.time() < deadline:
        await asyncio.sleep(octa.timeouts.poll * 4)
    return left


def exit_window(octa: CheckContext, process: PluginProcess, answer: Event | None) -> float:
    """How long the rejected plugin gets to exit by itself before it is killed, as Octa
    kills it after ``timeouts.exit``.

    Octa's whole second, unless the plugin refused the ``Shutdown`` (answered it with another
    frame, as the SDK does with its "Expected Schema command" error) and has nothing running:
    such a plugin is not shutting down, it waits for its next command, and whether it is
    killed now or a second later changes nothing the check looks at (no process can be left
    behind, and a crash on the refused ``Shutdown`` shows at once). It then gets a tenth of
    Octa's window, so that an SDK-like plugin costs the check 0.1 s instead of 1 s.
    """
    refused = isinstance(answer, Received) and not isinstance(answer.frame, ShutdownReply)
    if refused and process.returncode is None and not process.descendants():
        return octa.timeouts.exit / 10
    return octa.timeouts.exit


async def offer_incompatible(octa: CheckContext, declared: str, version: str) -> None:
    """Announce ``version`` (outside the requirement) and reject the plugin as Octa does.

    Octa sends ``Shutdown`` right after the plugin's ``Hello``, waits up to
    ``timeouts.shutdown_reply`` for any answer, ``timeouts.exit`` for the process to end, then
    SIGKILLs it. The answer is not judged (``shutdown.in-any-stage`` does); the ``Hello``, a
    crash and what is left behind are.
    """
    host = await launch_as(octa, version)
    process = host.process
    assert process is not None
    hello = await expect_reply(
        host,
        HelloCommand(version),
        HelloReply,
        f"a Hello response to a host announcing Octa {version} (outside the requirement"
        f" {declared!r}), so that Octa can report the mismatch itself",
        "answer every Hello with your requirement whatever version the host announces:"
        " compatibility is Octa's decision (§4.1); a refused or crashed handshake hides the"
        " 'Version mismatch' diagnosis, and a host version you do not know is no error",
        await_exit=True,
    )
    accepted, reason = octa_accepts(hello.version, version)
    if accepted:
        fail(
            f"Octa {version} to reject the plugin: it is outside the requirement {declared!r}"
            f" that the plugin declared to Octa {octa.target}",
            f"to Octa {version} the plugin declared {hello.version!r} ({reason}): Octa"
            f" {version} would load it and send it commands",
            "declare one fixed requirement, whatever version the host announces",
        )
    # Rejected: no Execute, only Shutdown. Any answer (Shutdown, Error...) ends Octa's wait.
    ev = await reply_to(host, ShutdownCommand(), octa.timeouts.shutdown_reply)
    answered = isinstance(ev, Received)
    status = await process.wait_exit(exit_window(octa, process, ev))
    killed = status is None
    if killed:  # what Octa does after its 1 s; costs Octa time, judged by shutdown.in-any-stage
        process.send_signal(signal.SIGKILL)
        status = await process.wait_exit(octa.timeouts.kill_grace)
        expect(status is not None, "the plugin process to die of SIGKILL", "it is still running")
    elif crash(status, answered):
        fail(
            f"the plugin to go quietly when Octa {version} rejects it: answer Hello, then end"
            " when told Shutdown (or be killed after Octa's 1 s), without crashing",
            f"the plugin process ended by itself with {describe_status(status)}"
            + (
                f" after answering Octa's Shutdown with {describe_reply(host, ev)}"
                if answered
                else " without answering Octa's Shutdown"
                + (f" ({describe_reply(host, ev, octa.timeouts.shutdown_reply)})" if ev else "")
            )
            + (f"; its output: {out}" if (out := process.output_excerpt(600)) else ""),
            "a host version you do not know is no error: answer Hello with your requirement"
            " and keep serving the session; Octa decides compatibility and then sends Shutdown",
        )
    leftovers = await gone(octa, process)
    expect(
        not leftovers,
        f"no process started by the plugin still alive once it is gone (host Octa {version},"
        " rejected, so no command ever ran)",
        lambda: (
            f"{describe_processes(leftovers, limit=120)} survived the plugin"
            + (
                f" (killed with SIGKILL after not exiting within {octa.timeouts.exit:.1f} s,"
                " as Octa does)"
                if killed
                else ""
            )
        ),
        "whatever the plugin starts must end with it: stop helper processes on Shutdown"
        " (and on SIGTERM/SIGINT) before exiting, or do not start them before the handshake"
        " is complete; Octa only kills the plugin process itself",
    )


async def offer_compatible(octa: CheckContext, declared: str, version: str) -> None:
    """Announce ``version`` (inside the requirement); Octa must load the plugin and use it."""
    host = await launch_as(octa, version)
    hello = await expect_reply(
        host,
        HelloCommand(version),
        HelloReply,
        f"a Hello response to a host announcing Octa {version}, which the plugin's"
        f" requirement {declared!r} accepts",
        "answer every Hello with your requirement whatever version the host announces",
        await_exit=True,
    )
    accepted, reason = octa_accepts(hello.version, version)
    expect(
        accepted,
        f"Octa {version} to load the plugin ({declared!r}, declared to Octa {octa.target},"
        f" accepts {version})",
        f"to Octa {version} the plugin declared {hello.version!r}: {reason}",
        "declare one fixed requirement, whatever version the host announces",
    )
    await expect_reply(
        host,
        SchemaCommand(),
        SchemaReply,
        f"a Schema{{key}} response to the Schema of Octa {version}",
        "the handshake must work the same for every host version your requirement accepts",
        await_exit=True,
    )
    if octa.has_probe("echo"):
        text = f"loaded-by-octa-{version}"
        result = await host.run(octa.probe("echo", text=text), dir=str(octa.scratch()))
        expect_echoed(
            result, text, f"the echo probe, run by Octa {version}, to print {text!r} and exit 0"
        )


# --- checks -----------------------------------------------------------------------------


@check(
    "version.incompatible-host-rejected",
    "MUST",
    section="4.1, 5, 7",
    summary=(
        "the harness offers host versions outside the plugin's requirement (derived from it: just "
        "below, just above, next major); for each, the fake host rejects the plugin exactly as "
        "Octa does (its `Shutdown` right after the plugin's `Hello`), no `Execute` is possible, "
        "and the plugin process ends, by itself or killed by the host after Octa's 1 s, leaving no "
        "process of its tree and without crashing on the unfamiliar version. **Answering that "
        "`Shutdown` with an `Error` passes this check** (the SDK does; §7): it is judged by "
        "`shutdown.in-any-stage`"
    ),
)
async def test_incompatible_host_rejected(octa: CheckContext) -> None:
    """Host versions outside the requirement (just below, just above, next major) are
    rejected as Octa rejects them (``Shutdown`` right after the plugin's ``Hello``, no
    ``Execute``); the plugin ends, by itself or killed after Octa's 1 s, without crashing and
    leaving no process of its tree. A plugin that refuses the ``Shutdown`` while nothing of
    it runs is killed after a tenth of Octa's second (``exit_window``).

    Each version gets a fresh plugin (concurrently), and each must still answer ``Hello`` with
    a requirement that excludes it: a plugin that adapts its answer to the host's version, or
    that refuses, crashes or hangs on a version it does not know, fails. Answering the
    ``Shutdown`` with an ``Error`` (as the SDK does) passes: ``shutdown.in-any-stage`` judges it.
    """
    declared, req = usable_requirement(octa)
    versions = [str(v) for v in probe_versions(req)["rejected"]]
    if not versions:
        octa.note(f"{declared!r} accepts every release: no incompatible host version exists")
        return
    await run_all([offer_incompatible(octa, declared, v) for v in versions])


@check(
    "version.compatible-host-accepted",
    "MUST",
    section="5",
    summary="versions inside the requirement (lowest matching, target) are accepted",
)
async def test_compatible_host_accepted(octa: CheckContext) -> None:
    """Versions inside the requirement (the lowest matching ones and the target) are accepted:
    the handshake works and a command runs (echo probe, if configured)."""
    declared, req = usable_requirement(octa)
    versions = [str(v) for v in probe_versions(req)["accepted"]]
    if req.matches(octa.target) and octa.target not in versions:
        versions.append(octa.target)
    if not versions:
        fail(
            "a requirement that some Octa release matches",
            f"{declared!r} matches no release version: no Octa can ever load the plugin",
        )
    await run_all([offer_compatible(octa, declared, v) for v in versions])


@check(
    "version.no-wildcard",
    "SHOULD",
    section="5",
    summary=(
        "the requirement is not `*` or unbounded above (it would claim compatibility with every "
        "future Octa major)"
    ),
)
async def test_no_wildcard(octa: CheckContext) -> None:
    """The requirement is not ``*`` nor unbounded above."""
    declared, req = usable_requirement(octa)
    if is_unbounded_above(req):
        lowest = bounds(req).lowest
        majors = f"{lowest.major + 1}.0.0, {lowest.major + 2}.0.0" if lowest else "every major"
        fail(
            "a requirement with an upper bound, e.g. '>=0.2.1, <0.3.0' or '0.2.1' (which"
            " Cargo reads as ^0.2.1, i.e. >=0.2.1, <0.3.0)",
            f"{declared!r}, which accepts every Octa from {lowest} on, including {majors}"
            " and any version not written yet",
            "Octa checks nothing but this requirement before using the plugin: a future Octa"
            " whose protocol changed (a new major, or a new 0.x minor) would load it anyway,"
            " and the user would get confusing failures mid-run instead of a clear 'Version"
            " mismatch'. Bound it below the next breaking Octa version",
        )


@check(
    "version.matrix",
    "INFO",
    section="5",
    summary=(
        "the verdict for each Octa version in a published list (0.1.0, 0.2.0, 0.2.1, 0.3.0, 1.0.0 "
        "and the target)"
    ),
)
async def test_matrix(octa: CheckContext) -> None:
    """The verdict for each Octa version of the published list and the target."""
    requirement = octa.info.requirement
    versions = list(dict.fromkeys([*MATRIX_VERSIONS, octa.target]))
    verdicts = {v: octa_accepts(requirement, v) for v in versions}
    octa.figure(
        requirement=requirement,
        matrix={v: "accepted" if ok else "rejected" for v, (ok, _) in verdicts.items()},
        reasons={v: why for v, (_, why) in verdicts.items()},
    )


@check(
    "version.dialect",
    "INFO",
    section="3",
    summary=(
        "which dialect the plugin's responses use (`0.2.0` internally tagged, `0.2.1` adjacently "
        "tagged); a mismatch with the target dialect fails `handshake.hello-reply`"
    ),
)
async def test_dialect(octa: CheckContext) -> None:
    """Which dialect the plugin's responses use, and whether it is the target's."""
    seen = octa.info.dialect
    octa.figure(
        dialect=seen.value if seen else None,
        target_dialect=octa.dialect.value,
        matches_target=seen is octa.dialect,
        tagging=None if seen is None else ("adjacent" if seen.adjacent else "internal"),
    )
