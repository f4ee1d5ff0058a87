"""The run's root cause: when the first handshake failed, why (the plugin does not start, or
does not handshake), found by launching it once more."""

from __future__ import annotations

import asyncio
import shlex

from octa_conformance.context import PluginInfo
from octa_conformance.errors import LaunchError, OctaConformanceError
from octa_conformance.host import FakeOcta
from octa_conformance.protocol import Dialect
from octa_conformance.results import CAUSE_HANDSHAKE, CAUSE_LAUNCH, RootCause
from octa_conformance.settings import RunOptions
from octa_conformance.supervisor import PluginProcess


class NotRun(OctaConformanceError):
    """A check not run because of the run's root cause (the plugin cannot be started)."""


def root_cause(options: RunOptions, info: PluginInfo) -> RootCause | None:
    """Why the first handshake failed, if it did: the plugin does not start (``launch``:
    checks are not run) or does not handshake (``handshake``: checks that fail the same
    way are marked). A plugin whose first handshake failed is launched once more to tell
    the two apart (and to confirm it); None when that second try works."""
    if info.key is not None or not info.error:
        return None
    first = info.error.splitlines()[0]
    if info.hello is not None:  # it started and answered Hello: the Schema step failed
        return RootCause(CAUSE_HANDSHAKE, first)
    return asyncio.run(_diagnose(options, first))


async def _diagnose(options: RunOptions, first_error: str) -> RootCause | None:
    config = options.harness_config()
    try:
        process = PluginProcess.spawn(options.plugin, config=config, extra_args=config.plugin_args)
    except LaunchError as e:
        return RootCause(CAUSE_LAUNCH, e.headline, str(options.plugin), e.output)
    command = shlex.join(process.argv)
    handshaken = False
    try:
        try:
            host = await FakeOcta.connect(
                process, config=config, dialect=Dialect.for_octa_version(options.octa_version)
            )
        except LaunchError as e:
            return RootCause(CAUSE_LAUNCH, e.headline, command, e.output)
        try:
            await host.hello()
            await host.schema()
            handshaken = True
        except OctaConformanceError:
            pass
        finally:
            await host.close()
    finally:
        await process.stop()
    if handshaken:
        return None  # it works now: no root cause to name
    return RootCause(CAUSE_HANDSHAKE, first_error, command, process.output_excerpt(1500))
