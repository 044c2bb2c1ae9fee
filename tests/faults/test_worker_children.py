"""`crmflow worker --concurrency N`: the children exit when the parent is killed."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found += [int(p) for p in text.split()]
    return found


def _exits_within(pid: int, seconds: float) -> bool:
    """Wait (in the kernel, via a pidfd) until ``pid`` exits; False on timeout."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _w, _x = select.select([fd], [], [], seconds)
        return bool(ready)
    finally:
        os.close(fd)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_children_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    script = str(Path(sys.executable).with_name("crmflow"))
    url = f"sqlite:///{tmp_path / 'w.sqlite3'}"
    subprocess.run([script, "--db", url, "migrate"], check=True, capture_output=True)
    parent = subprocess.Popen(
        [script, "-v", "--db", url, "worker", "--concurrency", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert parent.stderr is not None
    try:
        started = 0
        for line in parent.stderr:  # the children log "worker ... started"
            started += " started" in line and "crmflow.worker" in line
            if started == 2:
                break
        kids = _children(parent.pid)
        assert len(kids) == 2
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert all(_exits_within(k, 30) for k in kids), "children outlived their parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stderr.close()
