"""Transitional re-export for :mod:`healthplatform.ops.capacity` only.

The deployment checks moved to the package ``healthplatform_deploy`` (issue 18, item 6).
The capacity planner is rebuilt from real renders as ``healthplatform_deploy.capacity``
(issue 18, item 2); until then it reads these names here. Delete this module together with
``healthplatform/ops/capacity.py``. tests/deploy/test_package_imports.py allows exactly
these two runtime-package modules to reach ``healthplatform_deploy``.
"""

from __future__ import annotations

from healthplatform_deploy.helm import ToolMissingError, merged_values, profile_path, render
from healthplatform_deploy.kube import (
    CHART_NAME,
    Doc,
    annotations_of,
    find,
    of_kind,
    pod_templates,
    ref,
)
from healthplatform_deploy.workloads import replica_range

__all__ = [
    "CHART_NAME",
    "Doc",
    "ToolMissingError",
    "annotations_of",
    "find",
    "merged_values",
    "of_kind",
    "pod_templates",
    "profile_path",
    "ref",
    "render",
    "replica_range",
]
