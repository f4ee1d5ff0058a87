#!/usr/bin/env python3
"""Hostile plugin: listens with a backlog of 0 and never calls accept() nor reads.

The kernel completes the first connect() on its own (it queues it for accept), so the host
connects and sends Hello, which is never read: the Hello reply must time out. Further
connections beyond the backlog are refused or hang in connect().
"""

import time

from hostile_base import unix_socket

sock = unix_socket(listen=0)
while True:
    time.sleep(3600)
