"""The MCP tools' pure parts: metric paths, the registry lookup, ranges, scopes."""

from __future__ import annotations

from datetime import date

import pytest

from healthplatform.assistant import data
from healthplatform.assistant.http import may_read, token_scopes
from healthplatform.core.tokens import Principal


def test_metric_paths_walk_the_day() -> None:
    metrics = {"activity": {"steps": {"total": 3933.0}}, "glucose": {"tir_70_180_pct": None}}
    assert data.metric_value(metrics, "activity.steps.total") == 3933.0
    assert data.metric_value(metrics, "activity.steps") == {"total": 3933.0}
    assert data.metric_value(metrics, "activity.steps.total.more") is None
    assert data.metric_value(metrics, "sleep.main.tst_min") is None


def test_definitions_come_from_the_nearest_registry_entry() -> None:
    exact = data.definition_for("glucose.tir_70_180_pct")
    assert exact is not None and exact["name"] == "glucose.tir_70_180_pct"
    nested = data.definition_for("activity.steps.total")
    assert nested is not None and nested["name"] == "activity.steps"
    assert data.definition_for("nothing.here") is None
    with pytest.raises(data.ToolInputError, match="known: glucose"):
        data.explain_metric("glucose.nope")


def test_ranges_are_checked() -> None:
    assert data.parse_range("2025-01-01", "2025-12-31") == (date(2025, 1, 1), date(2025, 12, 31))
    for start, end, reason in (
        ("2025-02-01", "2025-01-01", "before"),
        ("2024-01-01", "2025-01-01", "366"),
        ("yesterday", "2025-01-01", "YYYY-MM-DD"),
    ):
        with pytest.raises(data.ToolInputError, match=reason):
            data.parse_range(start, end)


@pytest.mark.parametrize(
    ("claims", "scopes", "allowed"),
    [
        ({}, None, True),  # the API's own tokens: no scope, everything the person may
        ({"scope": "health:read"}, {"health:read"}, True),
        ({"scope": "openid health:read"}, {"openid", "health:read"}, True),
        ({"scp": ["health:read"]}, {"health:read"}, True),
        ({"scope": "health:write"}, {"health:write"}, False),
        ({"scope": ""}, set(), False),
    ],
)
def test_scopes(claims: dict[str, object], scopes: set[str] | None, allowed: bool) -> None:
    principal = Principal("s", "j", claims)
    assert token_scopes(principal) == scopes
    assert may_read(principal) is allowed
