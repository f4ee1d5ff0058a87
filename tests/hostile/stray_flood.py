#!/usr/bin/env python3
"""Hostile plugin: answers its first Execute with Started, then 300,000 Stdout frames for an
id that no Started ever named, then runs the command as the example plugin does.

Every stray frame is a protocol violation (unknown id). The host must keep its memory
bounded (it keeps the first and the last violations of each kind and counts the rest), and
none may be dropped without a word: the host parses the flood's first 20,000 lines (each a
violation, counted), then skims the rest and says in the transcript how many lines it
skipped unread, while the command's own frames and its terminal frame still arrive.
"""

from hostile_base import first_execute_flood, serve

if __name__ == "__main__":
    serve(first_execute_flood(300_000, b"stray", stray_id="stray-flood"))
