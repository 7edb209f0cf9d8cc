"""Backups and disaster recovery: logical backups of both databases and copies of the raw
uploads (`create`), verification by restoring (`verify`), restores (`restore`), rebuilding
derived data from the raw uploads (`reprocess`), and the `healthplatform backup` commands
(`cli`). Point-in-time recovery in production is CloudNativePG's (docs/backup.md)."""
