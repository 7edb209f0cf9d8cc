"""The caller's own data: erase it, its time zone, AI-training consent, sample data."""
