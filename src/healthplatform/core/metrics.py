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
ORPHANS_SWEPT = Counter(
    "hp_orphan_objects_swept_total", "Stored objects deleted because no upload row references them."
)
