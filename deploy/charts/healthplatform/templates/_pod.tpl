{{/*
Pod-level building blocks shared by every workload: Pod Security "restricted" contexts,
the writable /tmp, resources. Every pod of the chart goes through these helpers; the chart
tests check the rendered result on every pod template (init containers included).
*/}}

{{/*
hp.podSecurityContext: non-root with a fixed numeric user, RuntimeDefault seccomp, and an
fsGroup so that mounted volumes are writable by that user.
Usage: include "hp.podSecurityContext" (dict "uid" 10001)
*/}}
{{- define "hp.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
hp.containerSecurityContext: what Pod Security "restricted" asks of each container, plus a
read-only root filesystem (writes go to emptyDir/PVC mounts only).
*/}}
{{- define "hp.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* hp.appUid: numeric user of the platform image (Dockerfile `USER 10001:10001`). */}}
{{- define "hp.appUid" -}}10001{{- end -}}

{{/*
hp.appPod: the common part of every app pod spec (API, ETL, relay, auth, Jobs): own
ServiceAccount without a token, restricted contexts, pull secrets, /tmp.
Usage: include "hp.appPod" (dict "root" $ "serviceAccount" "<name>")
*/}}
{{- define "hp.appPod" -}}
serviceAccountName: {{ .serviceAccount }}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- include "hp.podSecurityContext" (dict "uid" (include "hp.appUid" .root)) | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* hp.tmpVolume / hp.tmpMount: the writable /tmp (HOME, caches and HP_DATA_DIR live there). */}}
{{- define "hp.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.apps.tmpSizeLimit }}
{{- end -}}
{{- define "hp.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/*
hp.serviceAccount: one ServiceAccount per workload, token not mounted.
Usage: include "hp.serviceAccount" (dict "root" $ "name" "<name>" "component" "api" "role" "server" "layer" "apps")
*/}}
{{- define "hp.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .name }}
  labels:
    {{- include "hp.labels" . | nindent 4 }}
automountServiceAccountToken: false
{{- end -}}

{{/*
hp.pdb: a PodDisruptionBudget over one workload's pods.
Usage: include "hp.pdb" (dict "root" $ "name" "<name>" "component" "api" "role" "server" "layer" "apps" "maxUnavailable" 1)
*/}}
{{- define "hp.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .name }}
  labels:
    {{- include "hp.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .maxUnavailable }}
  selector:
    matchLabels:
      {{- include "hp.selectorLabels" . | nindent 6 }}
{{- end -}}
