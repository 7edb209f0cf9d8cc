"""Prometheus metrics every service exports. Names here are the single source of truth
for dashboards and alert rules."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "hp_http_requests_total", "HTTP requests handled.", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "hp_http_request_duration_seconds",
    "HTTP request latency.",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
UPLOADS_ACCEPTED = Counter(
    "hp_uploads_accepted_total", "Uploads accepted (new, not duplicates).", ["record_type"]
)
UPLOADS_DUPLICATE = Counter("hp_uploads_duplicate_total", "Uploads answered from an earlier copy.")
UPLOADS_REJECTED = Counter("hp_uploads_rejected_total", "Uploads refused.", ["reason"])
UPLOAD_BYTES = Counter("hp_upload_bytes_total", "Bytes of accepted uploads.")
UPLOAD_RECORDS = Counter("hp_upload_records_total", "Records in accepted uploads.", ["record_type"])
RATE_LIMITED = Counter("hp_rate_limited_total", "Requests refused by the per-user rate limit.")
TOKENS_REFUSED = Counter("hp_tokens_refused_total", "Bearer tokens refused.", ["reason"])
DEPENDENCY_UP = Gauge(
    "hp_dependency_up", "1 when the dependency answered the last check.", ["dependency"]
)
OUTBOX_PUBLISHED = Counter("hp_outbox_published_total", "Outbox events published to the broker.")
OUTBOX_PUBLISH_FAILURES = Counter(
    "hp_outbox_publish_failures_total", "Relay batches that failed to publish."
)
OUTBOX_PENDING = Gauge("hp_outbox_pending", "Outbox events not yet published or consumed.")
OUTBOX_OLDEST_PENDING_AGE = Gauge(
    "hp_outbox_oldest_pending_age_seconds", "Age of the oldest unpublished outbox event."
)
UPLOADS_REQUEUED = Counter(
    "hp_uploads_requeued_total", "Stuck uploads given a fresh event by housekeeping."
)
ORPHANS_SWEPT = Counter(
    "hp_orphan_objects_swept_total", "Stored objects deleted because no upload row references them."
)

# --- ETL narrative engine --------------------------------------------------------------------
ETL_PROCESSED = Counter(
    "hp_etl_uploads_processed_total",
    "Upload events handled by the ETL.",
    ["record_type", "outcome"],
)
ETL_FAILED = Counter("hp_etl_failures_total", "ETL failures by reason.", ["reason"])
ETL_RETRIES = Counter("hp_etl_retries_total", "Events given back for another attempt.")
ETL_DEAD_LETTERED = Counter("hp_etl_dead_lettered_total", "Events parked in the dead-letter queue.")
ETL_RECORDS = Counter("hp_etl_records_total", "Records normalised and stored.", ["record_type"])
ETL_MALFORMED_RECORDS = Counter(
    "hp_etl_malformed_records_total", "Records skipped as malformed inside valid files."
)
ETL_DURATION = Histogram(
    "hp_etl_processing_seconds",
    "Time to process one upload event.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ETL_QUEUE_LAG = Histogram(
    "hp_etl_queue_lag_seconds",
    "Time from upload accepted to processing started.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
ETL_INFLIGHT = Gauge("hp_etl_inflight", "Upload events being processed now.")
CLAIMS_CHECKED = Counter(
    "hp_narrative_claims_checked_total",
    "Narrative claims re-checked by the independent verifier, by outcome.",
    ["outcome"],
)
NARRATIVES_WITHHELD = Counter(
    "hp_narratives_withheld_total",
    "Narratives not published because a claim failed verification, by kind.",
    ["kind"],
)
