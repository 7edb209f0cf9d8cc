"""The web app end to end in a real browser (Debian Chromium, a CDP virtual authenticator):
the whole platform (auth + Health API + web app + ETL worker) on one origin, driven through
the screens: sign up, sign out, usernameless sign in, upload of the sample files, history
until every upload completed, the day view of 2025-09-20 with its journal and SVG charts,
account (passkeys, devices), export and delete my data. Missing Chromium or Node fails the
test (scripts/ensure-browser.sh installs them)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from healthplatform.apps.api import create_app
from healthplatform.auth.app import create_auth_app
from healthplatform.auth.settings import AuthSettings
from healthplatform.db.migrate import AUTH, HEALTH
from healthplatform.etl.worker import Worker
from healthplatform.gateway.local import LocalGateway
from healthplatform.settings import Settings
from healthplatform.web import install as install_web
from healthplatform.web.routes import CONTENT_SECURITY_POLICY
from tests.conftest import SAMPLES, SAMPLES_ERROR
from tests.e2e.browser import ARTIFACT_ROOT, run_script
from tests.integration.auth.servers import serve
from tests.support.services import free_port

ARTIFACTS = ARTIFACT_ROOT / "webapp"
DAY = "2025-09-20"


class Platform:
    """What `healthplatform up` serves, in this process: the local gateway (passkey paths to
    the auth service, everything else to the API, which serves the web app) plus the ETL
    worker on the API's resources, started and stopped with the lifespan."""

    def __init__(self, settings: Settings, auth_settings: AuthSettings) -> None:
        self.settings = settings
        self.api = create_app(settings)
        install_web(self.api)  # a no-op once create_app includes the web router
        self.gateway = LocalGateway(self.api, create_auth_app(auth_settings))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.gateway(scope, receive, send)
            return
        stop = asyncio.Event()
        worker: asyncio.Task[None] | None = None

        async def send_with_worker(message: Message) -> None:
            nonlocal worker
            if message["type"] == "lifespan.startup.complete":
                consumer = Worker.from_settings(self.settings, self.api.state.resources)
                worker = asyncio.create_task(consumer.run(stop))
            await send(message)

        async def receive_with_worker() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown" and worker is not None:
                stop.set()
                await worker
            return message

        await self.gateway(scope, receive_with_worker, send_with_worker)


def platform_settings(data_dir: Path, port: int) -> tuple[Settings, AuthSettings]:
    """As `healthplatform up` (apps.local.local_settings) makes them for http://localhost:<port>."""
    auth_settings = AuthSettings(
        data_dir=data_dir,
        rp_id="localhost",
        rp_name="Health Platform (web app test)",
        allowed_origins=[f"http://localhost:{port}"],
        user_verification="required",
    )
    settings = Settings(
        data_dir=data_dir,
        public_url=f"http://localhost:{port}",  # the API fetches the JWKS from this origin
        outbox_poll_interval_seconds=0.1,
    )
    asyncio.run(AUTH.upgrade(auth_settings))
    asyncio.run(HEALTH.upgrade(settings))
    return settings, auth_settings


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[str]:
    """The whole platform on http://localhost:<free port>."""
    port = free_port()
    settings, auth_settings = platform_settings(tmp_path, port)
    with serve(Platform(settings, auth_settings), port=port):
        yield f"http://localhost:{port}/"


def test_webapp_in_chromium(platform: str) -> None:
    samples = sorted(SAMPLES.glob("*.avro"))
    assert samples, SAMPLES_ERROR or f"no sample files in {SAMPLES}"
    username = f"web-{uuid.uuid4().hex[:8]}"
    options = {
        "url": platform,
        "username": username,
        "samples": SAMPLES,
        "day": DAY,
        "artifacts": ARTIFACTS,
    }
    result = run_script("webapp.mjs", options, timeout=240)
    check_result(result, username, len(samples))


