"""Cache and per-user rate limits: Redis/Valkey in production, in-process locally."""
