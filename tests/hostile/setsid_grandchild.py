#!/usr/bin/env python3
"""Hostile plugin: forks a grandchild that calls setsid(), ignores every signal it can and
keeps the plugin's stdout and stderr open forever; then behaves like the example plugin.

The grandchild has left the plugin's process group and session, so killing the group does
not reach it, and the plugin's output pipes never reach EOF while it lives. The harness must
still find it (session marker, subreaper), kill it (SIGKILL cannot be ignored) and never block
on the pipes it holds.
"""

import os
import signal
import time

from hostile_base import serve


def grandchild() -> None:
    os.setsid()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1):
        signal.signal(sig, signal.SIG_IGN)
    print(f"setsid_grandchild: grandchild {os.getpid()} holding stdout", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    if os.fork() == 0:
        grandchild()
        os._exit(0)
    serve()
