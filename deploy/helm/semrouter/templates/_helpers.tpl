{{/* Names and labels shared by every template. */}}

{{- define "semrouter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "semrouter.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "semrouter.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "semrouter.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "semrouter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "semrouter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: semrouter
{{- end -}}

{{/* Selector labels of the router pods. */}}
{{- define "semrouter.routerSelector" -}}
app.kubernetes.io/name: {{ include "semrouter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: router
{{- end -}}

{{/* Selector labels of the Envoy gateway pods. */}}
{{- define "semrouter.gatewaySelector" -}}
app.kubernetes.io/name: {{ include "semrouter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "semrouter.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Which processes a router pod runs. */}}
{{- define "semrouter.extproc" -}}
{{- if has .Values.router.mode (list "extproc" "both") }}true{{ end -}}
{{- end -}}
{{- define "semrouter.proxy" -}}
{{- if has .Values.router.mode (list "proxy" "both") }}true{{ end -}}
{{- end -}}

{{/* The headless Service: one DNS record per ready router pod, so Envoy balances per request (a gRPC
     connection to a ClusterIP would stick to one pod). */}}
{{- define "semrouter.headless" -}}
{{- printf "%s-headless" .Values.router.service.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Milvus server the replicas share: the chart's own (milvus.deploy) or milvus.uri. */}}
{{- define "semrouter.milvusUri" -}}
{{- if .Values.milvus.deploy -}}
{{- printf "http://%s:19530" .Values.milvus.serviceName -}}
{{- else -}}
{{- .Values.milvus.uri -}}
{{- end -}}
{{- end -}}

{{- define "semrouter.milvusSelector" -}}
app.kubernetes.io/name: {{ include "semrouter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: milvus
{{- end -}}

{{- define "semrouter.upstreamUrl" -}}
{{- printf "http://%s:%v" .Values.productionStack.host .Values.productionStack.port -}}
{{- end -}}

{{/* The router containers' environment: where the production stack and Milvus are, and the API keys
     the config names with api_key_env, from Secrets. */}}
{{- define "semrouter.routerEnv" -}}
env:
  - name: HOME                   # the root filesystem is read-only: anything cached goes to the tmp volume
    value: /tmp
  - name: SEMROUTER_UPSTREAM_URL
    value: {{ include "semrouter.upstreamUrl" . | quote }}
  - name: SEMROUTER_UPSTREAM_HEALTH_PATH
    value: {{ .Values.productionStack.healthPath | quote }}
  - name: SEMROUTER_MILVUS_URI
    value: {{ include "semrouter.milvusUri" . | quote }}
  - name: SEMROUTER_MILVUS_COLLECTION
    value: {{ .Values.milvus.collection | quote }}
  {{- if .Values.milvus.tokenSecret.name }}
  - name: SEMROUTER_MILVUS_TOKEN
    valueFrom:
      secretKeyRef: {name: {{ .Values.milvus.tokenSecret.name }}, key: {{ .Values.milvus.tokenSecret.key }}}
  {{- end }}
  {{- if .Values.redis.url }}
  - name: SEMROUTER_REDIS_URL
    value: {{ .Values.redis.url | quote }}
  - name: SEMROUTER_REDIS_INDEX
    value: {{ .Values.redis.index | quote }}
  {{- if .Values.redis.passwordSecret.name }}
  - name: SEMROUTER_REDIS_PASSWORD
    valueFrom:
      secretKeyRef: {name: {{ .Values.redis.passwordSecret.name }}, key: {{ .Values.redis.passwordSecret.key }}}
  {{- end }}
  {{- end }}
  {{- range .Values.apiKeys }}
  - name: {{ required "apiKeys[].env is required" .env }}
    valueFrom:
      secretKeyRef:
        name: {{ required "apiKeys[].secretName is required" .secretName }}
        key: {{ required "apiKeys[].secretKey is required" .secretKey }}
  {{- end }}
  {{- with .Values.router.env }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{- define "semrouter.routerContainerCommon" -}}
resources:
  {{- toYaml .Values.router.resources | nindent 2 }}
{{- with .Values.router.securityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumeMounts:
  - {name: config, mountPath: /etc/semrouter, readOnly: true}
  - {name: tmp, mountPath: /tmp}
{{- end -}}
