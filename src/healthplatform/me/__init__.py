"""The caller's own data: erase (and, with the narrative engine, export)."""
