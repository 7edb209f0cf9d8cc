{{/*
Configuration files of the data services, as helpers so that pod templates can carry their
checksum (a changed file rolls the pod).
*/}}

{{/* hp.valkeyConf: valkey.conf; no persistence (the data is disposable), LRU eviction under maxmemory. */}}
{{- define "hp.valkeyConf" -}}
bind 0.0.0.0 -::*
port {{ include "hp.port.valkey" .root }}
dir /data
save ""
appendonly no
maxmemory {{ .spec.maxmemory }}
maxmemory-policy allkeys-lru
protected-mode yes
{{- end -}}

{{/* hp.rabbitmqConf: rabbitmq.conf; console logging, memory sized to the container limit. */}}
{{- define "hp.rabbitmqConf" -}}
listeners.tcp.default = {{ include "hp.port.amqp" . }}
management.tcp.port = {{ include "hp.port.rabbitmqManagement" . }}
prometheus.tcp.port = {{ include "hp.port.rabbitmqPrometheus" . }}
loopback_users.guest = true
log.console = true
log.console.level = info
log.file = false
total_memory_available_override_value = {{ .Values.data.rabbitmq.memoryLimitBytes | int64 }}
vm_memory_high_watermark.relative = 0.6
disk_free_limit.absolute = 256MB
# New queues are quorum queues by default; the app declares x-queue-type itself anyway.
default_queue_type = quorum
# Metrics come from rabbitmq_prometheus; the management UI's own collector only costs CPU.
management_agent.disable_metrics_collector = true
{{- end -}}
