{{/*
hp.appDeployment: a Deployment of the platform image running one command.
Arguments (dict):
  root        the chart context ($)
  component   app.kubernetes.io/name (api, etl-worker, relay, auth)
  role        app.kubernetes.io/component (server, worker)
  args        container args after the `healthplatform` entrypoint
  port        the container port (number) named `portName`
  portName    `http` (probes on /health/*) or `metrics` (probes on /metrics)
  resources   requests and limits
  replicas    replicas, or nil when an autoscaler owns the count
  auth        true for the auth service (AuthSettings env)
  backupStore true for the relay (HP_BACKUP_BUCKET: it exports the backup metrics)
*/}}
{{- define "hp.appDeployment" -}}
{{- $root := .root -}}
{{- $name := include "hp.name" (dict "root" $root "component" .component) -}}
{{- $ctx := dict "root" $root "component" .component "role" .role "layer" "apps" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "hp.labels" $ctx | nindent 4 }}
spec:
  {{- if not (kindIs "invalid" .replicas) }}
  replicas: {{ .replicas }}
  {{- end }}
  revisionHistoryLimit: 3
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  selector:
    matchLabels:
      {{- include "hp.selectorLabels" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "hp.labels" $ctx | nindent 8 }}
      annotations:
        checksum/config: {{ include "hp.checksum" (dict "root" $root "path" "/apps/configmap.yaml") }}
    spec:
      {{- include "hp.appPod" (dict "root" $root "serviceAccount" $name) | nindent 6 }}
      terminationGracePeriodSeconds: {{ $root.Values.apps.terminationGracePeriodSeconds }}
      containers:
        - name: {{ .component }}
          image: {{ include "hp.appImage" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            {{- toYaml .args | nindent 12 }}
          envFrom:
            {{- if .auth }}
            {{- include "hp.envFrom.auth" $root | nindent 12 }}
            {{- else }}
            {{- include "hp.envFrom.app" $root | nindent 12 }}
            {{- end }}
          env:
            {{- if .auth }}
            {{- include "hp.env.auth" $root | nindent 12 }}
            {{- else }}
            {{- include "hp.env.platform" $root | nindent 12 }}
            {{- end }}
            {{- if .backupStore }}
            {{- include "hp.env.backupStore" $root | nindent 12 }}
            {{- end }}
          ports:
            - name: {{ .portName }}
              containerPort: {{ .port }}
          {{- if eq .portName "http" }}
          startupProbe:
            httpGet:
              path: /health/live
              port: http
            periodSeconds: 5
            failureThreshold: 24
          livenessProbe:
            httpGet:
              path: /health/live
              port: http
            periodSeconds: 20
            timeoutSeconds: 3
          readinessProbe:
            httpGet:
              path: /health/ready
              port: http
            periodSeconds: 10
            timeoutSeconds: 5
          {{- else }}
          # No HTTP health endpoint in this process: the Prometheus exporter answering
          # shows the process is up (its readiness is its own RabbitMQ/database retries).
          livenessProbe:
            httpGet:
              path: /metrics
              port: metrics
            initialDelaySeconds: 15
            periodSeconds: 30
            timeoutSeconds: 5
          readinessProbe:
            httpGet:
              path: /metrics
              port: metrics
            periodSeconds: 15
            timeoutSeconds: 5
          {{- end }}
          resources:
            {{- toYaml .resources | nindent 12 }}
          securityContext:
            {{- include "hp.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            {{- include "hp.tmpMount" $root | nindent 12 }}
      volumes:
        {{- include "hp.tmpVolume" $root | nindent 8 }}
{{- end -}}

{{/*
hp.appService: a ClusterIP Service in front of one app Deployment.
Usage: include "hp.appService" (dict "root" $ "component" "api" "role" "server" "portName" "http" "port" 8000)
*/}}
{{- define "hp.appService" -}}
{{- $ctx := dict "root" .root "component" .component "role" .role "layer" "apps" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "hp.name" (dict "root" .root "component" .component) }}
  labels:
    {{- include "hp.labels" $ctx | nindent 4 }}
spec:
  selector:
    {{- include "hp.selectorLabels" $ctx | nindent 4 }}
  ports:
    - name: {{ .portName }}
      port: {{ .port }}
      targetPort: {{ .portName }}
{{- end -}}
