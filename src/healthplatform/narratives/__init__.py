"""Reading narratives and daily metrics (written by the ETL narrative engine)."""
