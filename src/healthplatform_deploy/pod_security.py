"""Pod Security "restricted", resource requests/limits, pinned images and service accounts
of every rendered pod template."""

from __future__ import annotations

from healthplatform_deploy.kube import (
    RESTRICTED_VOLUME_TYPES,
    Doc,
    find,
    of_kind,
    pod_templates,
    ref,
)

# --- pods ---------------------------------------------------------------------------------


def check_pod_security(docs: list[Doc]) -> list[str]:
    """Pod Security "restricted" on every pod template, plus: numeric non-root user,
    read-only root filesystem, no service account token unless needed, own ServiceAccount."""
    problems: list[str] = []
    for pt in pod_templates(docs):
        spec, where = pt.spec, pt.ref
        pod_sc = spec.get("securityContext") or {}
        for host in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(host):
                problems.append(f"{where}: {host} is set")
        for volume in spec.get("volumes") or []:
            kinds = set(volume) - {"name"}
            if not kinds <= RESTRICTED_VOLUME_TYPES:
                problems.append(
                    f"{where}: volume {volume['name']} of type {sorted(kinds)} is not allowed"
                )
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: automountServiceAccountToken is not false")
        if spec.get("serviceAccountName") in (None, "", "default"):
            problems.append(f"{where}: runs as the default ServiceAccount")
        if (pod_sc.get("seccompProfile") or {}).get("type") == "Unconfined":
            problems.append(f"{where}: pod seccompProfile Unconfined")
        for c in pt.containers():
            problems += _container_security(where, c, pod_sc)
    return problems


def _container_security(where: str, c: Doc, pod_sc: Doc) -> list[str]:
    sc = c.get("securityContext") or {}
    name = f"{where} {c['name']}"
    problems: list[str] = []
    if sc.get("privileged"):
        problems.append(f"{name}: privileged")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{name}: allowPrivilegeEscalation is not false")
    caps = sc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        problems.append(f"{name}: capabilities do not drop ALL")
    if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
        problems.append(f"{name}: adds capabilities {caps.get('add')}")
    non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    if non_root is not True:
        problems.append(f"{name}: runAsNonRoot is not true")
    user = sc.get("runAsUser", pod_sc.get("runAsUser"))
    if user is None:
        problems.append(f"{name}: runAsUser is not set")
    elif int(user) == 0:
        problems.append(f"{name}: runAsUser is 0")
    seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        problems.append(f"{name}: seccompProfile is {seccomp!r}, not RuntimeDefault")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{name}: readOnlyRootFilesystem is not true")
    for port in c.get("ports") or []:
        if port.get("hostPort"):
            problems.append(f"{name}: hostPort {port['hostPort']}")
    return problems


def resources_ok(where: str, resources: Doc | None) -> list[str]:
    resources = resources or {}
    problems = []
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in (resources.get(kind) or {}):
                problems.append(f"{where}: no {resource} {kind[:-1]}")
    return problems


def check_resources(docs: list[Doc]) -> list[str]:
    """CPU and memory requests AND limits on every container, CloudNativePG instance and
    Envoy proxy."""
    problems: list[str] = []
    for pt in pod_templates(docs):
        for c in pt.containers():
            problems += resources_ok(f"{pt.ref} {c['name']}", c.get("resources"))
    for cluster in of_kind(docs, "Cluster"):
        problems += resources_ok(ref(cluster), cluster.get("spec", {}).get("resources"))
    for proxy in of_kind(docs, "EnvoyProxy"):
        deployment = (
            proxy.get("spec", {})
            .get("provider", {})
            .get("kubernetes", {})
            .get("envoyDeployment", {})
        )
        problems += resources_ok(ref(proxy), (deployment.get("container") or {}).get("resources"))
    return problems


def images(docs: list[Doc]) -> list[tuple[str, str]]:
    """(where, image) of every container image, CloudNativePG imageName and proxy image."""
    found = [
        (f"{pt.ref} {c['name']}", str(c.get("image", "")))
        for pt in pod_templates(docs)
        for c in pt.containers()
    ]
    found += [
        (ref(c), str(c["spec"]["imageName"]))
        for c in of_kind(docs, "Cluster")
        if c.get("spec", {}).get("imageName")
    ]
    return found


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an image reference."""
    rest, _, digest = image.partition("@")
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = rest.rsplit(":", 1)
        return repo, tag, digest or None
    return rest, None, digest or None


def check_images(docs: list[Doc]) -> list[str]:
    """Every image has an explicit tag that is not `latest` (a digest alone also pins it)."""
    problems = []
    for where, image in images(docs):
        _, tag, digest = split_image(image)
        if tag == "latest":
            problems.append(f"{where}: image {image} uses the `latest` tag")
        elif tag is None and digest is None:
            problems.append(f"{where}: image {image} has no tag")
    return problems


def unpinned_digests(docs: list[Doc]) -> list[str]:
    """Images pinned by tag only (a digest is preferred); reported, not a failure."""
    return sorted({image for _, image in images(docs) if split_image(image)[2] is None})


def check_service_accounts(docs: list[Doc]) -> list[str]:
    """Each workload has its own ServiceAccount, rendered in the same release, token off."""
    problems: list[str] = []
    users: dict[str, list[str]] = {}
    for pt in pod_templates(docs):
        sa = pt.spec.get("serviceAccountName")
        if sa:
            users.setdefault(sa, []).append(pt.ref)
            if find(docs, "ServiceAccount", sa) is None:
                problems.append(f"{pt.ref}: ServiceAccount {sa!r} is not rendered")
    for sa, owners in users.items():
        if len(owners) > 1:
            problems.append(f"ServiceAccount {sa!r} is shared by {owners}")
    for sa_doc in of_kind(docs, "ServiceAccount"):
        if sa_doc.get("automountServiceAccountToken") is not False:
            problems.append(f"{ref(sa_doc)}: automountServiceAccountToken is not false")
    return problems
