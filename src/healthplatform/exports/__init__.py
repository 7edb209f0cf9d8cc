"""A person's data leaving the platform: /v1/me/export (JSON lines) and /v1/me/export.zip."""
