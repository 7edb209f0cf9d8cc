"""The configuration reference: a Markdown table generated from a settings class."""

from __future__ import annotations

from enum import StrEnum

from pydantic import SecretStr
from pydantic_settings import BaseSettings


def reference_table(settings_class: type[BaseSettings], prefix: str) -> str:
    """One row per field: environment variable, default, description."""
    rows = ["| Variable | Default | Description |", "|---|---|---|"]
    for name, field in settings_class.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            default = "(secret)" if default.get_secret_value() else ""
        elif isinstance(default, list):
            default = ",".join(map(str, default))
        elif isinstance(default, StrEnum):
            default = default.value
        shown = f"`{default}`" if default not in ("", None) else "(empty)"
        rows.append(f"| `{prefix}{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(rows) + "\n"
