#!/usr/bin/env python3
"""Hostile plugin: starts, says so on stderr, and never creates its socket at all.

The harness must give up connecting after the 5 s connect deadline (as Octa does) and say
that nothing was listening, quoting what the plugin printed.
"""

import sys
import time

sys.stderr.write("never_listens: up, but I will not listen on any socket\n")
sys.stderr.flush()
while True:
    time.sleep(3600)
