"""Rewrite the generated tables in the docs: settings (from the settings classes) and
metric definitions (from the registry)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from healthplatform.auth.settings import reference_table as auth_table
from healthplatform.etl.metrics import definitions_markdown
from healthplatform.settings import reference_table

DOCS = Path(__file__).resolve().parents[1] / "docs"
TABLES: list[tuple[Path, str, Callable[[], str]]] = [
    (DOCS / "configuration.md", "settings", reference_table),
    (DOCS / "auth.md", "auth-settings", auth_table),
    (DOCS / "metrics.md", "metric-definitions", definitions_markdown),
]

for doc, marker, table in TABLES:
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    replacement = f"{start}\n{table()}{end}"
    doc.write_text(pattern.sub(lambda _, text=replacement: text, doc.read_text()))
    print(f"updated {doc}")
