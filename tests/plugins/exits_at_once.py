#!/usr/bin/env python3
"""Throwaway plugin: complains on stderr and exits with status 3 before listening."""

import sys

sys.stderr.write("exits_at_once: cannot frobnicate the socket\n")
sys.exit(3)
