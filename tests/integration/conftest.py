"""Fixtures shared by the integration tests (beside tests/conftest.py)."""

from tests.integration.test_backup_helpers import platform

__all__ = ["platform"]
