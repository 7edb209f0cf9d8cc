{{/*
Settings of the app containers: which HP_* variable comes from where. Non-secret settings go
into two ConfigMaps (hp.appSettings, hp.authSettings); secrets are referenced from the
Secrets listed in values `secrets.*` or created by CloudNativePG (`<cluster>-app`, keys
`username`/`password`). URLs that carry a password are assembled with `$(VAR)` from helper
variables that are always defined earlier in the same env list.
*/}}

{{/*
hp.derivedSettingKeys: HP_* variables the chart sets itself; apps.settings and
apps.auth.settings may not override them (hp.validateValues).
*/}}
{{- define "hp.derivedSettingKeys" -}}
HP_ENVIRONMENT HP_PUBLIC_URL HP_DATA_DIR HP_OBJECT_STORE HP_S3_ENDPOINT_URL HP_S3_REGION HP_S3_BUCKET HP_ERASURE_LOG_BUCKET HP_S3_ACCESS_KEY_ID HP_S3_SECRET_ACCESS_KEY HP_EVENTS_BACKEND HP_RABBITMQ_URL HP_RABBITMQ_QUEUE HP_REDIS_URL HP_DATABASE_URL HP_JWT_JWKS_URL HP_REVOCATION_URL HP_JWT_ISSUER HP_JWT_AUDIENCE HP_OTEL_EXPORTER_OTLP_ENDPOINT HP_OTEL_SAMPLE_RATIO HP_AUTH_ENVIRONMENT HP_AUTH_DATA_DIR HP_AUTH_RP_ID HP_AUTH_ALLOWED_ORIGINS HP_AUTH_ISSUER HP_AUTH_AUDIENCE HP_AUTH_DATABASE_URL HP_AUTH_REDIS_URL HP_AUTH_KEY_ENCRYPTION_KEY HP_BACKUP_BUCKET HP_BACKUP_KEEP_DAILY HP_BACKUP_KEEP_WEEKLY HP_BACKUP_BUDGET_GB
{{- end -}}

{{/* hp.appSettings: ConfigMap data of the API, ETL worker and relay (Settings, HP_*). */}}
{{- define "hp.appSettings" -}}
{{- $region := .Values.objectStore.region -}}
{{- if eq .Values.objectStore.provider "seaweedfs" }}{{ $region = "us-east-1" }}{{ end -}}
{{- $derived := dict
  "HP_ENVIRONMENT" .Values.environment
  "HP_PUBLIC_URL" (include "hp.publicUrl" .)
  "HP_DATA_DIR" "/tmp/healthplatform"
  "HP_OBJECT_STORE" "s3"
  "HP_S3_ENDPOINT_URL" (include "hp.s3Endpoint" .)
  "HP_S3_REGION" $region
  "HP_S3_BUCKET" .Values.objectStore.buckets.dataLake
  "HP_ERASURE_LOG_BUCKET" .Values.objectStore.buckets.erasureLog
  "HP_EVENTS_BACKEND" "rabbitmq"
  "HP_RABBITMQ_QUEUE" .Values.apps.rabbitmqQueue
  "HP_JWT_JWKS_URL" (include "hp.jwksUrl" .)
  "HP_REVOCATION_URL" (include "hp.revocationUrl" .)
  "HP_JWT_ISSUER" .Values.jwt.issuer
  "HP_JWT_AUDIENCE" .Values.jwt.audience
-}}
{{- $derived = merge $derived (include "hp.tracingSettings" . | fromYaml) -}}
{{- toYaml (merge (dict) $derived .Values.apps.settings) -}}
{{- end -}}

{{/* hp.tracingSettings: OTLP export of every service (the auth service reads the shared
HP_OTEL_* settings too); nothing when tracing.otlpEndpoint is empty. */}}
{{- define "hp.tracingSettings" -}}
{{- if .Values.tracing.otlpEndpoint -}}
HP_OTEL_EXPORTER_OTLP_ENDPOINT: {{ .Values.tracing.otlpEndpoint | quote }}
HP_OTEL_SAMPLE_RATIO: {{ .Values.tracing.sampleRatio | toString | quote }}
{{- end -}}
{{- end -}}

