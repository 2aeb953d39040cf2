#!/usr/bin/env python3
"""reap.py CMD...: runs CMD as a child subreaper and reaps every process
reparented to it (say, the monitor of a `run -d` container deleted by CMD) until
CMD and all of them have exited, so that none is left a zombie (PID 1 here does
not reap).  Exits with CMD's status."""
import ctypes
import os
import subprocess
import sys

if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit(f"reap.py: prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")
# Orphans are reaped as they come, not only at the end: a zombie keeps its
# credentials, and a container init's hold its session keyring, which count
# against the user's key quota (200) until reaped.
cmd = subprocess.Popen(sys.argv[1:])
rc = 1
while True:
    try:
        pid, status = os.wait()
    except ChildProcessError:
        break
    if pid == cmd.pid:
        code = os.waitstatus_to_exitcode(status)
        rc = code if code >= 0 else 128 - code
sys.exit(rc)
