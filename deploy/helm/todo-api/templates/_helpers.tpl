{{- define "todo-api.name" -}}{{ .Chart.Name }}{{- end -}}
{{- define "todo-api.fullname" -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- define "todo-api.selector" -}}
app.kubernetes.io/name: {{ include "todo-api.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "todo-api.labels" -}}
{{ include "todo-api.selector" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
{{- define "todo-api.image" -}}{{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}{{- end -}}
{{/* The environment every container of the chart gets: secrets by reference, then the plain settings. */}}
{{- define "todo-api.env" -}}
- name: DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.name }}, key: {{ .Values.secrets.databaseURLKey }}}}
{{- if .Values.secrets.databaseDirectURLKey }}
- name: DATABASE_DIRECT_URL
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.name }}, key: {{ .Values.secrets.databaseDirectURLKey }}}}
{{- end }}
- name: JWT_SECRET_KEY
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.name }}, key: {{ .Values.secrets.jwtSecretKey }}}}
- name: PORT
  value: "8000"
- name: METRICS_ADDR
  value: {{ printf ":%d" (int .Values.metrics.port) | quote }}
{{- range $k, $v := .Values.config }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end -}}
{{- define "todo-api.securityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: {drop: [ALL]}
{{- end -}}
