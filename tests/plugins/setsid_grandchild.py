#!/usr/bin/env python3
"""Throwaway plugin: starts a grandchild in a new session (sleeps 60 s, keeps our stdout and
stderr open) and prints "grandchild <pid>". Then it exits at once, or with --stay listens and
sleeps. --clear-env starts the grandchild with an empty environment (no session marker)."""

import socket
import subprocess
import sys
import time

child = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(60)"],
    start_new_session=True,
    env={} if "--clear-env" in sys.argv else None,
)
print(f"grandchild {child.pid}", flush=True)
if "--stay" in sys.argv:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sys.argv[sys.argv.index("--socket-path") + 1])
    server.listen(1)
    while True:
        time.sleep(3600)
