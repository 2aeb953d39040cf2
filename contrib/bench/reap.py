#!/usr/bin/env python3
"""reap.py CMD...: runs CMD as a child subreaper and, once it has exited, waits
for every process reparented to it (say, the monitor of a `run -d` container
deleted by CMD), so that none is left a zombie (PID 1 here does not reap).
Exits with CMD's status."""
import ctypes
import os
import subprocess
import sys

if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit(f"reap.py: prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")
rc = subprocess.call(sys.argv[1:])
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
sys.exit(rc)
