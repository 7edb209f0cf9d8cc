"""Velero (deploy/argocd/platform/velero: values of the upstream chart): the Schedules and
ConfigMaps its templates build, checked by :func:`check_velero`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from healthplatform_deploy.backup_schedules import parse_cron
from healthplatform_deploy.backups import (
    NEVER_IN_VELERO,
    VELERO_EXCLUDE,
    VELERO_EXCLUDED_RESOURCES,
)
from healthplatform_deploy.kube import Doc, name_of, of_kind, ref

# --------------------------------------------------------------------------------------
# Velero (deploy/argocd/platform/velero: values of the upstream chart)
# --------------------------------------------------------------------------------------


def velero_fullname(values: Mapping[str, Any], release: str = "velero") -> str:
    """`velero.fullname` of vmware-tanzu/helm-charts' velero chart."""
    if values.get("fullnameOverride"):
        return str(values["fullnameOverride"])[:63].rstrip("-")
    name = str(values.get("nameOverride") or "velero")
    full = release if name in release else f"{release}-{name}"
    return full[:63].rstrip("-")


def velero_objects(
    values: Mapping[str, Any], release: str = "velero", namespace: str = "velero"
) -> list[Doc]:
    """The Schedules and ConfigMaps the velero chart (12.x, templates/schedule.yaml and
    configmaps.yaml) renders from ``schedules`` and ``configMaps``."""
    fullname = velero_fullname(values, release)
    docs: list[Doc] = []
    for key, schedule in sorted((values.get("schedules") or {}).items()):
        if schedule.get("disabled"):
            continue
        spec: Doc = {}
        for option in ("paused", "useOwnerReferencesInBackup", "skipImmediately"):
            if schedule.get(option):
                spec[option] = schedule[option]
        spec["schedule"] = str(schedule.get("schedule", ""))
        if schedule.get("template"):
            spec["template"] = schedule["template"]
        docs.append(
            {
                "apiVersion": "velero.io/v1",
                "kind": "Schedule",
                "metadata": {
                    "name": f"{fullname}-{key}",
                    "namespace": namespace,
                    "labels": {
                        "app.kubernetes.io/name": "velero",
                        **(schedule.get("labels") or {}),
                    },
                },
                "spec": spec,
            }
        )
    for key, config_map in sorted((values.get("configMaps") or {}).items()):
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": f"{fullname}-{key}",
                    "namespace": namespace,
                    "labels": {
                        "app.kubernetes.io/name": "velero",
                        **(config_map.get("labels") or {}),
                    },
                },
                "data": dict(config_map.get("data") or {}),
            }
        )
    return docs


def _go_duration_hours(text: str) -> float:
    units = {"h": 1.0, "m": 1 / 60, "s": 1 / 3600, "ms": 1 / 3_600_000}
    parts = re.findall(r"([0-9.]+)(ms|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Go duration: {text!r}")
    return sum(float(n) * units[u] for n, u in parts)


def fs_backup_needed(docs: Iterable[Doc]) -> bool:
    """Does any persistent volume of the render need Velero's file-system backup? PVCs and
    StatefulSet claim templates do; CloudNativePG Clusters do not when their pods carry
    the exclude label (the operator backs them up to object storage itself)."""
    for doc in docs:
        kind = doc.get("kind")
        if kind == "PersistentVolumeClaim":
            return True
        if kind == "StatefulSet" and (doc.get("spec") or {}).get("volumeClaimTemplates"):
            return True
        if kind == "Cluster" and str(doc.get("apiVersion", "")).startswith("postgresql.cnpg.io"):
            inherited = (doc.get("spec") or {}).get("inheritedMetadata") or {}
            if str((inherited.get("labels") or {}).get(VELERO_EXCLUDE)) != "true":
                return True
    return False


