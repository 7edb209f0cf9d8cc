"""The app containers' environment read by the app's own settings classes: every role gets the
settings it needs, JWT issuers and audiences agree, credentials come from Secrets."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from healthplatform_deploy.context import Context, EnvVar, container_env
from healthplatform_deploy.endpoints import service_of_host, urls_in
from healthplatform_deploy.kube import (
    CREATED_BY,
    Doc,
    annotations_of,
    name_of,
    of_kind,
    pod_templates,
    ref,
    synthetic,
)
from healthplatform_deploy.references import config_refs, pods_selected

# --- settings of the app containers ------------------------------------------------------

APP_ROLES: dict[tuple[str, ...], str] = {
    ("serve", "api"): "api",
    ("serve", "etl"): "etl",
    ("serve", "relay"): "relay",
    ("serve", "auth"): "auth",
    ("migrate", "--database", "health"): "migrate-health",
    ("migrate", "--database", "auth"): "migrate-auth",
    ("auth", "maintain"): "auth-maintain",
    ("backup", "create"): "backup",
    ("backup", "verify"): "backup-verify",
}
AUTH_ROLES = frozenset({"auth", "migrate-auth", "auth-maintain"})
PLATFORM_ROLES = frozenset({"api", "etl", "relay"})
# Backup jobs read three settings classes: Settings (health database, data lake), the auth
# database URL of AuthSettings and BackupSettings (HP_BACKUP_*, the backup store).
BACKUP_ROLES = frozenset({"backup", "backup-verify"})


def app_role(container: Doc) -> str | None:
    """The platform command a container runs (by its args; the image's ENTRYPOINT is
    ``healthplatform``), or None for other images."""
    if container.get("command"):
        return None
    args = tuple(str(a) for a in container.get("args") or [])
    for prefix, role in APP_ROLES.items():
        if args[: len(prefix)] == prefix:
            return role
    return None


@dataclass
class AppContainer:
    where: str
    role: str
    env: dict[str, EnvVar]


def app_containers(docs: list[Doc], ctx: Context) -> tuple[list[AppContainer], list[str]]:
    found: list[AppContainer] = []
    problems: list[str] = []
    for pt in pod_templates(docs):
        for container in pt.containers():
            env, _ = container_env(container, ctx)
            role = app_role(container)
            where = f"{pt.ref} {container['name']}"
            if role is None:
                if any(name.startswith("HP_") for name in env):
                    problems.append(f"{where}: receives HP_* settings but runs no platform command")
                continue
            found.append(AppContainer(where, role, env))
    return found, problems


def _settings_classes() -> tuple[type[Any], type[Any] | None]:
    from healthplatform.settings import Settings

    try:
        from healthplatform.auth.settings import AuthSettings
    except ImportError:  # the auth service is not part of this checkout yet
        return Settings, None
    return Settings, AuthSettings


def _backup_settings_class() -> type[Any]:
    from healthplatform.ops.backups.settings import BackupSettings

    return BackupSettings


@dataclass(frozen=True)
class BackupJobSettings:
    """The three settings objects a backup job loads (what BACKUP_REQUIREMENTS check)."""

    settings: Any
    auth: Any
    backup: Any


Requirement = tuple[str, Callable[[Any, dict[str, EnvVar]], bool], str]


def _from_secret(var: str) -> Callable[[Any, dict[str, EnvVar]], bool]:
    return lambda _s, env: var in env and env[var].secret is not None


def _url_with_secret(var: str) -> Callable[[Any, dict[str, EnvVar]], bool]:
    def check(_s: Any, env: dict[str, EnvVar]) -> bool:
        if var not in env:
            return False
        return any(
            v.secret is not None and v.value in env[var].value
            for v in env.values()
            if v.name != var
        )

    return check


PLATFORM_REQUIREMENTS: list[Requirement] = [
    (
        "HP_DATABASE_URL",
        lambda s, _e: str(s.database_url).startswith("postgresql+asyncpg://"),
        "a postgresql+asyncpg:// URL",
    ),
    (
        "HP_DATABASE_URL",
        _url_with_secret("HP_DATABASE_URL"),
        "a URL with credentials from a Secret",
    ),
    ("HP_OBJECT_STORE", lambda s, _e: str(s.object_store) == "s3", "s3"),
    (
        "HP_S3_ENDPOINT_URL",
        lambda s, _e: str(s.s3_endpoint_url).startswith(("https://", "http://")),
        "an http(s) URL",
    ),
    ("HP_S3_REGION", lambda _s, e: bool(e.get("HP_S3_REGION") and e["HP_S3_REGION"].value), "set"),
    ("HP_S3_BUCKET", lambda _s, e: bool(e.get("HP_S3_BUCKET") and e["HP_S3_BUCKET"].value), "set"),
    ("HP_S3_ACCESS_KEY_ID", _from_secret("HP_S3_ACCESS_KEY_ID"), "read from a Secret"),
    ("HP_S3_SECRET_ACCESS_KEY", _from_secret("HP_S3_SECRET_ACCESS_KEY"), "read from a Secret"),
    ("HP_EVENTS_BACKEND", lambda s, _e: str(s.events_backend) == "rabbitmq", "rabbitmq"),
    (
        "HP_RABBITMQ_URL",
        _url_with_secret("HP_RABBITMQ_URL"),
        "an AMQP URL with credentials from a Secret",
    ),
    ("HP_REDIS_URL", _url_with_secret("HP_REDIS_URL"), "a Redis URL with a password from a Secret"),
    ("HP_JWT_JWKS_URL", lambda s, _e: bool(s.jwt_jwks_url), "the auth service's JWKS URL"),
    ("HP_JWT_ISSUER", lambda _s, e: "HP_JWT_ISSUER" in e, "set explicitly"),
    ("HP_JWT_AUDIENCE", lambda _s, e: "HP_JWT_AUDIENCE" in e, "set explicitly"),
    ("HP_PUBLIC_URL", lambda s, _e: str(s.public_url).startswith("https://"), "an https:// URL"),
    ("HP_ENVIRONMENT", lambda s, _e: s.environment != "local", "not `local`"),
]
AUTH_REQUIREMENTS: list[Requirement] = [
    (
        "HP_AUTH_DATABASE_URL",
        lambda s, _e: str(s.database_url).startswith("postgresql+asyncpg://"),
        "a postgresql+asyncpg:// URL",
    ),
    (
        "HP_AUTH_DATABASE_URL",
        _url_with_secret("HP_AUTH_DATABASE_URL"),
        "a URL with credentials from a Secret",
    ),
    (
        "HP_AUTH_KEY_ENCRYPTION_KEY",
        _from_secret("HP_AUTH_KEY_ENCRYPTION_KEY"),
        "read from a Secret",
    ),
    ("HP_AUTH_ENVIRONMENT", lambda s, _e: s.environment != "local", "not `local`"),
    ("HP_AUTH_ISSUER", lambda _s, e: "HP_AUTH_ISSUER" in e, "set explicitly"),
    ("HP_AUTH_AUDIENCE", lambda _s, e: "HP_AUTH_AUDIENCE" in e, "set explicitly"),
]
SERVING_AUTH_REQUIREMENTS: list[Requirement] = [
    (
        "HP_AUTH_REDIS_URL",
        _url_with_secret("HP_AUTH_REDIS_URL"),
        "a Redis URL with a password from a Secret",
    ),
    ("HP_AUTH_RP_ID", lambda s, _e: s.rp_id != "localhost", "the public host"),
]


def _env_value(env: Mapping[str, EnvVar], name: str) -> str:
    return env[name].value if name in env else ""


def _separate_backup_bucket(_s: Any, env: dict[str, EnvVar]) -> bool:
    bucket = _env_value(env, "HP_BACKUP_BUCKET")
    return bool(bucket) and bucket != _env_value(env, "HP_S3_BUCKET")


BACKUP_STORE_REQUIREMENT: Requirement = (
    "HP_BACKUP_BUCKET",
    _separate_backup_bucket,
    "a bucket other than the data lake's HP_S3_BUCKET",
)
BACKUP_REQUIREMENTS: list[Requirement] = [
    (
        "HP_DATABASE_URL",
        lambda s, _e: str(s.settings.database_url).startswith("postgresql+asyncpg://"),
        "a postgresql+asyncpg:// URL",
    ),
    PLATFORM_REQUIREMENTS[1],
    (
        "HP_AUTH_DATABASE_URL",
        lambda s, _e: str(s.auth.database_url).startswith("postgresql+asyncpg://"),
        "a postgresql+asyncpg:// URL",
    ),
    AUTH_REQUIREMENTS[1],
    ("HP_OBJECT_STORE", lambda s, _e: str(s.settings.object_store) == "s3", "s3"),
    (
        "HP_S3_ENDPOINT_URL",
        lambda s, _e: str(s.settings.s3_endpoint_url).startswith(("https://", "http://")),
        "an http(s) URL",
    ),
    ("HP_S3_REGION", lambda _s, e: bool(_env_value(e, "HP_S3_REGION")), "set"),
    ("HP_S3_ACCESS_KEY_ID", _from_secret("HP_S3_ACCESS_KEY_ID"), "read from a Secret"),
    ("HP_S3_SECRET_ACCESS_KEY", _from_secret("HP_S3_SECRET_ACCESS_KEY"), "read from a Secret"),
    BACKUP_STORE_REQUIREMENT,
    (
        "HP_AUTH_KEY_ENCRYPTION_KEY",
        lambda _s, e: "HP_AUTH_KEY_ENCRYPTION_KEY" not in e,
        "absent (backups never need the key encryption key)",
    ),
    (
        "HP_AUTH_ENVIRONMENT",
        lambda _s, e: "HP_AUTH_ENVIRONMENT" not in e,
        "absent (the auth ConfigMap is not for backups: it demands the key encryption key)",
    ),
    ("HP_ENVIRONMENT", lambda s, _e: s.settings.environment != "local", "not `local`"),
]
ROLE_REQUIREMENTS: dict[str, list[Requirement]] = {
    "api": PLATFORM_REQUIREMENTS,
    "etl": PLATFORM_REQUIREMENTS,
    "relay": [*PLATFORM_REQUIREMENTS, BACKUP_STORE_REQUIREMENT],
    "backup": BACKUP_REQUIREMENTS,
    "backup-verify": BACKUP_REQUIREMENTS,
    "migrate-health": PLATFORM_REQUIREMENTS[:2],
    "auth": AUTH_REQUIREMENTS + SERVING_AUTH_REQUIREMENTS,
    "migrate-auth": AUTH_REQUIREMENTS,
    "auth-maintain": AUTH_REQUIREMENTS,
}


def _load(
    cls: type[Any], prefix: str, env: Mapping[str, EnvVar], exclude: tuple[str, ...] = ()
) -> tuple[Any, str | None]:
    values = {
        name[len(prefix) :].lower(): var.value
        for name, var in env.items()
        if name.startswith(prefix) and not name.startswith(exclude or ("\0",))
    }
    try:
        return cls.model_validate(values), None
    except Exception as exc:  # pydantic's ValidationError lists every bad field
        return None, " ".join(str(exc).split())


def check_settings(docs: list[Doc], ctx: Context) -> list[str]:
    """Every HP_* variable of an app container (backup CronJobs included) is a Settings,
    AuthSettings or BackupSettings (HP_BACKUP_*) field, the env loads into those classes,
    production requirements hold, helper variables are used."""
    settings_cls, auth_cls = _settings_classes()
    backup_cls = _backup_settings_class()
    containers, problems = app_containers(docs, ctx)
    for app in containers:
        env = app.env
        for name in env:
            if name.startswith("HP_AUTH_"):
                if auth_cls is not None and name[8:].lower() not in auth_cls.model_fields:
                    problems.append(f"{app.where}: {name} is not a field of AuthSettings")
            elif name.startswith("HP_BACKUP_"):
                if name[10:].lower() not in backup_cls.model_fields:
                    problems.append(f"{app.where}: {name} is not a field of BackupSettings")
            elif name.startswith("HP_"):
                if name[3:].lower() not in settings_cls.model_fields:
                    problems.append(f"{app.where}: {name} is not a field of Settings")
            elif not env[name].used:
                problems.append(f"{app.where}: {name} is neither a setting nor used by one")
        settings, error = _load(settings_cls, "HP_", env, exclude=("HP_AUTH_", "HP_BACKUP_"))
        if error:
            problems.append(f"{app.where}: the env does not load into Settings: {error}")
        backup = None
        if app.role in BACKUP_ROLES or any(name.startswith("HP_BACKUP_") for name in env):
            backup, error = _load(backup_cls, "HP_BACKUP_", env)
            if error:
                problems.append(f"{app.where}: the env does not load into BackupSettings: {error}")
        target = settings
        if app.role in AUTH_ROLES | BACKUP_ROLES:
            if auth_cls is None:
                continue
            auth, error = _load(auth_cls, "HP_AUTH_", env)
            if error:
                problems.append(f"{app.where}: the env does not load into AuthSettings: {error}")
            target = auth
            if app.role in BACKUP_ROLES:
                loaded = (settings, auth, backup)
                target = None if None in loaded else BackupJobSettings(*loaded)
        if target is None:
            continue
        for var, ok, wanted in ROLE_REQUIREMENTS[app.role]:
            if not ok(target, env):
                problems.append(f"{app.where} ({app.role}): {var} must be {wanted}")
    return problems


def check_jwt(docs: list[Doc], ctx: Context) -> list[str]:
    """Issuer and audience agree between the auth service, the API/ETL/relay verifiers and
    the gateway's SecurityPolicy; both JWKS URLs reach the auth service's JWKS."""
    problems: list[str] = []
    containers, _ = app_containers(docs, ctx)
    issuers: dict[str, str] = {}
    audiences: dict[str, set[str]] = {}
    jwks: dict[str, str] = {}
    for app in containers:
        if app.role == "auth":
            issuers[app.where] = app.env.get(
                "HP_AUTH_ISSUER", EnvVar("", "healthplatform-auth")
            ).value
            audiences[app.where] = {
                app.env.get("HP_AUTH_AUDIENCE", EnvVar("", "healthplatform-api")).value
            }
        elif app.role in PLATFORM_ROLES:
            issuers[app.where] = app.env.get(
                "HP_JWT_ISSUER", EnvVar("", "healthplatform-auth")
            ).value
            audiences[app.where] = {
                app.env.get("HP_JWT_AUDIENCE", EnvVar("", "healthplatform-api")).value
            }
            if "HP_JWT_JWKS_URL" in app.env:
                jwks[f"{app.where} HP_JWT_JWKS_URL"] = app.env["HP_JWT_JWKS_URL"].value
    for policy in of_kind(docs, "SecurityPolicy"):
        for provider in (policy.get("spec", {}).get("jwt") or {}).get("providers") or []:
            where = f"{ref(policy)} provider {provider.get('name')}"
            issuers[where] = str(provider.get("issuer", ""))
            audiences[where] = set(provider.get("audiences") or [])
            uri = (provider.get("remoteJWKS") or {}).get("uri")
            if uri:
                jwks[f"{where} remoteJWKS"] = str(uri)
    if len(set(issuers.values())) > 1:
        problems.append(f"JWT issuers disagree: {issuers}")
    if audiences and not set.intersection(*audiences.values()):
        problems.append(f"JWT audiences disagree: {audiences}")
    auth_services = {
        name_of(svc)
        for svc in of_kind(docs, "Service")
        for pt in pods_selected(ctx, svc.get("spec", {}).get("selector"))
        if any(app_role(c) == "auth" for c in pt.containers(init=False))
    }
    for where, url in jwks.items():
        parts = urlsplit(url)
        located = service_of_host(parts.hostname or "", ctx.namespace)
        if located is None or located[0] not in auth_services:
            problems.append(f"{where}: {url} is not the auth service ({sorted(auth_services)})")
        elif parts.path != "/.well-known/jwks.json":
            problems.append(f"{where}: {url} is not the JWKS path /.well-known/jwks.json")
    return problems


def check_credentials(docs: list[Doc], ctx: Context) -> list[str]:
    """A URL whose password comes from Secret key (s, k) points at a server that reads the
    same (s, k), or at the operator-made Service of the database that owns Secret s."""
    problems: list[str] = []
    containers, _ = app_containers(docs, ctx)
    for app in containers:
        for var in app.env.values():
            for scheme, url in urls_in(var.value):
                parts = urlsplit(url)
                secrets = [
                    v.secret
                    for v in app.env.values()
                    if v.secret and v.value and v.value == parts.password
                ]
                located = service_of_host(parts.hostname or "", ctx.namespace)
                if not secrets or located is None:
                    continue
                svc = ctx.service(located[0])
                if svc is None:
                    continue
                secret = secrets[0]
                if synthetic(svc):
                    owner = annotations_of(svc)[CREATED_BY].split("/", 1)[-1]
                    if secret[0] != f"{owner}-app":
                        problems.append(
                            f"{app.where}: {var.name} logs into {owner} with Secret "
                            f"{secret[0]!r}, not {owner}-app"
                        )
                    continue
                server_refs = {
                    (r[1], r[2])
                    for pt in pods_selected(ctx, svc.get("spec", {}).get("selector"))
                    for r in config_refs(pt.spec)
                    if r[0] == "Secret"
                }
                if secret not in server_refs:
                    problems.append(
                        f"{app.where}: {var.name} ({scheme}) uses password {secret}, but the "
                        f"pods behind Service {located[0]} read {sorted(server_refs)}"
                    )
    return problems
