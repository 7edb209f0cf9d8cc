{{/*
Names, labels and images: the one place every resource name of the platform comes from.
Partials: _pod.tpl (security contexts, volumes), _env.tpl (settings and secret references),
_validate.tpl (cross-field checks).
*/}}

{{/*
hp.fullname: prefix of every resource name. The chart name unless fullnameOverride is set;
deliberately NOT derived from the release name, so that the data, apps and gateway releases
(three releases of this chart) agree on Service and Secret names. Truncated to 30
characters: the longest suffix (`-valkey-health-headless`) must still fit in 63.
*/}}
{{- define "hp.fullname" -}}
{{- default .Chart.Name .Values.fullnameOverride | trunc 30 | trimSuffix "-" -}}
{{- end -}}

{{/*
hp.name: the name of one component, `<fullname>-<component>`.
Usage: include "hp.name" (dict "root" $ "component" "api")
*/}}
{{- define "hp.name" -}}
{{- printf "%s-%s" (include "hp.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* hp.chart: chart name and version, for the helm.sh/chart label. */}}
{{- define "hp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
hp.selectorLabels: name + instance only (never the version: selectors are immutable).
`name` is the component (api, etl-worker, valkey-health, ...), `instance` the platform.
Usage: include "hp.selectorLabels" (dict "root" $ "component" "api")
*/}}
{{- define "hp.selectorLabels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ include "hp.fullname" .root }}
{{- end -}}

{{/*
hp.labels: selector labels plus the recommended app.kubernetes.io set, the layer that owns
the object and commonLabels. `role` is app.kubernetes.io/component (server, worker,
database, cache, broker, gateway, ...).
Usage: include "hp.labels" (dict "root" $ "component" "api" "role" "server" "layer" "apps")
*/}}
{{- define "hp.labels" -}}
{{ include "hp.selectorLabels" . }}
app.kubernetes.io/component: {{ .role }}
app.kubernetes.io/part-of: healthplatform
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "hp.chart" .root }}
healthplatform.io/layer: {{ .layer }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
hp.image: `registry/repository:tag@digest` of an image block; the digest is appended when
set (pinning by digest is preferred). Fails when no tag is given: `latest` is never implied.
Usage: include "hp.image" (dict "image" .Values.data.valkey.image "root" $)
*/}}
{{- define "hp.image" -}}
{{- $tag := .image.tag | default .root.Chart.AppVersion -}}
{{- if or (not $tag) (eq (toString $tag) "latest") -}}
{{- fail (printf "image %s needs a pinned tag (not latest)" .image.repository) -}}
{{- end -}}
{{- $ref := printf "%s/%s:%s" .image.registry .image.repository (toString $tag) -}}
{{- if .image.digest -}}
{{- $ref = printf "%s@%s" $ref .image.digest -}}
{{- end -}}
{{- $ref -}}
{{- end -}}

{{/* hp.appImage: the platform image (one image, several commands). */}}
{{- define "hp.appImage" -}}
{{- include "hp.image" (dict "image" .Values.image "root" .) -}}
{{- end -}}

{{/* ---------------------------------------------------------------------------------
Names of the platform's objects. Every template and every cross-reference (URLs in
settings, route backends, KEDA hosts, JWKS URIs) uses these helpers.
--------------------------------------------------------------------------------- */}}

{{/* hp.healthDbCluster: CloudNativePG Cluster of the health database (Services <name>-rw/-ro/-r, Secret <name>-app). */}}
{{- define "hp.healthDbCluster" -}}{{ include "hp.name" (dict "root" . "component" "health-db") }}{{- end -}}
{{/* hp.authDbCluster: CloudNativePG Cluster of the auth database. */}}
{{- define "hp.authDbCluster" -}}{{ include "hp.name" (dict "root" . "component" "auth-db") }}{{- end -}}
{{/*
hp.dbCluster: the Cluster of a database by its key in data.postgres (`health`, `auth`).
Usage: include "hp.dbCluster" (dict "root" $ "db" "health")
*/}}
{{- define "hp.dbCluster" -}}{{ include "hp.name" (dict "root" .root "component" (printf "%s-db" .db)) }}{{- end -}}
{{/*
hp.backupServerName: the folder (barman server name) a cluster archives into under
backups.pointInTime.destinationPrefix: data.postgres.<db>.backupServerName or the cluster name.
*/}}
{{- define "hp.backupServerName" -}}
{{- (index .root.Values.data.postgres .db).backupServerName | default (include "hp.dbCluster" .) -}}
{{- end -}}
{{/* hp.recoverySourceServerName: the server name a recovery reads the archive of. */}}
{{- define "hp.recoverySourceServerName" -}}
{{- (index .root.Values.data.postgres .db).recovery.sourceServerName | default (include "hp.dbCluster" .) -}}
{{- end -}}
{{/* hp.barmanPlugin: name of CloudNativePG's barman-cloud plugin (deploy/argocd/system/barman-cloud). */}}
{{- define "hp.barmanPlugin" -}}barman-cloud.cloudnative-pg.io{{- end -}}
{{/* hp.backupJob: CronJob (and ServiceAccount) of a logical backup job: daily, weekly, verify. */}}
{{- define "hp.backupJob" -}}{{ include "hp.name" (dict "root" .root "component" (printf "backup-%s" .kind)) }}{{- end -}}
{{/* hp.valkeyHealth: Service/StatefulSet of the rate-limit Valkey. */}}
{{- define "hp.valkeyHealth" -}}{{ include "hp.name" (dict "root" . "component" "valkey-health") }}{{- end -}}
{{/* hp.valkeyAuth: Service/StatefulSet of the challenge Valkey. */}}
{{- define "hp.valkeyAuth" -}}{{ include "hp.name" (dict "root" . "component" "valkey-auth") }}{{- end -}}
{{/* hp.rabbitmq: Service/StatefulSet of RabbitMQ. */}}
{{- define "hp.rabbitmq" -}}{{ include "hp.name" (dict "root" . "component" "rabbitmq") }}{{- end -}}
{{/* hp.seaweedfs: Service/StatefulSet of the optional in-cluster S3 server. */}}
{{- define "hp.seaweedfs" -}}{{ include "hp.name" (dict "root" . "component" "s3") }}{{- end -}}
{{/* hp.api: Deployment/Service of the Health API. */}}
{{- define "hp.api" -}}{{ include "hp.name" (dict "root" . "component" "api") }}{{- end -}}
{{/* hp.auth: Deployment/Service of the passkey auth service. */}}
{{- define "hp.auth" -}}{{ include "hp.name" (dict "root" . "component" "auth") }}{{- end -}}
{{/* hp.worker: Deployment/Service (metrics) of the ETL worker. */}}
{{- define "hp.worker" -}}{{ include "hp.name" (dict "root" . "component" "etl-worker") }}{{- end -}}
{{/* hp.relay: Deployment/Service (metrics) of the outbox relay. */}}
{{- define "hp.relay" -}}{{ include "hp.name" (dict "root" . "component" "relay") }}{{- end -}}
{{/* hp.gateway: the Gateway (and EnvoyProxy) of the platform. */}}
{{- define "hp.gateway" -}}{{ include "hp.fullname" . }}{{- end -}}
{{/* hp.gatewayClass: GatewayClass name (cluster-scoped). */}}
{{- define "hp.gatewayClass" -}}{{ .Values.gateway.gatewayClass.name | default (include "hp.fullname" .) }}{{- end -}}
{{/* hp.clusterIssuer: cert-manager ClusterIssuer name (cluster-scoped). */}}
{{- define "hp.clusterIssuer" -}}{{ .Values.gateway.tls.issuer.name | default (include "hp.name" (dict "root" . "component" "letsencrypt")) }}{{- end -}}
{{/* hp.tlsSecret: Secret cert-manager writes the gateway certificate into. */}}
{{- define "hp.tlsSecret" -}}{{ include "hp.name" (dict "root" . "component" "tls") }}{{- end -}}
{{/* hp.appConfig / hp.authConfig: ConfigMaps of non-secret settings. */}}
{{- define "hp.appConfig" -}}{{ include "hp.name" (dict "root" . "component" "config") }}{{- end -}}
{{- define "hp.authConfig" -}}{{ include "hp.name" (dict "root" . "component" "auth-config") }}{{- end -}}

{{/* Ports: one definition each, used by containers, Services, probes, routes and URLs. */}}
{{- define "hp.port.api" -}}8000{{- end -}}
{{- define "hp.port.auth" -}}8001{{- end -}}
{{- define "hp.port.relayMetrics" -}}9102{{- end -}}
{{- define "hp.port.workerMetrics" -}}9103{{- end -}}
{{- define "hp.port.valkey" -}}6379{{- end -}}
{{- define "hp.port.amqp" -}}5672{{- end -}}
{{- define "hp.port.rabbitmqManagement" -}}15672{{- end -}}
{{- define "hp.port.rabbitmqPrometheus" -}}15692{{- end -}}
{{- define "hp.port.postgres" -}}5432{{- end -}}
{{- define "hp.port.s3" -}}8333{{- end -}}

{{/* hp.svcHost: in-cluster DNS name of a Service: `<name>.<release namespace>.svc.cluster.local`. */}}
{{- define "hp.svcHost" -}}
{{- printf "%s.%s.svc.cluster.local" .name .root.Release.Namespace -}}
{{- end -}}

{{/* hp.jwksUrl: the auth service's JWKS, read in-cluster by the API/ETL and the gateway. */}}
{{- define "hp.jwksUrl" -}}
{{- printf "http://%s:%s/.well-known/jwks.json" (include "hp.svcHost" (dict "root" . "name" (include "hp.auth" .))) (include "hp.port.auth" .) -}}
{{- end -}}

{{/* hp.revocationUrl: the auth service's in-cluster revoked-session list the API polls
(HP_REVOCATION_URL); the gateway routes no /internal path to the auth service. */}}
{{- define "hp.revocationUrl" -}}
{{- printf "http://%s:%s/internal/revoked-sessions" (include "hp.svcHost" (dict "root" . "name" (include "hp.auth" .))) (include "hp.port.auth" .) -}}
{{- end -}}

{{/* hp.publicUrl: HP_PUBLIC_URL and the WebAuthn origin. */}}
{{- define "hp.publicUrl" -}}{{ printf "https://%s" .Values.publicHost }}{{- end -}}

{{/* hp.s3Endpoint: the object store the apps use (external S3 or the in-cluster server). */}}
{{- define "hp.s3Endpoint" -}}
{{- if eq .Values.objectStore.provider "seaweedfs" -}}
{{- printf "http://%s:%s" (include "hp.seaweedfs" .) (include "hp.port.s3" .) -}}
{{- else -}}
{{- .Values.objectStore.endpoint -}}
{{- end -}}
{{- end -}}

{{/* hp.checksum: hash of a rendered template, put on pod templates to roll pods on config changes. */}}
{{- define "hp.checksum" -}}
{{- include (print .root.Template.BasePath .path) .root | sha256sum | trunc 16 -}}
{{- end -}}

{{/*
hp.loadBalancerAnnotations: OCI annotations of the gateway's LoadBalancer Service: the free
flexible L7 load balancer at 10 Mbps, the NSG Terraform created for it (values
loadBalancer.nsgId, from generated/platform-values.yaml) with OKE's own security-list rules
turned off, the load balancer subnet when given, and PROXY protocol v2 towards Envoy
(gateway.clientIP.proxyProtocol: the real client address for the auth limits).
*/}}
{{- define "hp.loadBalancerAnnotations" -}}
oci.oraclecloud.com/load-balancer-type: "lb"
{{- if .Values.gateway.clientIP.proxyProtocol }}
service.beta.kubernetes.io/oci-load-balancer-connection-proxy-protocol-version: "2"
{{- end }}
service.beta.kubernetes.io/oci-load-balancer-shape: {{ .Values.loadBalancer.shape | quote }}
service.beta.kubernetes.io/oci-load-balancer-shape-flex-min: {{ .Values.loadBalancer.minBandwidthMbps | quote }}
service.beta.kubernetes.io/oci-load-balancer-shape-flex-max: {{ .Values.loadBalancer.maxBandwidthMbps | quote }}
{{- with .Values.loadBalancer.nsgId }}
oci.oraclecloud.com/oci-network-security-groups: {{ . | quote }}
service.beta.kubernetes.io/oci-load-balancer-security-list-management-mode: "None"
{{- end }}
{{- with .Values.loadBalancer.subnetId }}
service.beta.kubernetes.io/oci-load-balancer-subnet1: {{ . | quote }}
{{- end }}
{{- with .Values.gateway.proxy.serviceAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}
