{{/*
Cross-field checks that values.schema.json cannot express. Each hp.validate.* helper returns
a message or nothing; hp.validateValues fails once, listing all of them (rendered from
NOTES.txt and from every layer's first template).
*/}}

{{- define "hp.validate.derivedKeys" -}}
{{- $derived := splitList " " (include "hp.derivedSettingKeys" .) -}}
{{- range $key, $_ := merge (dict) .Values.apps.settings .Values.apps.auth.settings -}}
{{- if has $key $derived }}
settings: {{ $key }} is set by the chart from other values; remove it from apps.settings / apps.auth.settings
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hp.validate.settingPrefixes" -}}
{{- range $key, $_ := .Values.apps.settings -}}
{{- if hasPrefix "HP_AUTH_" $key }}
apps.settings: {{ $key }} belongs in apps.auth.settings
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hp.validate.objectStore" -}}
{{- if ne .Values.objectStore.provider "seaweedfs" -}}
{{- if not (hasPrefix "https://" .Values.objectStore.endpoint) }}
objectStore.endpoint: an https:// S3 endpoint is required for provider {{ .Values.objectStore.provider }}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hp.validate.replicas" -}}
{{- with .Values.apps.api.autoscaling -}}
{{- if and .enabled (gt (int .minReplicas) (int .maxReplicas)) }}
apps.api.autoscaling: minReplicas is larger than maxReplicas
{{- end -}}
{{- end -}}
{{- with .Values.apps.worker.keda -}}
{{- if and .enabled (gt (int .minReplicas) (int .maxReplicas)) }}
apps.worker.keda: minReplicas is larger than maxReplicas
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hp.validate.tls" -}}
{{- if and .Values.layers.gateway .Values.gateway.tls.issuer.create (not .Values.gateway.tls.issuer.email) }}
gateway.tls.issuer.email: Let's Encrypt needs an account e-mail
{{- end -}}
{{- end -}}

{{- define "hp.validate.backups" -}}
{{- $pit := .Values.backups.pointInTime -}}
{{- if eq .Values.objectStore.buckets.backups .Values.objectStore.buckets.dataLake }}
objectStore.buckets.backups: the backups must not live in the data lake bucket ({{ .Values.objectStore.buckets.dataLake }}): losing one bucket would lose both
{{- end -}}
{{- $buckets := .Values.objectStore.buckets -}}
{{- if or (eq $buckets.erasureLog $buckets.dataLake) (eq $buckets.erasureLog $buckets.backups) }}
objectStore.buckets.erasureLog: the erasure log needs a bucket of its own ({{ $buckets.erasureLog }} is also the data lake or backups bucket): a restore or a lost bucket must not take it along
{{- end -}}
{{- $timeout := $pit.archiveTimeout | toString -}}
{{- $seconds := 0 -}}
{{- if hasSuffix "min" $timeout }}{{ $seconds = mul (trimSuffix "min" $timeout | int) 60 }}{{ else }}{{ $seconds = trimSuffix "s" $timeout | int }}{{ end -}}
{{- if gt (int $seconds) 900 }}
backups.pointInTime.archiveTimeout: {{ $timeout }} is longer than the 15 min RPO (docs/backup.md)
{{- end -}}
{{- range $db := list "health" "auth" -}}
{{- $spec := index $.Values.data.postgres $db -}}
{{- if $spec.recovery.enabled -}}
{{- if not $pit.enabled }}
data.postgres.{{ $db }}.recovery.enabled: recovery reads the WAL archive; backups.pointInTime.enabled must be true
{{- end -}}
{{- $source := include "hp.recoverySourceServerName" (dict "root" $ "db" $db) -}}
{{- $target := include "hp.backupServerName" (dict "root" $ "db" $db) -}}
{{- if eq $source $target }}
data.postgres.{{ $db }}.backupServerName: the recovered cluster would archive over the WAL it restores from ({{ $source }}); set a new name, e.g. {{ $source }}-r1
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* hp.validateValues: fail with every message at once. */}}
{{- define "hp.validateValues" -}}
{{- $messages := list
  (include "hp.validate.derivedKeys" .)
  (include "hp.validate.settingPrefixes" .)
  (include "hp.validate.objectStore" .)
  (include "hp.validate.replicas" .)
  (include "hp.validate.tls" .)
  (include "hp.validate.backups" .)
-}}
{{- $text := join "" $messages | trim -}}
{{- if $text -}}
{{- fail (printf "\nVALUES VALIDATION:\n%s" $text) -}}
{{- end -}}
{{- end -}}
