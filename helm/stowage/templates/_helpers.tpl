{{/* Names, labels and shared pieces (deploy.md §6.1). */}}

{{- define "stowage.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "stowage.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "stowage.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Immutable: name and instance only. */}}
{{- define "stowage.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stowage.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "stowage.labels" -}}
helm.sh/chart: {{ include "stowage.chart" . }}
{{ include "stowage.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: package-registry
app.kubernetes.io/part-of: forgejo
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "stowage.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "stowage.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* registry/repository:tag, or @digest; global.imageRegistry wins. */}}
{{- define "stowage.image" -}}
{{- $registry := default .Values.image.registry .Values.global.imageRegistry }}
{{- $repository := ternary (printf "%s/%s" $registry .Values.image.repository) .Values.image.repository (ne $registry "") }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The one routing regex of deploy.md §2, for the enabled types, under ROOT_URL's sub-path. */}}
{{- define "stowage.subPath" -}}
{{- (urlParse .Values.forge.publicURL).path | trimSuffix "/" }}
{{- end }}

{{- define "stowage.pathRegex" -}}
^{{ include "stowage.subPath" . }}/api/packages/[^/]+/({{ join "|" .Values.routing.types }})(/|$)
{{- end }}

{{/* The same, written to match the whole path (deploy.md §3.5). */}}
{{- define "stowage.fullPathRegex" -}}
^{{ include "stowage.subPath" . }}/api/packages/[^/]+/({{ join "|" .Values.routing.types }})(/.*)?$
{{- end }}

{{- define "stowage.publicHost" -}}
{{- (urlParse .Values.forge.publicURL).host }}
{{- end }}

{{/* 75 % of the memory limit, in MiB, for --max-old-space-size. */}}
{{- define "stowage.heapMiB" -}}
{{- $mem := toString .Values.resources.limits.memory }}
{{- $mib := 0 }}
{{- if hasSuffix "Gi" $mem }}{{ $mib = mul (trimSuffix "Gi" $mem | int) 1024 }}
{{- else if hasSuffix "Mi" $mem }}{{ $mib = trimSuffix "Mi" $mem | int }}
{{- else if hasSuffix "G" $mem }}{{ $mib = div (mul (trimSuffix "G" $mem | int) 1000000000) 1048576 }}
{{- else if hasSuffix "M" $mem }}{{ $mib = div (mul (trimSuffix "M" $mem | int) 1000000) 1048576 }}
{{- else }}{{ fail (printf "resources.limits.memory: use Mi or Gi, not %s" $mem) }}
{{- end }}
{{- div (mul $mib 3) 4 }}
{{- end }}

{{/* Render-time checks of deploy.md §6.2, each failing with a one-line reason. */}}
{{- define "stowage.validate" -}}
{{- if not .Values.forge.publicURL }}{{ fail "forge.publicURL is required: Forgejo's ROOT_URL, e.g. https://git.example.org/" }}{{ end }}
{{- if not .Values.forge.serviceToken.existingSecret }}{{ fail "forge.serviceToken.existingSecret is required: a Secret with a site admin's read:user,read:organization token" }}{{ end }}
{{- if not .Values.database.host }}{{ fail "database.host is required: the MySQL/MariaDB server" }}{{ end }}
{{- if not .Values.database.existingSecret }}{{ fail "database.existingSecret is required: a Secret with the database password" }}{{ end }}
{{- if eq .Values.storage.type "s3" }}{{ fail "storage.type s3 is reserved and not implemented yet: use filesystem" }}{{ end }}
{{- $several := or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) }}
{{- if and $several (eq .Values.storage.type "filesystem") (not (has "ReadWriteMany" .Values.storage.filesystem.accessModes)) }}
{{- fail "more than one replica (or autoscaling) needs storage.filesystem.accessModes with ReadWriteMany: every pod shares the blob volume" }}
{{- end }}
{{- range .Values.routing.types }}
{{- if not (has . (list "alt" "arch" "debian" "freebsd" "vieter")) }}{{ fail (printf "routing.types: unknown type %s (alt, arch, debian, freebsd, vieter)" .) }}{{ end }}
{{- end }}
{{- end }}

{{/* More than one pod can run: PDB and RWX matter. */}}
{{- define "stowage.several" -}}
{{- if or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{/* Settings shared by the server, the init container and the migration Job. */}}
{{- define "stowage.databaseURL" -}}
mysql://{{ .Values.database.user | urlquery }}@{{ .Values.database.host }}:{{ int .Values.database.port }}/{{ .Values.database.name | urlquery }}
{{- end }}

{{/* Inline env for the hook Job (it runs before the ConfigMap exists). */}}
{{- define "stowage.migrationEnv" -}}
- name: DATABASE_URL
  value: {{ include "stowage.databaseURL" . | quote }}
- name: DATABASE_PASSWORD_FILE
  value: /run/secrets/database/password
- name: DATABASE_TLS
  value: {{ .Values.database.tls.enabled | quote }}
- name: STOWAGE_DATA_DIR
  value: /data
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: TMPDIR
  value: /tmp
{{- end }}

{{- define "stowage.secretVolumes" -}}
- name: database-password
  secret:
    secretName: {{ .Values.database.existingSecret }}
    items:
      - key: {{ .Values.database.passwordKey }}
        path: password
{{- end }}

{{- define "stowage.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "stowage.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* All labels, for pods the Service must not select (migration Job, helm test). */}}
{{- define "stowage.auxLabels" -}}
helm.sh/chart: {{ include "stowage.chart" .ctx }}
app.kubernetes.io/name: {{ include "stowage.name" .ctx }}-{{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: forgejo
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end }}
