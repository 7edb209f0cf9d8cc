{{/*
Helpers of the security templates (NetworkPolicies from the flow matrix, RBAC, Namespace,
SealedSecrets). Every security object is rendered with the data layer, the first release
installed: the default deny exists before any platform pod starts (docs/security.md).
*/}}

{{/*
hp.security.components: the chart's components a flow may name (app.kubernetes.io/name of
their pods). CloudNativePG copies the cluster's inheritedMetadata labels (hp.selectorLabels
of `health-db` / `auth-db`) onto its pods, so the databases are selected the same way.
tests/deploy/test_security_network.py checks this list against the render.
*/}}
{{- define "hp.security.components" -}}
api auth etl-worker relay migrate-health migrate-auth auth-maintain backup backup-verify rabbitmq valkey-health valkey-auth s3 s3-create-bucket health-db auth-db
{{- end -}}

{{/*
hp.security.absent: parties that do not exist with these values; flows naming them are
left out. The in-cluster S3 server (`s3`) exists only with objectStore.provider=seaweedfs,
the external object store (`object-storage`) only without it; the backup jobs only with
backups.jobs.enabled.
*/}}
{{- define "hp.security.absent" -}}
{{- if eq .Values.objectStore.provider "seaweedfs" -}}object-storage{{- else -}}s3 s3-create-bucket{{- end -}}
{{- if not .Values.backups.jobs.enabled }} backup backup-verify{{- end -}}
{{- end -}}

{{/* hp.security.flows: the flows of the matrix that apply to these values, as YAML `flows: [...]`. */}}
{{- define "hp.security.flows" -}}
{{- $absent := splitList " " (include "hp.security.absent" .) -}}
{{- $components := splitList " " (include "hp.security.components" .) -}}
{{- $flows := list -}}
{{- range $i, $flow := .Values.security.flows -}}
{{- range $party := list $flow.from $flow.to -}}
{{- if not (or (eq $party "*") (has $party $components) (hasKey $.Values.security.peers $party)) -}}
{{- fail (printf "security.flows[%d]: %q is neither a component (%s), a peer in security.peers nor \"*\"" $i $party (join ", " $components)) -}}
{{- end -}}
{{- end -}}
{{- if eq $flow.to "*" -}}
{{- fail (printf "security.flows[%d]: \"*\" may only be a source" $i) -}}
{{- end -}}
{{- if not (or (has $flow.from $absent) (has $flow.to $absent)) -}}
{{- $flows = append $flows $flow -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "flows" $flows) -}}
{{- end -}}

{{/*
hp.security.isLocal: "true" when a party's pods live in the release namespace (a chart
component, "*", or a peer whose namespace is empty): such a party gets its own policy.
Usage: include "hp.security.isLocal" (dict "root" $ "party" "api")
*/}}
{{- define "hp.security.isLocal" -}}
{{- $peer := index .root.Values.security.peers .party | default dict -}}
{{- if or (eq .party "*") (not (hasKey .root.Values.security.peers .party)) (and (not $peer.ipBlocks) (not $peer.namespace)) -}}true{{- end -}}
{{- end -}}

{{/* hp.security.podLabels: pod labels of a peer (plus the owning-Gateway labels Envoy Gateway puts on this chart's proxies). */}}
{{- define "hp.security.podLabels" -}}
{{- $peer := index .root.Values.security.peers .party -}}
{{- $labels := deepCopy ($peer.podLabels | default dict) -}}
{{- if $peer.ownedByGateway -}}
{{- $_ := set $labels "gateway.envoyproxy.io/owning-gateway-name" (include "hp.gateway" .root) -}}
{{- $_ := set $labels "gateway.envoyproxy.io/owning-gateway-namespace" .root.Release.Namespace -}}
{{- end -}}
{{- toYaml $labels -}}
{{- end -}}

{{/*
hp.security.selector: the podSelector of a local party's own policy.
Usage: include "hp.security.selector" (dict "root" $ "party" "api")
*/}}
{{- define "hp.security.selector" -}}
{{- if eq .party "*" -}}
{}
{{- else if hasKey .root.Values.security.peers .party -}}
matchLabels:
  {{- include "hp.security.podLabels" . | nindent 2 }}
{{- else -}}
matchLabels:
  {{- include "hp.selectorLabels" (dict "root" .root "component" .party) | nindent 2 }}
{{- end -}}
{{- end -}}

{{/*
hp.security.peer: the NetworkPolicy peers (`from`/`to` entries) of a party. Namespaces are
selected by `kubernetes.io/metadata.name`, the one label every namespace carries.
*/}}
{{- define "hp.security.peer" -}}
{{- $peer := index .root.Values.security.peers .party | default dict -}}
{{- if eq .party "*" -}}
- podSelector: {}
{{- else if $peer.ipBlocks -}}
{{- range $peer.ipBlocks }}
- ipBlock:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- else if $peer.namespace -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ $peer.namespace }}
  podSelector:
    matchLabels:
      {{- include "hp.security.podLabels" . | nindent 6 }}
{{- else -}}
- podSelector:
    {{- include "hp.security.selector" . | nindent 4 }}
{{- end -}}
{{- end -}}

{{/* hp.security.port: one NetworkPolicyPort of a flow (port number or container port name). */}}
{{- define "hp.security.port" -}}
- protocol: {{ .protocol | default "TCP" }}
  port: {{ .port }}
{{- end -}}
