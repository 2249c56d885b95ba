{{/*
Names and labels. Templates that render one component take a dict:
  root: the top-level context ($), name: the component's key in .Values.components, c: its values.
*/}}

{{- define "coachline.fullname" -}}
{{- if contains "coachline" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-coachline" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* 50 + "-" + the longest component name stays within the 63 characters of a label value. */}}
{{- define "coachline.componentName" -}}
{{- printf "%s-%s" (include "coachline.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "coachline.selectorLabels" -}}
app.kubernetes.io/name: coachline
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "coachline.labels" -}}
{{ include "coachline.selectorLabels" . }}
app.kubernetes.io/part-of: coachline
app.kubernetes.io/version: {{ include "coachline.imageTag" .root | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "coachline.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{- define "coachline.consumerGroup" -}}
{{- .c.consumerGroup | default (printf "coachline-%s" .name) -}}
{{- end -}}

{{/* The services read their own settings under <COMPONENT>_ (INTAKE_HTTP_PORT, ...). */}}
{{- define "coachline.envPrefix" -}}
{{- printf "%s_" (upper .name) -}}
{{- end -}}

{{- define "coachline.databaseUrlSecret" -}}
{{- if .c.databaseUrlSecret -}}
{{- toYaml .c.databaseUrlSecret -}}
{{- else -}}
{{- toYaml .root.Values.postgresql.databaseUrlSecret -}}
{{- end -}}
{{- end -}}
