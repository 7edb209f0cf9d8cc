"""Does every value key we set exist in the chart it is for?

:func:`chart_values` reads a chart package (or folder): values.yaml with each subchart's
values under its name or alias, and the text of all templates. :func:`unknown_keys` walks
the values an Application passes (:meth:`healthplatform_deploy.render.HelmInput.user_values`)
and reports keys that are neither in the defaults nor read by a template (`.Values.x.y`,
for keys documented only in a comment of values.yaml).
"""

from __future__ import annotations

import functools
import re
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from healthplatform_deploy.render import RenderError, deep_merge


def _chart_files(package: Path) -> dict[str, str]:
    """values.yaml, Chart.yaml and templates of a chart and its subcharts, by path."""
    wanted = re.compile(r"(/values\.yaml|/Chart\.yaml|/templates/.*\.(yaml|tpl))$")
    files: dict[str, str] = {}
    if package.is_dir():
        for path in package.rglob("*"):
            name = f"{package.name}/{path.relative_to(package)}"
            if path.is_file() and wanted.search(name):
                files[name] = path.read_text()
        return files
    with tarfile.open(package) as tar:
        for member in tar.getmembers():
            name = member.name
            if wanted.search(name):
                handle = tar.extractfile(member)
                if handle is not None:
                    files[name] = handle.read().decode()
            elif name.endswith(".tgz") and "/charts/" in name:
                raise RenderError(f"{package.name}: packaged subchart {name} (unpack it)")
    return files


def _defaults_at(files: Mapping[str, str], root: str) -> dict[str, Any]:
    values = yaml.safe_load(files.get(f"{root}/values.yaml", "")) or {}
    chart = yaml.safe_load(files.get(f"{root}/Chart.yaml", "")) or {}
    aliases = {d["name"]: d.get("alias") or d["name"] for d in chart.get("dependencies") or []}
    prefix = f"{root}/charts/"
    subcharts = {n[len(prefix) :].split("/", 1)[0] for n in files if n.startswith(prefix)}
    for sub in sorted(subcharts):
        sub_chart = yaml.safe_load(files.get(f"{prefix}{sub}/Chart.yaml", "")) or {}
        key = aliases.get(str(sub_chart.get("name", sub)), sub)
        values[key] = deep_merge(_defaults_at(files, prefix + sub), values.get(key) or {})
    return values


@dataclass(frozen=True)
class ChartValues:
    """What a chart accepts: its defaults (subcharts under their key) and its templates."""

    defaults: dict[str, Any]
    templates: str
    subcharts: frozenset[str]


@functools.cache
def chart_values(chart: Path) -> ChartValues:
    files = _chart_files(chart)
    root = min((n.split("/", 1)[0] for n in files if n.count("/") == 1), key=len)
    defaults = _defaults_at(files, root)
    templates = "\n".join(text for name, text in files.items() if "/templates/" in name)
    subs = {k for k in defaults if any(f"/charts/{k}/" in n for n in files)}
    return ChartValues(defaults, templates, frozenset(subs))


# Maps whose content a chart hands to the program's own configuration file as it is: their
# keys are the program's settings, not the chart's values (checked by the program at start).
PASS_THROUGH = frozenset(
    {
        "grafana.grafana.ini",  # kube-prometheus-stack -> grafana.ini
        "loki.limits_config",  # loki -> config.yaml limits_config
        "loki.ingester",  # loki -> config.yaml ingester
        "userconfig",  # jaeger -> the collector configuration
        "configuration.features",  # velero
    }
)


# Values that are Kubernetes objects handed to the pod spec as they are: their fields are
# checked by the schema validation of the rendered objects, not against values.yaml.
KUBERNETES_TYPED = frozenset(
    {
        "resources",
        "securityContext",
        "podSecurityContext",
        "containerSecurityContext",
        "nodeSelector",
        "tolerations",
        "affinity",
        "annotations",
        "labels",
        "podAnnotations",
        "podLabels",
    }
)


def _templated(chart: ChartValues, path: str) -> bool:
    """A key only documented in a comment of values.yaml but read by a template."""
    first, _, rest = path.partition(".")
    candidates = [path, rest] if first in chart.subcharts and rest else [path]
    return any(re.search(rf"\.Values\.{re.escape(c)}\b", chart.templates) for c in candidates)


def unknown_keys(
    given: Mapping[str, Any], chart: ChartValues, defaults: Any = None, path: str = ""
) -> list[str]:
    """Keys we set that the chart has neither in its values (subcharts included) nor reads
    in a template. Below an empty or null default map (free-form: annotations, resources,
    selectors) and below :data:`PASS_THROUGH` maps anything goes; `global` is shared."""
    defaults = chart.defaults if defaults is None else defaults
    found: list[str] = []
    for key, value in given.items():
        where = f"{path}{key}"
        if where in PASS_THROUGH or (path == "" and key == "global"):
            continue
        if key not in defaults:
            if not _templated(chart, where):
                found.append(where)
            continue
        default = defaults[key]
        free = key in KUBERNETES_TYPED
        if isinstance(value, Mapping) and isinstance(default, Mapping) and default and not free:
            found += unknown_keys(value, chart, default, where + ".")
    return found
