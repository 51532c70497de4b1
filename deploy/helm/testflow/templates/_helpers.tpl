{{/* Names, labels and the pod pieces every workload shares. */}}

{{- define "testflow.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "testflow.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "testflow.labels" -}}
app.kubernetes.io/name: {{ include "testflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: testflow
{{- if not .Values.plainManifests }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}
{{- end -}}

{{- define "testflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "testflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "testflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "testflow.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "testflow.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "testflow.secretName" -}}
{{- default (printf "%s-secrets" (include "testflow.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Fail early on settings that cannot work, with a message saying what to change. */}}
{{- define "testflow.validate" -}}
{{- if and (not .Values.secrets.existingSecret) (not .Values.secrets.encryptionKeys) -}}
{{- fail "secrets.encryptionKeys (or secrets.existingSecret with an `encryption-keys` key) is required: the API and the workers must share the payload encryption keys" -}}
{{- end -}}
{{- if le (int .Values.worker.terminationGracePeriodSeconds) (int .Values.worker.gracefulShutdownSeconds) -}}
{{- fail (printf "worker.terminationGracePeriodSeconds (%v) must be longer than worker.gracefulShutdownSeconds (%v), or Kubernetes kills workers before in-flight activities are handed back" .Values.worker.terminationGracePeriodSeconds .Values.worker.gracefulShutdownSeconds) -}}
{{- end -}}
{{- if and .Values.api.enabled (gt (int .Values.api.replicas) 1) (not .Values.secrets.databaseUrl) (not .Values.secrets.existingSecret) -}}
{{- fail "api.replicas > 1 needs a shared database: set secrets.databaseUrl (PostgreSQL) or secrets.existingSecret with a `database-url` key" -}}
{{- end -}}
{{- end -}}

{{/* Environment of every testflow container: ConfigMap + secrets + extras. */}}
{{- define "testflow.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "testflow.fullname" . }}-config
env:
  - name: TESTFLOW_ENCRYPTION_KEYS
    valueFrom:
      secretKeyRef:
        name: {{ include "testflow.secretName" . }}
        key: encryption-keys
  {{- if or .Values.secrets.databaseUrl .Values.secrets.existingSecret }}
  - name: TESTFLOW_DATABASE_URL
    valueFrom:
      secretKeyRef:
        name: {{ include "testflow.secretName" . }}
        key: database-url
        optional: {{ empty .Values.secrets.databaseUrl }}
  {{- end }}
  {{- if .Values.temporal.apiKey.existingSecret }}
  - name: TESTFLOW_TEMPORAL_API_KEY
    valueFrom:
      secretKeyRef:
        name: {{ .Values.temporal.apiKey.existingSecret }}
        key: {{ .Values.temporal.apiKey.key }}
  {{- end }}
  {{- with .Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{- define "testflow.volumeMounts" -}}
- name: data
  mountPath: /data
- name: tmp
  mountPath: /tmp
{{- if .Values.temporal.tls.existingSecret }}
- name: temporal-tls
  mountPath: /etc/testflow/temporal-tls
  readOnly: true
{{- end }}
{{- end -}}

{{- define "testflow.volumes" -}}
- name: data
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- if .Values.temporal.tls.existingSecret }}
- name: temporal-tls
  secret:
    secretName: {{ .Values.temporal.tls.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "testflow.podSpecCommon" -}}
serviceAccountName: {{ include "testflow.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end -}}

{{- define "testflow.configChecksum" -}}
checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}

{{/* The pod of a `testflow run` Job (also the CronJob's job template). */}}
{{- define "testflow.runJobSpec" -}}
backoffLimit: {{ .Values.run.backoffLimit }}
activeDeadlineSeconds: {{ .Values.run.activeDeadlineSeconds }}
ttlSecondsAfterFinished: {{ .Values.run.ttlSecondsAfterFinished }}
template:
  metadata:
    labels:
      {{- include "testflow.selectorLabels" . | nindent 6 }}
      app.kubernetes.io/component: run
  spec:
    {{- include "testflow.podSpecCommon" . | nindent 4 }}
    restartPolicy: Never
    containers:
      - name: run
        image: {{ include "testflow.image" . | quote }}
        imagePullPolicy: {{ .Values.image.pullPolicy }}
        # Exit code: 0 passed, 1 a flow failed, 2 invalid input, 3 infrastructure.
        args:
          - run
          {{- range .Values.run.args }}
          - {{ . | quote }}
          {{- end }}
        {{- include "testflow.env" . | nindent 8 }}
        securityContext:
          {{- toYaml .Values.securityContext | nindent 10 }}
        resources:
          {{- toYaml .Values.run.resources | nindent 10 }}
        volumeMounts:
          {{- include "testflow.volumeMounts" . | nindent 10 }}
          - name: flows
            mountPath: /flows
            readOnly: true
          - name: reports
            mountPath: /reports
    volumes:
      {{- include "testflow.volumes" . | nindent 6 }}
      - name: flows
        configMap:
          name: {{ default (printf "%s-flows" (include "testflow.fullname" .)) .Values.run.existingFlowsConfigMap }}
      - name: reports
        emptyDir: {}
{{- end -}}
