{{/* Names and labels shared by every template. */}}
{{- define "kubetask.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "kubetask.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kubetask.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "kubetask.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* selector labels of one component: include "kubetask.selector" (list . "operator") */}}
{{- define "kubetask.selector" -}}
app.kubernetes.io/name: {{ include "kubetask.name" (index . 0) }}
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "kubetask.taskServiceAccount" -}}
{{- default (printf "%s-task" (include "kubetask.fullname" .)) .Values.tasks.serviceAccount.name -}}
{{- end -}}

{{/* the namespaces the operator and the API act in: the watched ones (namespaced) */}}
{{- define "kubetask.namespaced" -}}
{{- eq .Values.rbac.scope "namespaced" -}}
{{- end -}}

{{/* policy/v1 from Kubernetes 1.21, policy/v1beta1 before */}}
{{- define "kubetask.pdbApiVersion" -}}
{{- if and (.Capabilities.APIVersions.Has "policy/v1") (semverCompare ">=1.21-0" .Capabilities.KubeVersion.Version) -}}
policy/v1
{{- else -}}
policy/v1beta1
{{- end -}}
{{- end -}}

{{/* the locked-down security contexts of the operator's and the API's pods (the images' user, 65532) */}}
{{- define "kubetask.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "kubetask.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* the database settings both processes share */}}
{{- define "kubetask.databaseEnv" -}}
{{- if eq .Values.database.type "sqlite" }}
- name: KUBETASK_DATABASE_URL
  value: {{ printf "sqlite:////var/lib/kubetask/%s" .Values.database.sqlite.file | quote }}
{{- else }}
- name: KUBETASK_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret | quote }}
      key: {{ .Values.database.secretKey | quote }}
{{- end }}
- name: HOME
  value: /tmp
{{- end -}}

{{- define "kubetask.databaseVolume" -}}
{{- if eq .Values.database.type "sqlite" }}
- name: database
  persistentVolumeClaim:
    claimName: {{ .Values.database.sqlite.existingClaim | quote }}
{{- end }}
{{- end -}}

{{- define "kubetask.databaseMount" -}}
{{- if eq .Values.database.type "sqlite" }}
- name: database
  mountPath: /var/lib/kubetask
{{- end }}
{{- end -}}
