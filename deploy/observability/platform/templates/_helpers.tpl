{{/* Labels of every object of this chart. */}}
{{- define "hpo.labels" -}}
app.kubernetes.io/name: healthplatform-observability
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: healthplatform
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* hpo.freeTierLimits: the recording rules of the free-tier limits (values freeTier.*). */}}
{{- define "hpo.freeTierLimits" -}}
{{- $names := dict "cpuCores" "cpu_cores" "memoryBytes" "memory_bytes" "blockStorageBytes" "block_storage_bytes" "bootVolumeBytes" "boot_volume_bytes" "minVolumeBytes" "min_volume_bytes" "objectStorageBytes" "object_storage_bytes" "backupBudgetBytes" "backup_budget_bytes" "loadBalancers" "load_balancers" -}}
name: healthplatform-free-tier-limits
rules:
{{- range $key := keys $names | sortAlpha }}
  - record: healthplatform:free_tier_limit
    {{- $v := float64 (index $.Values.freeTier $key) }}
    expr: vector({{ if eq $v (floor $v) }}{{ printf "%.0f" $v }}{{ else }}{{ $v }}{{ end }})
    labels:
      resource: {{ index $names $key }}
{{- end }}
{{- end -}}
