"""The local start as a person meets it (issue 19, item 9): `healthplatform up` prints
readable text and one "running at http://localhost:PORT" line (never uvicorn's 127.0.0.1
URL, where passkeys fail); a taken port is one readable line and exit code 1; and
`healthplatform token --username NAME` issues a token the README's curl examples can use."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.auth.conftest import AuthClient
from tests.integration.auth.softauthn import SoftAuthenticator
from tests.support.processes import EXE
from tests.support.services import free_port

pytestmark = pytest.mark.integration


def local_env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HP_")}
    env["HP_DATA_DIR"] = str(data)
    env["COLUMNS"] = "200"
    return env


def test_taken_port_is_one_readable_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run(
            [EXE, "up", "--port", str(port)],
            env=local_env(tmp_path / "data"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert f"port {port} is already in use" in lines[0]
    assert f"make run PORT={port + 1}" in lines[0]
    assert "running at" not in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists(), "nothing starts before the port is ours"


def test_up_announces_localhost_and_token_works_with_curl_calls(tmp_path: Path) -> None:
    port = free_port()
    origin = f"http://localhost:{port}"
    env = local_env(tmp_path / "data")
    log = tmp_path / "up.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [EXE, "up", "--port", str(port)], env=env, stdout=err, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while "running at" not in log.read_text():
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            with httpx.Client(base_url=origin, timeout=10) as http:
                import asyncio

                async def sign_up() -> None:
                    async with httpx.AsyncClient(base_url=origin, timeout=10) as client:
                        await AuthClient(client, None, None).register(  # type: ignore[arg-type]
                            "alice", SoftAuthenticator(origin=origin)
                        )

                asyncio.run(sign_up())
                issued = subprocess.run(
                    [EXE, "token", "--username", "alice"],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert issued.returncode == 0, issued.stderr
                token = issued.stdout.strip()
                assert token.count(".") == 2 and "\n" not in token
                assert "valid" in issued.stderr
                bearer = {"Authorization": f"Bearer {token}"}
                # the README's curl examples
                assert http.get("/v1/upload/history?limit=20", headers=bearer).status_code == 200
                assert http.get("/v1/me/timezone", headers=bearer).status_code == 200
                assert http.get("/v1/days", headers=bearer).json() == {"days": []}
                assert http.get("/v1/upload/history").status_code == 401
                # it is a device session the account page lists (and can revoke)
                devices = http.get("/devices", headers=bearer)
                assert devices.status_code == 200, devices.text
                assert "Command line" in devices.text
            # without real samples, `demo` loads the labelled synthetic week, once
            empty = tmp_path / "no-samples"
            empty.mkdir()
            demo = [EXE, "demo", "--username", "alice", "--samples", str(empty)]
            demo.extend(["--port", str(port)])
            runs = [
                subprocess.run(demo, env=env, capture_output=True, text=True, timeout=120)
                for _ in range(2)
            ]
            assert all(r.returncode == 0 for r in runs), runs
            assert "synthetic sample week" in runs[0].stderr
            assert "35 new uploads, 0 already there" in runs[0].stderr, runs[0].stderr
            assert "0 new uploads, 35 already there" in runs[1].stderr, runs[1].stderr
            with httpx.Client(base_url=origin, timeout=10) as http:
                history = http.get("/v1/upload/history?limit=100", headers=bearer).json()
            assert history["pagination"]["total"] == 35
            assert {u["description"] for u in history["uploads"]} == {
                "Sample data (synthetic, not yours)"
            }
            unknown = subprocess.run(
                [EXE, "token", "--username", "nobody"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert unknown.returncode == 1
            assert "no account named 'nobody'" in unknown.stderr and not unknown.stdout
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(20) == 0
    text = log.read_text()
    running = [line for line in text.splitlines() if "running at" in line]
    assert len(running) == 1 and f"running at {origin}" in running[0], text
    assert "127.0.0.1" not in text, text
    assert not any(line.lstrip().startswith("{") for line in text.splitlines()), text
