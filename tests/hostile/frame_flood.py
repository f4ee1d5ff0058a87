#!/usr/bin/env python3
"""Hostile plugin: answers its first Execute with Started and then a million Stdout frames.

After the flood it runs the command as the example plugin does, so the command's real output
comes after a million "flood" lines; later Executes are served normally (a flood costs the
host seconds of parsing). The host must survive the flood with bounded memory (it keeps a
bounded number of frames per execution) and report the wrong output.
"""

from hostile_base import first_execute_flood, serve

if __name__ == "__main__":
    serve(first_execute_flood(1_000_000, b"flood"))
