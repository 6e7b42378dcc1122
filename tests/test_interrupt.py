"""Ctrl-C stops the children a run started (a kernel runs in a session of its own) and reports once."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = """
import subprocess, sys, time
from iclbook.interrupt import stopping_children_on_interrupt
try:
    with stopping_children_on_interrupt():
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
        print(child.pid, flush=True)
        time.sleep(60)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_sigint_stops_a_child_in_its_own_session_and_raises_keyboardinterrupt():
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
    child = int(proc.stdout.readline())
    assert Path(f"/proc/{child}").exists()
    os.kill(proc.pid, signal.SIGINT)  # what the terminal sends to the foreground group (the child is not in it)
    out, _ = proc.communicate(timeout=30)
    assert out.strip() == "interrupted" and proc.returncode == 0
    for _ in range(100):
        if not Path(f"/proc/{child}").exists():
            break
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists()
