"""Start and stop the servers the deployment tests run on loopback (SuperLink, Caddy, SuperNode)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_with_bin(**extra: str) -> dict[str, str]:
    """The environment with the virtualenv's bin first (SuperLink starts flower-superexec)."""
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, **extra}


def _children_by_parent_pid(pid: int) -> list[int]:
    """Flower's detached helpers (``--parent-pid PID``), which live in their own session."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--parent-pid" in argv and argv[argv.index(b"--parent-pid") + 1:][:1] == [
                str(pid).encode()]:
            found.append(int(proc.name))
    return found


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited


class Server:
    """A process in its own session, logging to a file, stopped with its helpers."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str], cwd: Path) -> None:
        self.log = log
        self._fh = log.open("wb")
        self.proc = subprocess.Popen(argv, stdout=self._fh, stderr=subprocess.STDOUT, env=env,
                                     cwd=cwd, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> float:
        """Poll ``ready`` until true; the seconds it took. Fails if the process exits."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if ready():
                return time.monotonic() - start
            if self.proc.poll() is not None:
                raise AssertionError(f"{what} exited ({self.proc.returncode}):\n{self.output()}")
            time.sleep(0.25)
        raise AssertionError(f"{what} not ready after {timeout:.0f} s:\n{self.output()}")

    def stop(self) -> None:
        helpers = _children_by_parent_pid(self.proc.pid)
        for pid in [self.proc.pid, *helpers]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(pid), signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        deadline = time.monotonic() + 10
        for pid in helpers:
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        self._fh.close()
