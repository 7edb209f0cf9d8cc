"""The ETL worker: consumes upload events with bounded concurrency.

At-least-once delivery with idempotent effects (see :mod:`pipeline`). A dependency that is
down (database, object store) is waited out with backoff and jitter for a time budget
(:mod:`healthplatform.etl.retry`); the upload is then marked failed as a dependency
failure, which housekeeping queues again. Anything else unexpected is retried up to the
delivery limit, then dead-lettered with its error and the upload marked failed. Permanent
errors mark the upload failed or quarantined at once. On shutdown no new event
is taken, in-flight work gets ``shutdown_grace`` seconds, and what is left is given back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from healthplatform.core import metrics
from healthplatform.etl import repository as repo
from healthplatform.etl.metrics import DEFINITIONS_VERSION
from healthplatform.etl.pipeline import PermanentError, process_upload, rederive_user
from healthplatform.etl.retry import DEPENDENCY_MARK, RetryPolicy, is_dependency_failure
from healthplatform.events.consumers import create_consumer
from healthplatform.events.delivery import Delivery, EventConsumer
from healthplatform.events.outbox import PERSON_REDERIVE
from healthplatform.runtime import Resources
from healthplatform.settings import Settings
from healthplatform.uploads import repository as uploads

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("healthplatform.etl")


class Worker:
    def __init__(
        self,
        res: Resources,
        consumer: EventConsumer,
        *,
        concurrency: int = 4,
        shutdown_grace: float = 25.0,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        retry_budget: float = 900.0,
    ) -> None:
        self.res = res
        self.consumer = consumer
        self.concurrency = concurrency
        self.shutdown_grace = shutdown_grace
        self.policy = RetryPolicy(backoff_base, backoff_max, retry_budget)

    @classmethod
    def from_settings(cls, settings: Settings, res: Resources) -> Worker:
        """The worker of `serve etl` and `up`, consuming from the queue the settings name."""
        return cls(
            res,
            create_consumer(settings, res.sessions),
            concurrency=settings.etl_concurrency,
            shutdown_grace=settings.etl_shutdown_grace_seconds,
            backoff_base=settings.etl_backoff_base_seconds,
            backoff_max=settings.etl_backoff_max_seconds,
            retry_budget=settings.etl_retry_budget_seconds,
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self._warn_of_older_definitions()
        await self.consumer.start()
        slots = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        deliveries = self.consumer.deliveries()
        stopping = asyncio.ensure_future(stop.wait())
        following: asyncio.Future[Delivery] | None = None
        try:
            while not stop.is_set():
                await slots.acquire()
                following = asyncio.ensure_future(anext(deliveries))
                await asyncio.wait({following, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not following.done():  # stopping: the finally cancels the wait
                    slots.release()
                    break
                try:
                    delivery = following.result()
                except StopAsyncIteration:
                    break
                except Exception as exc:  # the consumer lost its broker: start it again
                    slots.release()
                    log.warning("consumer failed, restarting it", extra={"error": str(exc)})
                    deliveries = await self._restart_consumer(deliveries, stop)
                    continue
                task = asyncio.create_task(self.handle(delivery))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                task.add_done_callback(lambda _: slots.release())
        finally:
            stopping.cancel()
            if following is not None:
                # stop waiting for the next delivery (a no-op once it arrived) and retrieve
                # its outcome; an undelivered event stays unacked: it comes back
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await following
            await self._drain(tasks)
            with contextlib.suppress(Exception):
                await deliveries.aclose()  # type: ignore[attr-defined]
            await self.consumer.close()

    async def _restart_consumer(
        self, deliveries: AsyncIterator[Delivery], stop: asyncio.Event
    ) -> AsyncIterator[Delivery]:
        with contextlib.suppress(Exception):
            await deliveries.aclose()  # type: ignore[attr-defined]
        pause = 1.0
        while not stop.is_set():
            with contextlib.suppress(Exception):
                await self.consumer.close()
            try:
                await self.consumer.start()
                return self.consumer.deliveries()
            except Exception as exc:
                log.warning("consumer cannot start yet", extra={"error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            pause = min(30.0, pause * 2)
        return self.consumer.deliveries()

    async def _warn_of_older_definitions(self) -> None:
        """Days derived with older metric definitions stay as they are until someone
        derives them again: say so once at start-up, with the command."""
        with contextlib.suppress(Exception):  # a database not reachable yet: the work says so
            stale = await repo.days_of_older_definitions(self.res.engine, DEFINITIONS_VERSION)
            if stale:
                log.warning(
                    "days were derived with older metric definitions: run "
                    "`healthplatform rederive --yes` (or `healthplatform reprocess --all --yes` "
                    "when upgrading from before 2026.12.1)",
                    extra={"days": stale, "definitions_version": DEFINITIONS_VERSION},
                )

    async def _drain(self, tasks: set[asyncio.Task[None]]) -> None:
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self.shutdown_grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def backoff(self, attempt: int) -> float:
        return self.policy.backoff(attempt)

    async def handle(self, delivery: Delivery) -> None:
        if delivery.topic == PERSON_REDERIVE:
            await self.handle_person(delivery)
            return
        context = propagate.extract(delivery.headers)
        with _tracer.start_as_current_span(
            "etl.process_upload", context=context, kind=SpanKind.CONSUMER
        ) as span:
            try:
                upload_id = uuid.UUID(str(delivery.payload["upload_id"]))
            except (KeyError, ValueError, TypeError):
                metrics.ETL_FAILED.labels(reason="malformed_event").inc()
                metrics.ETL_DEAD_LETTERED.inc()
                await delivery.dead_letter("malformed event: no valid upload_id")
                return
            span.set_attribute("upload.id", str(upload_id))
            span.set_attribute("messaging.delivery.attempt", delivery.attempt)
            self._observe_lag(delivery)
            record_type = str(delivery.payload.get("record_type", "unknown"))[:64]
            started = time.perf_counter()
            metrics.ETL_INFLIGHT.inc()
            try:
                outcome = await process_upload(self.res, upload_id)
            except PermanentError as exc:
                await self._permanent(delivery, upload_id, record_type, exc)
                return
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await asyncio.shield(delivery.retry("worker shutting down", 0))
                raise
            except Exception as exc:
                await self._retriable(delivery, upload_id, record_type, exc)
                return
            finally:
                metrics.ETL_INFLIGHT.dec()
                metrics.ETL_DURATION.observe(time.perf_counter() - started)
            metrics.ETL_PROCESSED.labels(record_type=record_type, outcome=outcome.status).inc()
            metrics.ETL_RECORDS.labels(record_type=record_type).inc(outcome.records)
            await self._settle(delivery.ack())

    async def handle_person(self, delivery: Delivery) -> None:
        """A person's zone setting or consent changed: place their records again and
        derive the days that moved (every day with ``all_days``)."""
        user = delivery.payload.get("user_id")
        if not isinstance(user, str) or not user:
            await delivery.dead_letter("malformed event: no user_id")
            return
        try:
            days = await rederive_user(
                self.res, user, all_days=bool(delivery.payload.get("all_days"))
            )
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(delivery.retry("worker shutting down", 0))
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
            log.warning("retrying rederive", extra={"user_id": user, "error": error})
            if is_dependency_failure(exc):
                again = self.policy.next_dependency_retry(delivery)
                if again is not None:
                    delay, headers = again
                    await self._settle(delivery.retry(error, delay, headers=headers, counted=False))
                    return
            if delivery.attempt >= self.consumer.delivery_limit or is_dependency_failure(exc):
                await self._settle(delivery.dead_letter(error))
            else:
                await self._settle(delivery.retry(error, self.backoff(delivery.attempt)))
            return
        log.info("rederived", extra={"user_id": user, "days": days})
        await self._settle(delivery.ack())

    @staticmethod
    def _observe_lag(delivery: Delivery) -> None:
        accepted = delivery.payload.get("accepted_at")
        if isinstance(accepted, str) and delivery.attempt == 1:
            with contextlib.suppress(ValueError):
                lag = (datetime.now(UTC) - datetime.fromisoformat(accepted)).total_seconds()
                metrics.ETL_QUEUE_LAG.observe(max(0.0, lag))

    async def _permanent(
        self, delivery: Delivery, upload_id: uuid.UUID, record_type: str, exc: PermanentError
    ) -> None:
        reason = "quarantined" if exc.quarantine else "failed"
        log.warning("upload %s", reason, extra={"upload_id": str(upload_id), "error": str(exc)})
        metrics.ETL_FAILED.labels(reason=reason).inc()
        metrics.ETL_PROCESSED.labels(record_type=record_type, outcome=reason).inc()
        try:
            async with self.res.engine.begin() as conn:
                await uploads.mark_failed(conn, upload_id, str(exc), quarantine=exc.quarantine)
        except Exception as db_exc:  # cannot record it now: try again later
            await self._retriable(delivery, upload_id, record_type, db_exc)
            return
        await self._settle(delivery.ack())

    async def _retriable(
        self, delivery: Delivery, upload_id: uuid.UUID, record_type: str, exc: BaseException
    ) -> None:
        error = f"{type(exc).__name__}: {exc}"[:1000]
        context = {"upload_id": str(upload_id), "error": error, "attempt": delivery.attempt}
        if is_dependency_failure(exc):
            again = self.policy.next_dependency_retry(delivery)
            if again is not None:
                delay, headers = again
                log.warning("dependency down, retrying upload", extra=context | headers)
                metrics.ETL_RETRIES.inc()
                await self._settle(delivery.retry(error, delay, headers=headers, counted=False))
                return
            # the budget is spent: failed as a dependency failure, which housekeeping
            # queues again (if the database is what is down, the upload stays queued and
            # the stuck-upload requeue takes it)
            await self._give_up(
                delivery, upload_id, record_type, error, "dependency", DEPENDENCY_MARK + error
            )
            return
        if delivery.attempt >= self.consumer.delivery_limit:
            message = f"gave up after {delivery.attempt} attempts: {error}"
            await self._give_up(delivery, upload_id, record_type, error, "delivery_limit", message)
            return
        log.warning("retrying upload", extra=context)
        metrics.ETL_RETRIES.inc()
        await self._settle(delivery.retry(error, self.backoff(delivery.attempt)))

    async def _give_up(
        self,
        delivery: Delivery,
        upload_id: uuid.UUID,
        record_type: str,
        error: str,
        reason: str,
        message: str,
    ) -> None:
        log.error(
            "giving up on upload",
            extra={"upload_id": str(upload_id), "error": error, "reason": reason},
        )
        metrics.ETL_FAILED.labels(reason=reason).inc()
        metrics.ETL_DEAD_LETTERED.inc()
        metrics.ETL_PROCESSED.labels(record_type=record_type, outcome="dead_lettered").inc()
        with contextlib.suppress(Exception):
            async with self.res.engine.begin() as conn:
                await uploads.mark_failed(conn, upload_id, message)
        await self._settle(delivery.dead_letter(error))

    @staticmethod
    async def _settle(operation: object) -> None:
        """Acks and nacks can fail when the broker connection drops: the broker then
        redelivers, which the idempotent pipeline absorbs."""
        try:
            await operation  # type: ignore[misc]
        except Exception as exc:
            log.warning("could not settle delivery", extra={"error": str(exc)})