{{/* hp.authSettings: ConfigMap data of the auth service (AuthSettings, HP_AUTH_*). */}}
{{- define "hp.authSettings" -}}
{{- $derived := dict
  "HP_AUTH_ENVIRONMENT" .Values.environment
  "HP_AUTH_DATA_DIR" "/tmp/healthplatform"
  "HP_AUTH_RP_ID" .Values.publicHost
  "HP_AUTH_ALLOWED_ORIGINS" (include "hp.publicUrl" .)
  "HP_AUTH_ISSUER" .Values.jwt.issuer
  "HP_AUTH_AUDIENCE" .Values.jwt.audience
-}}
{{- $derived = merge $derived (include "hp.tracingSettings" . | fromYaml) -}}
{{- toYaml (merge (dict) $derived .Values.apps.auth.settings) -}}
{{- end -}}

{{/* hp.secretEnv: one env entry read from a Secret key. Usage: include "hp.secretEnv" (list "NAME" "secret" "key") */}}
{{- define "hp.secretEnv" -}}
- name: {{ index . 0 }}
  valueFrom:
    secretKeyRef:
      name: {{ index . 1 }}
      key: {{ index . 2 }}
{{- end -}}

{{/* hp.env.healthDatabase: HP_DATABASE_URL from the CloudNativePG app Secret of the health cluster. */}}
{{- define "hp.env.healthDatabase" -}}
{{- $cluster := include "hp.healthDbCluster" . -}}
{{ include "hp.secretEnv" (list "DATABASE_USERNAME" (printf "%s-app" $cluster) "username") }}
{{ include "hp.secretEnv" (list "DATABASE_PASSWORD" (printf "%s-app" $cluster) "password") }}
- name: HP_DATABASE_URL
  value: {{ printf "postgresql+asyncpg://$(DATABASE_USERNAME):$(DATABASE_PASSWORD)@%s-rw:%s/%s" $cluster (include "hp.port.postgres" .) .Values.data.postgres.health.database | quote }}
{{- end -}}

{{/* hp.env.authDatabase: HP_AUTH_DATABASE_URL from the CloudNativePG app Secret of the auth cluster. */}}
{{- define "hp.env.authDatabase" -}}
{{- $cluster := include "hp.authDbCluster" . -}}
{{ include "hp.secretEnv" (list "AUTH_DATABASE_USERNAME" (printf "%s-app" $cluster) "username") }}
{{ include "hp.secretEnv" (list "AUTH_DATABASE_PASSWORD" (printf "%s-app" $cluster) "password") }}
- name: HP_AUTH_DATABASE_URL
  value: {{ printf "postgresql+asyncpg://$(AUTH_DATABASE_USERNAME):$(AUTH_DATABASE_PASSWORD)@%s-rw:%s/%s" $cluster (include "hp.port.postgres" .) .Values.data.postgres.auth.database | quote }}
{{- end -}}

{{/* hp.env.objectStore: S3 credentials. */}}
{{- define "hp.env.objectStore" -}}
{{- $s := .Values.secrets.objectStore -}}
{{ include "hp.secretEnv" (list "HP_S3_ACCESS_KEY_ID" $s.name $s.accessKeyIdKey) }}
{{ include "hp.secretEnv" (list "HP_S3_SECRET_ACCESS_KEY" $s.name $s.secretAccessKeyKey) }}
{{- end -}}

{{/* hp.env.rabbitmq: HP_RABBITMQ_URL with the platform user. */}}
{{- define "hp.env.rabbitmq" -}}
{{- $s := .Values.secrets.rabbitmq -}}
{{ include "hp.secretEnv" (list "RABBITMQ_USERNAME" $s.name $s.usernameKey) }}
{{ include "hp.secretEnv" (list "RABBITMQ_PASSWORD" $s.name $s.passwordKey) }}
- name: HP_RABBITMQ_URL
  value: {{ printf "amqp://$(RABBITMQ_USERNAME):$(RABBITMQ_PASSWORD)@%s:%s/" (include "hp.rabbitmq" .) (include "hp.port.amqp" .) | quote }}
{{- end -}}

{{/* hp.env.valkeyHealth: HP_REDIS_URL (rate limits). */}}
{{- define "hp.env.valkeyHealth" -}}
{{- $s := .Values.secrets.valkeyHealth -}}
{{ include "hp.secretEnv" (list "VALKEY_PASSWORD" $s.name $s.passwordKey) }}
- name: HP_REDIS_URL
  value: {{ printf "redis://:$(VALKEY_PASSWORD)@%s:%s/0" (include "hp.valkeyHealth" .) (include "hp.port.valkey" .) | quote }}
{{- end -}}