def check_velero(
    values: Mapping[str, Any],
    platform_namespaces: Iterable[str],
    release: str = "velero",
    fs_backup_needed: bool = False,
) -> list[str]:
    """Velero's schedules: the node agent and file-system backups (kopia) exactly when a
    volume needs them (``fs_backup_needed``: a persistent volume not excluded), no volume
    snapshots, a volume policy ConfigMap the chart renders that skips scratch volumes, a
    backup location that exists, a TTL of at least a day, the platform namespaces in and the
    CloudNativePG objects out, and never a namespace whose Secrets must not reach the bucket
    (the Sealed Secrets key)."""
    problems: list[str] = []
    objects = velero_objects(values, release)
    schedules = of_kind(objects, "Schedule")
    config_maps = {name_of(c): c for c in of_kind(objects, "ConfigMap")}
    locations = {
        str(loc.get("name"))
        for loc in (values.get("configuration") or {}).get("backupStorageLocation") or []
    }
    if not schedules:
        problems.append("velero: no schedule (values `schedules`)")
    if bool(values.get("deployNodeAgent")) != fs_backup_needed:
        problems.append(
            "velero: deployNodeAgent is on with no volume to copy (a DaemonSet for nothing)"
            if values.get("deployNodeAgent")
            else "velero: deployNodeAgent is off: file-system backups need the node agent"
        )
    if (values.get("configuration") or {}).get("uploaderType") != "kopia":
        problems.append("velero: configuration.uploaderType is not kopia")
    covered: set[str] = set()
    for schedule in schedules:
        where = ref(schedule)
        spec = schedule["spec"]
        template = spec.get("template") or {}
        try:
            parse_cron(spec["schedule"])
        except ValueError as exc:
            problems.append(f"{where}: schedule {spec['schedule']!r}: {exc}")
        if template.get("defaultVolumesToFsBackup") is not fs_backup_needed:
            problems.append(
                f"{where}: defaultVolumesToFsBackup is not {str(fs_backup_needed).lower()} "
                "(file-system backup only when a volume needs it)"
            )
        if template.get("snapshotVolumes") is not False:
            problems.append(f"{where}: snapshotVolumes is not false (no volume snapshots here)")
        location = template.get("storageLocation")
        if location not in locations:
            problems.append(
                f"{where}: storageLocation {location!r} is not a backupStorageLocation "
                f"({sorted(locations)})"
            )
        try:
            if _go_duration_hours(str(template.get("ttl", ""))) < 24:
                problems.append(f"{where}: ttl {template.get('ttl')} is shorter than a day")
        except ValueError as exc:
            problems.append(f"{where}: ttl: {exc}")
        problems += _volume_policy_problems(where, template.get("resourcePolicy"), config_maps)
        included = {str(n) for n in template.get("includedNamespaces") or []}
        covered |= included
        for namespace in sorted(included & NEVER_IN_VELERO):
            problems.append(
                f"{where}: includes namespace {namespace!r}: its Secrets would reach the "
                "bucket in plain text (the sealing key is exported encrypted, docs/backup.md)"
            )
        if "*" in included or not included:
            problems.append(f"{where}: includes every namespace (list them)")
        missing = VELERO_EXCLUDED_RESOURCES - {
            str(r) for r in template.get("excludedResources") or []
        }
        if missing:
            problems.append(
                f"{where}: does not exclude {sorted(missing)} (the databases come back "
                "through CloudNativePG)"
            )
    for namespace in sorted(set(platform_namespaces) - covered):
        problems.append(f"velero: no schedule backs up namespace {namespace!r}")
    return problems


def _volume_policy_problems(
    where: str, policy: Mapping[str, Any] | None, config_maps: Mapping[str, Doc]
) -> list[str]:
    if not policy:
        return [f"{where}: no resourcePolicy (scratch volumes would be copied)"]
    if str(policy.get("kind", "")).lower() != "configmap":
        return [f"{where}: resourcePolicy kind {policy.get('kind')!r} is not configmap"]
    config_map = config_maps.get(str(policy.get("name")))
    if config_map is None:
        return [
            f"{where}: resourcePolicy ConfigMap {policy.get('name')!r} is not rendered by the "
            f"chart's configMaps ({sorted(config_maps)})"
        ]
    data = config_map.get("data") or {}
    if len(data) != 1:
        return [f"{ref(config_map)}: a resource policy ConfigMap holds exactly one key"]
    try:
        parsed = yaml.safe_load(next(iter(data.values()))) or {}
    except yaml.YAMLError as exc:
        return [f"{ref(config_map)}: policy is not YAML: {exc}"]
    if parsed.get("version") != "v1":
        return [f"{ref(config_map)}: policy version is not v1"]
    skipped = {
        str(t)
        for rule in parsed.get("volumePolicies") or []
        if (rule.get("action") or {}).get("type") == "skip"
        for t in (rule.get("conditions") or {}).get("volumeTypes") or []
    }
    if "emptyDir" not in skipped:
        return [f"{ref(config_map)}: the volume policy does not skip emptyDir volumes"]
    return []
