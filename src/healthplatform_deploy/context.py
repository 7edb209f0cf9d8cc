"""Render the platform's Helm chart and check the rendered manifests offline.

Used by the chart tests (tests/deploy/test_charts*.py) and by the capacity check
(:mod:`healthplatform_deploy.capacity_report`). Nothing here talks to a cluster: the chart is
rendered with ``helm template`` and every rule below reads the parsed documents.

Each ``check_*`` function takes the rendered documents (plus, for some, a :class:`Context`)
and returns a list of human-readable problems; an empty list means the rule holds. The
rules are the failures a previous attempt at this platform shipped (selectors that selected
nothing, secrets and ports that did not exist, ``$(VAR)`` used before its definition,
settings the app did not know, pods Pod Security "restricted" rejects, ...).

Objects that exist in the cluster without being rendered come from two documented places:

* Secrets the operator creates before installing (kubectl or SealedSecrets): the chart's
  values ``secrets.*`` (name and keys), read by :func:`external_secrets`.
* Objects an operator creates from a rendered resource, derived by
  :func:`operator_objects`: for a CloudNativePG ``Cluster`` X the Services ``X-rw``,
  ``X-ro``, ``X-r`` (port 5432) and the Secrets ``X-app`` (keys in :data:`CNPG_APP_KEYS`),
  ``X-ca``, ``X-server``, ``X-replication``; for a cert-manager ``Certificate`` the Secret
  named by ``spec.secretName`` (``tls.crt``, ``tls.key``, ``ca.crt``).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from healthplatform_deploy.kube import (
    CNPG_APP_KEYS,
    CREATED_BY,
    RENDER_NAMESPACE,
    TLS_KEYS,
    VAR_REF,
    Doc,
    find,
    name_of,
)

# --------------------------------------------------------------------------------------
# Objects that exist without being rendered
# --------------------------------------------------------------------------------------


def _made(kind: str, name: str, by: str, **body: Any) -> Doc:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": name, "annotations": {CREATED_BY: by}},
        **body,
    }


def operator_objects(docs: Iterable[Doc]) -> list[Doc]:
    """Services and Secrets operators create from rendered resources (module docstring)."""
    made: list[Doc] = []
    for doc in docs:
        kind, name = doc.get("kind"), name_of(doc)
        if kind == "Cluster" and str(doc.get("apiVersion", "")).startswith("postgresql.cnpg.io/"):
            by = f"CloudNativePG Cluster/{name}"
            for suffix in ("rw", "ro", "r"):
                made.append(
                    _made(
                        "Service",
                        f"{name}-{suffix}",
                        by,
                        spec={"ports": [{"name": "postgres", "port": 5432}]},
                    )
                )
            initdb = doc.get("spec", {}).get("bootstrap", {}).get("initdb", {})
            if "secret" not in initdb:
                made.append(
                    _made("Secret", f"{name}-app", by, stringData=dict.fromkeys(CNPG_APP_KEYS, ""))
                )
            for suffix in ("ca", "server", "replication"):
                made.append(
                    _made("Secret", f"{name}-{suffix}", by, stringData=dict.fromkeys(TLS_KEYS, ""))
                )
        elif kind == "Certificate" and str(doc.get("apiVersion", "")).startswith(
            "cert-manager.io/"
        ):
            secret = doc.get("spec", {}).get("secretName")
            if secret:
                made.append(
                    _made(
                        "Secret",
                        secret,
                        f"cert-manager Certificate/{name}",
                        stringData=dict.fromkeys(TLS_KEYS, ""),
                    )
                )
    return made


def external_secrets(values: Mapping[str, Any]) -> dict[str, set[str]]:
    """User-provided Secrets declared in the chart values: ``secrets.<x>.name`` and every
    ``secrets.<x>.*Key`` (the key names), plus ``imagePullSecrets`` (no keys checked)."""
    found: dict[str, set[str]] = {}
    for entry in (values.get("secrets") or {}).values():
        keys = {str(v) for k, v in entry.items() if k.endswith("Key")}
        found.setdefault(str(entry["name"]), set()).update(keys)
    for name in values.get("imagePullSecrets") or []:
        found.setdefault(str(name), set()).add(".dockerconfigjson")
    return found


@dataclass
class Context:
    """Everything a cross-reference check may resolve names against."""

    docs: list[Doc]
    external: dict[str, set[str]] = field(default_factory=dict)
    namespace: str = RENDER_NAMESPACE

    def __post_init__(self) -> None:
        self.made = operator_objects(self.docs)
        self.all = [*self.docs, *self.made]

    def secret_keys(self, name: str) -> set[str] | None:
        """Keys of a Secret that will exist (rendered, operator-made or declared); None if none."""
        doc = find(self.all, "Secret", name)
        if doc is not None:
            return set((doc.get("data") or {}) | (doc.get("stringData") or {}))
        return self.external.get(name)

    def configmap_keys(self, name: str) -> set[str] | None:
        doc = find(self.docs, "ConfigMap", name)
        if doc is None:
            return None
        return set((doc.get("data") or {}) | (doc.get("binaryData") or {}))

    def service(self, name: str) -> Doc | None:
        return find(self.all, "Service", name)


# --------------------------------------------------------------------------------------
# Environment of a container (env, envFrom, $(VAR) expansion)
# --------------------------------------------------------------------------------------


def secret_placeholder(secret: str, key: str) -> str:
    """Stand-in value of a secret: base64url of 32 bytes, so it is URL-safe and a valid
    32-byte key (AuthSettings checks the key encryption key's length)."""
    digest = hashlib.sha256(f"{secret}/{key}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class EnvVar:
    name: str
    value: str
    secret: tuple[str, str] | None = None  # (secret name, key) it was read from
    literal: bool = True
    used: bool = False  # referenced as $(NAME) by a later variable, the command or args


def expand(value: str, defined: Mapping[str, EnvVar]) -> tuple[str, list[str]]:
    """Kubernetes ``$(VAR)`` expansion; returns the value and the names that were not defined."""
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        if name in defined:
            defined[name].used = True
            return defined[name].value
        missing.append(name)
        return match.group(0)

    return VAR_REF.sub(substitute, value), missing


def container_env(container: Doc, ctx: Context) -> tuple[dict[str, EnvVar], list[str]]:
    """The environment a container receives, secrets replaced by placeholders, with the
    problems found while building it ($(VAR) before definition)."""
    env: dict[str, EnvVar] = {}
    problems: list[str] = []
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            cm = find(ctx.docs, "ConfigMap", source["configMapRef"]["name"])
            for key, value in ((cm or {}).get("data") or {}).items():
                env[prefix + key] = EnvVar(prefix + key, str(value))
        if "secretRef" in source:
            secret = source["secretRef"]["name"]
            for key in sorted(ctx.secret_keys(secret) or ()):
                env[prefix + key] = EnvVar(
                    prefix + key, secret_placeholder(secret, key), (secret, key), False
                )
    for item in container.get("env") or []:
        name = item["name"]
        if "value" in item:
            value, missing = expand(str(item["value"]), env)
            for ref_name in missing:
                problems.append(
                    f"{container['name']}: {name} uses $({ref_name}) before {ref_name} is defined"
                )
            env[name] = EnvVar(name, value)
        elif "valueFrom" in item:
            source = item["valueFrom"]
            if "secretKeyRef" in source:
                s = source["secretKeyRef"]
                env[name] = EnvVar(
                    name, secret_placeholder(s["name"], s["key"]), (s["name"], s["key"]), False
                )
            elif "configMapKeyRef" in source:
                c = source["configMapKeyRef"]
                cm = find(ctx.docs, "ConfigMap", c["name"]) or {}
                env[name] = EnvVar(name, str((cm.get("data") or {}).get(c["key"], "")))
            else:  # fieldRef / resourceFieldRef: runtime values
                env[name] = EnvVar(name, f"<{name}>", None, False)
        else:
            env[name] = EnvVar(name, "")
    for part in ("command", "args"):
        for arg in container.get(part) or []:
            _, missing = expand(str(arg), env)
            for ref_name in missing:
                problems.append(
                    f"{container['name']}: {part} uses $({ref_name}), which is not defined"
                )
    return env, problems
