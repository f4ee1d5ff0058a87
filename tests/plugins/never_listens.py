#!/usr/bin/env python3
"""Throwaway plugin: never listens on its socket; with --ignore-term it also ignores SIGTERM."""

import signal
import sys
import time

if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
sys.stderr.write("never_listens: starting, will not listen\n")
sys.stderr.write("never_listens: ready\n")
sys.stderr.flush()
while True:
    time.sleep(3600)
