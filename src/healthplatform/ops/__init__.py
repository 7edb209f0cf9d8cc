"""Operations: housekeeping, capacity, backups."""
