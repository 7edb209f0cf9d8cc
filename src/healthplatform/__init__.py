"""Health data AI platform: passkey auth, Health Connect ingestion, clinical narratives."""

__version__ = "0.1.0"
