"""Health database: SQLAlchemy 2 async engine, models and Alembic migrations."""
