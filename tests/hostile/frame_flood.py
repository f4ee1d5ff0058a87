#!/usr/bin/env python3
"""Hostile plugin: answers its first Execute with Started and then a million Stdout frames.

After the flood it runs the command as the example plugin does, so the command's real output
comes after a million "flood" lines; later Executes are served normally. The host must
survive the flood with bounded memory and time (it parses the flood's first lines, skims
the rest and says so, and still reads the terminal frame) and report the wrong output.
"""

from hostile_base import first_execute_flood, serve

if __name__ == "__main__":
    serve(first_execute_flood(1_000_000, b"flood"))
