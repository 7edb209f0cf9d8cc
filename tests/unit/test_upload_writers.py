"""Only ``uploads/repository.py`` writes the uploads table: no other module of the
platform builds an INSERT, UPDATE or DELETE of it (Core, ORM attribute writes or SQL
text), so every status change goes through its transition table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import healthplatform

SRC = Path(healthplatform.__file__).parent
OWNER = SRC / "uploads" / "repository.py"
# columns only the lifecycle writes (an ORM object's attribute set is an UPDATE)
LIFECYCLE_COLUMNS = {"status", "attempts", "finished_at", "processing_started_at", "error"}
WRITES = {"insert", "update", "delete"}
SQL_WRITE = re.compile(r"\b(update|insert\s+into|delete\s+from)\s+uploads\b", re.IGNORECASE)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _writes(tree: ast.Module) -> list[str]:
    found = []
    imports_upload = any(
        isinstance(n, ast.ImportFrom) and any(a.name == "Upload" for a in n.names)
        for n in ast.walk(tree)
    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in WRITES and node.args and "Upload" in _names(node.args[0]):
                found.append(f"line {node.lineno}: {name}(Upload)")
        elif isinstance(node, ast.Assign | ast.AugAssign) and imports_upload:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr in LIFECYCLE_COLUMNS:
                    found.append(f"line {node.lineno}: .{target.attr} = ...")
        elif isinstance(node, ast.Constant) and SQL_WRITE.search(str(node.value)):
            found.append(f"line {node.lineno}: SQL text writing uploads")
    return found


def test_only_the_repository_writes_the_uploads_table() -> None:
    offenders = {
        str(path.relative_to(SRC)): writes
        for path in sorted(SRC.rglob("*.py"))
        if path != OWNER and "migrations" not in path.parts
        if (writes := _writes(ast.parse(path.read_text(), str(path))))
    }
    assert offenders == {}


def test_the_check_sees_each_kind_of_write() -> None:
    source = (
        "from healthplatform.db.models import Upload\n"
        "update(Upload).values(status='queued')\n"
        "sqlite.insert(Upload)\n"
        "delete(Upload.__table__)\n"
        "upload.status = 'failed'\n"
        "text('UPDATE uploads SET status = 1')\n"
    )
    assert len(_writes(ast.parse(source))) == 5
