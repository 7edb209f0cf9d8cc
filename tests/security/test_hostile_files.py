"""Issue 17 item 1 against a real server process (`serve api`): while each hostile file is
being uploaded, `/health/live` answers within 1 s; each file gets a 4xx quickly; SIGTERM
stops the process during an attack. Files come from the generator in
tests/support/hostile_avro.py (zero-width items, huge counts, deep nesting, recursive named
types, unions, extreme values) plus a file that keeps the scanner busy for as long as the
limits allow."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from healthplatform.settings import Settings
from tests.integration.test_etl_crash import settings_env
from tests.support import processes, services
from tests.support.hostile_avro import HOSTILE, ODD, steps_with_extra_field, zz
from tests.support.services import free_port

pytestmark = pytest.mark.integration
REFUSED = {400, 413, 415, 422}
PROBE_LIMIT_S = 1.0


def busy_scan(records: int = 10, items: int = 200_000) -> bytes:
    """A writer field the reader skips, ``array<long>`` of ``items`` zeros in each of
    ``records`` records: the most the limits let through (200 k items in a record, 2 M in
    the file), so the scanner and the decoder work for as long as they may."""
    return steps_with_extra_field(
        {"type": "array", "items": "long"}, zz(items) + bytes(items) + zz(0), records
    )


@pytest.fixture
def server(embedded_settings: Settings) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["serve", "api", "--host", "127.0.0.1", "--port", str(port)]
    proc, _ = processes.start(args, settings_env(embedded_settings), f"{base}/health/live")
    try:
        yield proc, base
    finally:
        processes.kill(proc)


class Upload(threading.Thread):
    def __init__(self, base: str, token: str, data: bytes) -> None:
        super().__init__(daemon=True)
        self.base, self.token, self.data = base, token, data
        self.status: int | None = None
        self.detail = ""
        self.elapsed = 0.0

    def run(self) -> None:
        started = time.monotonic()
        try:
            response = httpx.post(
                f"{self.base}/v1/upload",
                headers={"Authorization": f"Bearer {self.token}"},
                files={"file": ("x.avro", self.data, "application/octet-stream")},
                timeout=60,
            )
            self.status = response.status_code
            self.detail = response.text
        except httpx.HTTPError as exc:
            self.detail = repr(exc)
        self.elapsed = time.monotonic() - started


def attack_with_probe(base: str, token: str, data: bytes) -> tuple[Upload, float]:
    """Upload ``data`` while probing liveness every 50 ms (at least 5 probes); the slowest
    probe's time."""
    upload = Upload(base, token, data)
    upload.start()
    slowest, probes = 0.0, 0
    with httpx.Client(timeout=PROBE_LIMIT_S * 5) as client:
        while upload.is_alive() or probes < 5:
            started = time.monotonic()
            try:
                ok = client.get(f"{base}/health/live").status_code == 200
            except httpx.HTTPError:
                ok = False
            took = time.monotonic() - started
            slowest = max(slowest, took if ok else float("inf"))
            probes += 1
            if slowest > PROBE_LIMIT_S * 5:
                break  # the server is frozen: no need to wait for the upload
            time.sleep(0.05)
    upload.join(60)
    return upload, slowest


CASES = sorted(HOSTILE) + sorted(ODD) + ["busy scan (2 M items, at the limit)"]


def _file(case: str) -> bytes:
    if case in HOSTILE:
        return HOSTILE[case](random.Random(case))
    if case in ODD:
        return ODD[case](random.Random(case))
    return busy_scan()


def test_live_within_1s_while_each_attack_runs(
    server: tuple[subprocess.Popen[bytes], str], keys: services.KeySet
) -> None:
    proc, base = server
    token = keys.mint(f"attacker-{time.time_ns()}")
    failures, timings = [], []
    for case in CASES:
        upload, slowest = attack_with_probe(base, token, _file(case))
        timings.append(f"{case}: {upload.status} in {upload.elapsed:.2f} s, probe {slowest:.3f} s")
        allowed = REFUSED | ({202} if case not in HOSTILE else set())
        if slowest > PROBE_LIMIT_S:
            failures.append(f"{case}: /health/live took {slowest:.2f} s")
        if upload.status not in allowed:
            failures.append(f"{case}: {upload.status} {upload.detail[:300]}")
        elif upload.elapsed > 10:
            failures.append(f"{case}: answered after {upload.elapsed:.1f} s")
        if proc.poll() is not None or slowest > PROBE_LIMIT_S * 5:
            failures.append("the server stopped answering")
            break
    print("\n".join(timings))
    assert not failures, "\n".join(failures + timings)


def test_issue_17_files_get_422_quickly(
    server: tuple[subprocess.Popen[bytes], str], keys: services.KeySet
) -> None:
    _, base = server
    token = keys.mint(f"attacker-{time.time_ns()}")
    for case in ("zero-size fixed metadata (issue 17)", "120M deflated booleans (issue 17)"):
        data = HOSTILE[case](random.Random(0))
        upload, slowest = attack_with_probe(base, token, data)
        assert upload.status == 422, (case, upload.status, upload.detail)
        assert upload.elapsed < 3, (case, upload.elapsed)
        assert slowest < PROBE_LIMIT_S, (case, slowest)
    assert len(HOSTILE["zero-size fixed metadata (issue 17)"](random.Random(0))) == 285


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_extreme_days_on_a_real_server(
    server: tuple[subprocess.Popen[bytes], str], keys: services.KeySet, day: str
) -> None:
    _, base = server
    token = keys.mint(f"reader-{time.time_ns()}")
    response = httpx.get(f"{base}/v1/days/{day}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (400, 404, 422), response.text
    assert response.json()["detail"]


def test_sigterm_stops_the_server_during_an_attack(
    server: tuple[subprocess.Popen[bytes], str], keys: services.KeySet
) -> None:
    proc, base = server
    token = keys.mint(f"attacker-{time.time_ns()}")
    uploads = [
        Upload(base, token, data)
        for data in (busy_scan(), HOSTILE["zero-size fixed metadata (issue 17)"](random.Random(0)))
    ]
    for upload in uploads:
        upload.start()
    time.sleep(0.3)  # both are being read
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(20)
    took = time.monotonic() - started
    assert took < 10, f"stopped after {took:.1f} s"
    assert code in (0, -signal.SIGTERM), code


async def test_sigterm_stops_up_during_an_attack(tmp_path: Path) -> None:
    """`healthplatform up` (API, auth and worker in one process) stops on SIGTERM while a
    hostile upload is being read."""
    from tests.integration.auth.conftest import AuthClient
    from tests.integration.auth.softauthn import SoftAuthenticator

    port = free_port()
    origin = f"http://localhost:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HP_")}
    env["HP_DATA_DIR"] = str(tmp_path / "data")
    proc, _ = processes.start_up(env, port)
    try:
        async with httpx.AsyncClient(base_url=origin, timeout=10) as http:
            auth = AuthClient(http, None, None)  # type: ignore[arg-type]
            device = await auth.register("mallory", SoftAuthenticator(origin=origin))
            token = (await auth.login(device))["access_token"]
        zero_width = HOSTILE["zero-size fixed metadata (issue 17)"](random.Random(0))
        upload, slowest = attack_with_probe(origin, token, zero_width)
        assert upload.status == 422 and slowest < PROBE_LIMIT_S, (upload.detail, slowest)
        uploads = [Upload(origin, token, data) for data in (busy_scan(), zero_width)]
        for one in uploads:
            one.start()
        time.sleep(0.3)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
