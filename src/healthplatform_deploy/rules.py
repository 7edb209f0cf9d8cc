"""Every rule over one render (:func:`run_all`): the cross-reference and pod rules of this
package plus the backup rules of :mod:`healthplatform_deploy.backups`.

Each ``check_*`` function takes the rendered documents (plus, for some, a
:class:`~healthplatform_deploy.context.Context`) and returns a list of human-readable
problems; an empty list means the rule holds. The rules are the failures a previous attempt
at this platform shipped (selectors that selected nothing, secrets and ports that did not
exist, ``$(VAR)`` used before its definition, settings the app did not know, pods Pod
Security "restricted" rejects, ...)."""

from __future__ import annotations

from collections.abc import Callable

from healthplatform_deploy import backups
from healthplatform_deploy.app_settings import check_credentials, check_jwt, check_settings
from healthplatform_deploy.context import Context
from healthplatform_deploy.endpoints import check_env_order, check_hostnames
from healthplatform_deploy.kube import Doc
from healthplatform_deploy.pod_security import (
    check_images,
    check_pod_security,
    check_resources,
    check_service_accounts,
)
from healthplatform_deploy.references import check_ports, check_references, check_selectors
from healthplatform_deploy.workloads import (
    check_autoscaling,
    check_gateway,
    check_hooks,
    check_labels,
    check_namespaces,
)

CROSS_REFERENCE_CHECKS: dict[str, Callable[[list[Doc], Context], list[str]]] = {
    "selectors": check_selectors,
    "references": check_references,
    "ports": check_ports,
    "hostnames": check_hostnames,
    "env-order": check_env_order,
    "settings": check_settings,
    "jwt": check_jwt,
    "credentials": check_credentials,
    "autoscaling": check_autoscaling,
    "hooks": check_hooks,
    "gateway": check_gateway,
}
POD_CHECKS: dict[str, Callable[[list[Doc]], list[str]]] = {
    "pod-security": check_pod_security,
    "resources": check_resources,
    "images": check_images,
    "service-accounts": check_service_accounts,
    "labels": check_labels,
    "namespaces": check_namespaces,
}


def run_all(docs: list[Doc], ctx: Context) -> dict[str, list[str]]:
    """Every rule over one render: {rule: problems}, the backup rules of
    :mod:`healthplatform_deploy.backups` included (as ``backups/<rule>``)."""
    results = {name: check(docs, ctx) for name, check in CROSS_REFERENCE_CHECKS.items()}
    results |= {name: check(docs) for name, check in POD_CHECKS.items()}
    results |= {f"backups/{k}": v for k, v in backups.run_all(docs, ctx).items()}
    return results
