"""Cross-cutting plumbing shared by every service: logging, metrics, tracing, errors."""