def check_result(result: dict[str, Any], username: str, total: int) -> None:
    steps = result["steps"]
    assert steps["firstTab"] == "Skip to content"
    assert steps["headers"] == {"csp": CONTENT_SECURITY_POLICY, "nosniff": "nosniff"}
    assert result["csp"] == [], "CSP violations"
    assert result["consoleErrors"] == []
    assert result["unlabelled"] and not any(result["unlabelled"].values()), result["unlabelled"]

    # sign up, sign out, usernameless sign in
    assert steps["signup"]["user"] == username
    assert steps["signup"]["status"].startswith("Account created")
    assert steps["signout"] == {"status": "You are signed out.", "user": 0}
    assert steps["signin"] == {"user": username, "status": f"Signed in as {username}."}

    # upload: every sample accepted with full progress, the repeat a duplicate, errors shown
    upload = steps["upload"]
    assert upload["summary"] == (
        f"{total + 3} of {total + 3} files done: {total} accepted, 1 duplicate, 2 errors."
    )
    assert upload["states"] == ["accepted"] * total + ["duplicate", "error", "error"]
    assert upload["accepted100"] is True
    assert upload["repeat"]["text"].startswith("Duplicate: the same file was uploaded on")
    assert upload["broken"]["text"] == "Error (HTTP 415): not an Avro object container file"
    assert upload["notAvro"]["text"] == "Error: not an .avro file; skipped"
    assert result["failedRequests"] == ["POST /v1/upload 415"]

    # history: all completed; the filters work
    history = steps["history"]
    assert history["rows"] == ["completed"] * total
    assert history["summary"] == f"Showing 1\u2013{total} of {total} uploads: {total} completed."
    assert history["glucoseRows"] == 3
    assert history["failedEmpty"] is True

    # a reload: one refresh (single flight) from the refresh token kept in localStorage
    # (shared by the browser's tabs; issue 19)
    assert steps["reload"] == {
        "refreshes": ["POST"],
        "stored": ["refreshToken", "username"],
        "storageKeys": ["hp.session"],
        "sessionStorage": 0,
        "user": username,
    }

    # day view of 2025-09-20: navigation, journal, charts
    day = steps["day"]
    assert day["latest"] == "#/day/2025-09-21"  # "Days" opens the latest day
    assert day["afterNext"] == "#/day/2025-09-21"
    assert "September 20, 2025" in day["heading"]
    journal = day["journal"]
    for text in (
        # the CGM app stamps "Z": its readings are on the person's clock (-05:00)
        "Glucose (CGM): 251 readings, 87 % of expected; mean 113 mg/dL",
        "Sleep: in bed 01:56-09:19",
        "Activity: 3,933 steps",
        "Largest rise within 2 h: +62 mg/dL",
        "it is not a diagnosis",
    ):
        assert text in journal, text
    assert day["clock"].startswith("Times in UTC-05:00 (") and "placed in your zone" in day["clock"]
    assert "Steps: 3,933" in day["tiles"]
    # five day plots and the HRV of the last 14 days (issue 19), each with a name and description
    assert day["charts"] == 6 and day["tables"] == 5 and day["accessible"] is True
    assert day["glucosePath"] > 500 and day["heartPath"] > 500
    assert day["glucoseBand"] == 1 and day["bandHeight"] > 20
    assert day["stages"] > 50
    # records spread evenly over the day are drawn as one even band (issue 19), not as bars
    assert day["stepBars"] == 1 and day["kcalBars"] == 1
    assert day["hourTicks"][0] == "00:00" and day["hourTicks"][-1] == "24:00"
    assert "12:00" in day["hourTicks"]
    assert day["summaries"][0].startswith("251 readings from 00:01 to 23:56: mean 113 mg/dL")

    # no horizontal scrolling at 360 px
    phone = steps["phone"]
    assert phone["dayWidth"] == phone["historyWidth"] == phone["uploadWidth"] == 360, phone
    assert phone["chartWidth"] <= 340

    # account
    account = steps["account"]
    assert account["passkeys"] == 1 and account["devices"] == 1 and account["currentDevice"] == 1
    assert account["afterAdd"] == ["Passkey", "Second key"]
    assert account["afterRemove"] == ["Passkey"]

    # export: JSON lines of everything derived
    export = steps["export"]
    assert export["filename"].endswith(".jsonl")
    assert export["kinds"]["export"] == 1 and export["kinds"]["upload"] == total
    assert export["kinds"]["daily_metrics"] == 3 and export["kinds"]["narrative"] >= total
    assert export["status"].startswith("Export downloaded")

    # delete my data: typed confirmation, then nothing is left
    deleted = steps["delete"]
    assert deleted["disabledBefore"] is True and deleted["disabledLowercase"] is True
    assert deleted["status"].startswith(f"Your data is deleted: {total} uploads")
    assert deleted["historyAfter"] == "No uploads."
    assert deleted["rowsAfter"] == 0 and deleted["emptyShown"] is True
    assert deleted["daysAfter"].startswith("No days with data yet")

    # delete my account: the warning says what goes; data then account; signed out; the
    # passkey no longer signs in; the username registers again (a new, empty account)
    gone = steps["deleteAccount"]
    warning = " ".join(gone["warning"])
    for words in ("all your health data", "passkeys", "signed-in session", "cannot be undone"):
        assert words in warning, words
    assert "Download everything (ZIP)" in warning
    assert gone["disabledBefore"] is True
    assert gone["calls"] == ["/v1/me/data", "/account"]
    assert gone["status"].startswith("Your account is deleted")
    assert gone["user"] == 0 and gone["tokensKept"] == []
    assert gone["signInAlert"].strip() and gone["hashAfterSignIn"] == "#/signin"
    assert gone["failedRequests"] == ["POST /authenticate/complete 401"]
    again = gone["again"]
    assert again["user"] == username and again["status"].startswith("Account created")

    for name in ("upload", "history", "day", "day-phone", "account", "account-delete-confirm"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000, name
