"""Rewrite the settings table in docs/configuration.md from the Settings class."""

from __future__ import annotations

import re
from pathlib import Path

from healthplatform.settings import reference_table

DOC = Path(__file__).resolve().parents[1] / "docs/configuration.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"

text = DOC.read_text()
pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
DOC.write_text(pattern.sub(f"{START}\n{reference_table()}{END}", text))
print(f"updated {DOC}")
