"""Rewrite the generated tables in the docs: settings (from the settings classes), metric
definitions (from the registry) and error codes (from the error classes)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from pathlib import Path

import healthplatform
from healthplatform.auth.settings import reference_table as auth_table
from healthplatform.core.errors import reference_table as errors_of_imported
from healthplatform.etl.metrics import definitions_markdown
from healthplatform.settings import reference_table

DOCS = Path(__file__).resolve().parents[1] / "docs"


def error_table() -> str:
    """Every error class of the package (each module imported first) with its code."""
    for module in pkgutil.walk_packages(healthplatform.__path__, "healthplatform."):
        if ".migrations" not in module.name:  # Alembic environments run on import
            importlib.import_module(module.name)
    return errors_of_imported()


TABLES: list[tuple[Path, str, Callable[[], str]]] = [
    (DOCS / "configuration.md", "settings", reference_table),
    (DOCS / "auth.md", "auth-settings", auth_table),
    (DOCS / "metrics.md", "metric-definitions", definitions_markdown),
    (DOCS / "errors.md", "error-codes", error_table),
]


def main() -> None:
    for doc, marker, table in TABLES:
        start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
        pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
        replacement = f"{start}\n{table()}{end}"
        doc.write_text(pattern.sub(lambda _, text=replacement: text, doc.read_text()))
        print(f"updated {doc}")


if __name__ == "__main__":
    main()
