"""Fixtures of the MES tests: a Mosquitto broker on a free port, engines with MES mappings."""

from __future__ import annotations

import getpass
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

MOSQUITTO = Path("/usr/sbin/mosquitto")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    condition: Callable[[], Any],
    timeout: float,
    what: str,
    state: Callable[[], Any] | None = None,
) -> Any:
    """Poll ``condition`` until it is truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            seen = f" (now: {state()})" if state is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{seen}")
        pause.wait(0.02)


class Broker:
    """A Mosquitto process with persistence, so a restart keeps sessions and queues."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {folder}/\n"
            "max_queued_messages 0\nmax_inflight_messages 0\n"
            "log_type none\n"
            # started as root, mosquitto would switch to the `mosquitto` user, which cannot
            # write its persistence file into our temporary folder: stay who we are
            f"user {getpass.getuser()}\n",
            encoding="utf-8",
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._accepts, 10, f"mosquitto on port {self.port}")

    def _accepts(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, "mosquitto exited"
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: mosquitto saves its persistence file
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    if not MOSQUITTO.exists():
        pytest.fail("mosquitto is not installed (.ci/run installs the Debian package)")
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()
