"""The product's own command (`healthplatform ...`) as a process of a test: started, waited
for until it answers, stopped the way a person or Kubernetes stops it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

EXE = str(Path(sys.executable).parent / "healthplatform")


def start(
    args: list[str], env: dict[str, str], ready_url: str, *, timeout: float = 60
) -> tuple[subprocess.Popen[bytes], float]:
    """``healthplatform <args>``, once ``ready_url`` answers 200; also the seconds that took.
    A process that exits first fails the test with its stderr."""
    proc = subprocess.Popen(
        [EXE, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if httpx.get(ready_url, timeout=1).status_code == 200:
                return proc, time.monotonic() - started
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else "exited")
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"{' '.join(args)}: not ready after {timeout:.0f} s")


def start_up(env: dict[str, str], port: int) -> tuple[subprocess.Popen[bytes], float]:
    """`healthplatform up` on ``port``, once it is ready."""
    return start(["up", "--port", str(port)], env, f"http://localhost:{port}/health/ready")


def interrupt(proc: subprocess.Popen[bytes]) -> int:
    """What Ctrl-C sends; the exit code."""
    proc.send_signal(signal.SIGINT)
    return proc.wait(20)


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