{{/* hp.env.valkeyAuth: HP_AUTH_REDIS_URL (WebAuthn challenges). */}}
{{- define "hp.env.valkeyAuth" -}}
{{- $s := .Values.secrets.valkeyAuth -}}
{{ include "hp.secretEnv" (list "AUTH_VALKEY_PASSWORD" $s.name $s.passwordKey) }}
- name: HP_AUTH_REDIS_URL
  value: {{ printf "redis://:$(AUTH_VALKEY_PASSWORD)@%s:%s/0" (include "hp.valkeyAuth" .) (include "hp.port.valkey" .) | quote }}
{{- end -}}

{{/* hp.env.authKeys: the key encryption key of the signing keys. */}}
{{- define "hp.env.authKeys" -}}
{{- $s := .Values.secrets.authKeys -}}
{{ include "hp.secretEnv" (list "HP_AUTH_KEY_ENCRYPTION_KEY" $s.name $s.keyEncryptionKeyKey) }}
{{- end -}}

{{/* hp.env.platform: everything the API, ETL worker and relay read besides the ConfigMap. */}}
{{- define "hp.env.platform" -}}
{{ include "hp.env.healthDatabase" . }}
{{ include "hp.env.objectStore" . }}
{{ include "hp.env.rabbitmq" . }}
{{ include "hp.env.valkeyHealth" . }}
{{- end -}}

{{/* hp.env.auth: everything the auth service reads besides its ConfigMap. */}}
{{- define "hp.env.auth" -}}
{{ include "hp.env.authDatabase" . }}
{{ include "hp.env.valkeyAuth" . }}
{{ include "hp.env.authKeys" . }}
{{- end -}}

{{/*
hp.env.backupStore: the backup store of `healthplatform backup` (BackupSettings, HP_BACKUP_*):
the backups bucket with the data lake's endpoint and S3 key. The backup CronJobs write it,
the relay reads its status.json for the hp_backup_* metrics.
*/}}
{{- define "hp.env.backupStore" -}}
- name: HP_BACKUP_BUCKET
  value: {{ .Values.objectStore.buckets.backups | quote }}
{{- end -}}

{{/*
hp.env.backupJob: everything the backup CronJobs read besides the app ConfigMap: both
database URLs, the S3 key, the backup store and retention. Not the auth ConfigMap: its
HP_AUTH_ENVIRONMENT would demand the key encryption key, which backups never need.
*/}}
{{- define "hp.env.backupJob" -}}
{{- $j := .Values.backups.jobs -}}
{{ include "hp.env.healthDatabase" . }}
{{ include "hp.env.authDatabase" . }}
{{ include "hp.env.objectStore" . }}
{{ include "hp.env.backupStore" . }}
- name: HP_BACKUP_KEEP_DAILY
  value: {{ $j.keepDaily | toString | quote }}
- name: HP_BACKUP_KEEP_WEEKLY
  value: {{ $j.keepWeekly | toString | quote }}
- name: HP_BACKUP_BUDGET_GB
  value: {{ $j.budgetGb | toString | quote }}
- name: HP_AUTH_DATA_DIR
  value: /tmp/healthplatform
{{- end -}}

{{/* hp.envFrom.app / hp.envFrom.auth: the ConfigMaps. */}}
{{- define "hp.envFrom.app" -}}
- configMapRef:
    name: {{ include "hp.appConfig" . }}
{{- end -}}
{{- define "hp.envFrom.auth" -}}
- configMapRef:
    name: {{ include "hp.appConfig" . }}
- configMapRef:
    name: {{ include "hp.authConfig" . }}
{{- end -}}

{{/* hp.env.inline: settings YAML (a map) as literal env entries, for hook Jobs that run before the ConfigMaps exist. */}}
{{- define "hp.env.inline" -}}
{{- range $key, $value := fromYaml . }}
- name: {{ $key }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* hp.env.migrateHealth: env of the health migration Job (inline settings, database URL). */}}
{{- define "hp.env.migrateHealth" -}}
{{- $settings := dict "HP_ENVIRONMENT" .Values.environment "HP_DATA_DIR" "/tmp/healthplatform" "HP_LOG_LEVEL" (.Values.apps.settings.HP_LOG_LEVEL | default "INFO") "HP_LOG_FORMAT" (.Values.apps.settings.HP_LOG_FORMAT | default "json") -}}
{{ include "hp.env.inline" (toYaml $settings) | trim }}
{{ include "hp.env.healthDatabase" . }}
{{- end -}}

{{/* hp.env.migrateAuth: env of the auth migration/maintenance Job (inline settings, database URL, key). */}}
{{- define "hp.env.migrateAuth" -}}
{{ include "hp.env.inline" (include "hp.authSettings" .) | trim }}
{{ include "hp.env.authDatabase" . }}
{{ include "hp.env.authKeys" . }}
{{- end -}}
