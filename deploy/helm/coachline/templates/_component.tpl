{{/* The objects of one component. Each template renders nothing when its feature is off. */}}

{{- /*
What every pod of a component has, its Deployment's and its migration Job's alike: the image, the
environment, and the restricted security context (a read-only root with /tmp the one writable path).
*/}}

{{- define "coachline.image" -}}
image: "{{ .root.Values.image.repository }}/{{ .name }}:{{ include "coachline.imageTag" .root }}"
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
{{- end -}}

{{- define "coachline.env" -}}
{{- $root := .root -}}
{{- $c := .c -}}
{{- $prefix := include "coachline.envPrefix" . -}}
env:
  - name: KAFKA_BOOTSTRAP_SERVERS
    value: {{ $root.Values.kafka.bootstrapServers | quote }}
  - name: KAFKA_REPLICATION_FACTOR
    value: {{ $root.Values.kafka.replicationFactor | quote }}
  - name: COACHLINE_TOPIC_PREFIX
    value: {{ $root.Values.kafka.topicPrefix | quote }}
  - name: COACHLINE_ENVIRONMENT
    value: {{ $root.Values.environment | quote }}
  - name: COACHLINE_LOG_LEVEL
    value: {{ $root.Values.logLevel | default "INFO" | quote }}
  - name: {{ $prefix }}HTTP_HOST
    value: "0.0.0.0"
  - name: {{ $prefix }}HTTP_PORT
    value: {{ $c.port | quote }}
  # Set explicitly so the service and its KEDA trigger can never disagree on the group.
  - name: {{ $prefix }}CONSUMER_GROUP
    value: {{ include "coachline.consumerGroup" . | quote }}
  {{- $kpi := $root.Values.components.kpi }}
  {{- if and (eq .name "coaching") $kpi.enabled }}
  # Coaching reads goal figures from this release's kpi Service.
  - name: COACHING_KPI_BASE_URL
    value: {{ printf "http://%s:%v" (include "coachline.componentName" (dict "root" $root "name" "kpi")) $kpi.port | quote }}
  {{- end }}
  {{- if $c.usesDatabase }}
  - name: DATABASE_URL
    valueFrom:
      secretKeyRef:
        {{- include "coachline.databaseUrlSecret" . | nindent 8 }}
  {{- end }}
  {{- with $root.Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  {{- with $c.env }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with $c.envFrom }}
envFrom:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "coachline.podSecurityContext" -}}
# The uid the image's USER names.
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "coachline.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{- define "coachline.tmpMount" -}}
volumeMounts:
  # The only writable path: tempfile and libraries that spool to disk need one.
  - name: tmp
    mountPath: /tmp
{{- end -}}

{{- define "coachline.tmpVolume" -}}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: 64Mi
{{- end -}}

{{- define "coachline.serviceAccount" -}}
{{- if .root.Values.serviceAccount.create }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "coachline.componentName" . }}
  labels:
    {{- include "coachline.labels" . | nindent 4 }}
  {{- with .root.Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
# The services never call the Kubernetes API; a mounted token would only be something to steal.
automountServiceAccountToken: false
{{- end }}
{{- end -}}

{{- define "coachline.deployment" -}}
{{- $root := .root -}}
{{- $c := .c }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "coachline.componentName" . }}
  labels:
    {{- include "coachline.labels" . | nindent 4 }}
spec:
  {{- /* With an autoscaler the replica count is its business; a fixed one here would undo it on every upgrade. */}}
  {{- if not (or $c.autoscaling.enabled $c.keda.enabled) }}
  replicas: {{ $c.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "coachline.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "coachline.labels" . | nindent 8 }}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ $c.port | quote }}
        prometheus.io/path: /metrics
        {{- with $root.Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- if $root.Values.serviceAccount.create }}
      serviceAccountName: {{ include "coachline.componentName" . }}
      {{- end }}
      automountServiceAccountToken: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "coachline.podSecurityContext" . | nindent 8 }}
      terminationGracePeriodSeconds: 30
      containers:
        - name: {{ .name }}
          {{- include "coachline.image" . | nindent 10 }}
          ports:
            - name: http
              containerPort: {{ $c.port }}
              protocol: TCP
          {{- include "coachline.env" . | nindent 10 }}
          # The app answers only once topics exist and migrations ran; until then the startup probe
          # holds the liveness probe back instead of restarting a pod that is busy migrating.
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 5
            failureThreshold: 36
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          # /readyz checks Kafka (and PostgreSQL where used) with 2 s timeouts of its own.
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: 10
            timeoutSeconds: 5
            failureThreshold: 3
          resources:
            {{- toYaml $c.resources | nindent 12 }}
          securityContext:
            {{- include "coachline.containerSecurityContext" . | nindent 12 }}
          {{- include "coachline.tmpMount" . | nindent 10 }}
      {{- include "coachline.tmpVolume" . | nindent 6 }}
      # Spread replicas over nodes so one node's loss leaves the component serving; never blocks scheduling.
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "coachline.selectorLabels" . | nindent 14 }}
      {{- with $root.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}

{{- define "coachline.service" }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "coachline.componentName" . }}
  labels:
    {{- include "coachline.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "coachline.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .c.port }}
      targetPort: http
      protocol: TCP
{{- end -}}

{{- define "coachline.podDisruptionBudget" -}}
{{- $pdb := .c.podDisruptionBudget -}}
{{- if $pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "coachline.componentName" . }}
  labels:
    {{- include "coachline.labels" . | nindent 4 }}
spec:
  selector:
    matchLabels:
      {{- include "coachline.selectorLabels" . | nindent 6 }}
  {{- if hasKey $pdb "minAvailable" }}
  minAvailable: {{ $pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $pdb.maxUnavailable | default 1 }}
  {{- end }}
  # A crash-looping pod protects nothing; without this it would block every node drain.
  unhealthyPodEvictionPolicy: AlwaysAllow
{{- end }}
{{- end -}}

{{- define "coachline.networkPolicy" -}}
{{- $root := .root -}}
{{- $c := .c -}}
{{- $np := $root.Values.networkPolicy -}}
{{- if $np.enabled }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "coachline.componentName" . }}
  labels:
    {{- include "coachline.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "coachline.selectorLabels" . | nindent 6 }}
  # Both directions listed: anything not allowed below is denied.
  policyTypes: [Ingress, Egress]
  ingress:
    # The HTTP port (API, /healthz, /readyz, /metrics): from the other components, the ingress
    # controller and the metrics scraper. Probes come from the kubelet, which policies do not block.
    - from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: coachline
              app.kubernetes.io/instance: {{ $root.Release.Name }}
        {{- with $np.ingressFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with $np.metricsFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - port: http
          protocol: TCP
    {{- with $c.networkPolicy.extraIngress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  egress:
    - to:
        {{- toYaml $np.dnsPeers | nindent 8 }}
      ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
    - to:
        {{- toYaml $root.Values.kafka.networkPeers | nindent 8 }}
      ports:
        {{- range $root.Values.kafka.ports }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
    {{- if $c.usesDatabase }}
    - to:
        {{- toYaml $root.Values.postgresql.networkPeers | nindent 8 }}
      ports:
        {{- range $root.Values.postgresql.ports }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
    {{- end }}
    # The HTTP APIs of the other components of this release.
    - to:
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: coachline
              app.kubernetes.io/instance: {{ $root.Release.Name }}
      ports:
        {{- range $other, $oc := $root.Values.components }}
        {{- if $oc.enabled }}
        - port: {{ $oc.port }}
          protocol: TCP
        {{- end }}
        {{- end }}
    {{- with $np.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- with $c.networkPolicy.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
{{- end -}}

{{- define "coachline.horizontalPodAutoscaler" -}}
{{- $as := .c.autoscaling -}}
{{- /* With KEDA on, its ScaledObject owns the HPA and carries the CPU trigger instead. */}}
{{- if and $as.enabled (not .c.keda.enabled) }}
{{- if gt (int $as.minReplicas) (int $as.maxReplicas) }}
{{- fail (printf "components.%s.autoscaling: minReplicas is above maxReplicas" .name) }}
{{- end }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "coachline.componentName" . }}
  labels:
    {{- include "coachline.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "coachline.componentName" . }}
  minReplicas: {{ $as.minReplicas }}
  maxReplicas: {{ $as.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $as.targetCPUUtilizationPercentage }}
  behavior:
    # Scale out at once on a burst of webhooks or wallboards; scale in slowly so consumers do not
    # rebalance back and forth.
    scaleUp:
      stabilizationWindowSeconds: 0
    scaleDown:
      stabilizationWindowSeconds: 300
{{- end }}
{{- end -}}

{{- define "coachline.scaledObject" -}}
{{- $root := .root -}}
{{- $k := .c.keda -}}
{{- if $k.enabled }}
{{- if gt (int $k.minReplicaCount) (int $k.maxReplicaCount) }}
{{- fail (printf "components.%s.keda: minReplicaCount is above maxReplicaCount" .name) }}
{{- end }}
{{- $group := include "coachline.consumerGroup" . }}
{{- $topics := .c.consumes | default (list "") }}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ include "coachline.componentName" . }}
  labels:
    {{- include "coachline.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    name: {{ include "coachline.componentName" . }}
  minReplicaCount: {{ $k.minReplicaCount }}
  maxReplicaCount: {{ $k.maxReplicaCount }}
  pollingInterval: {{ $k.pollingInterval | default 15 }}
  cooldownPeriod: {{ $k.cooldownPeriod | default 300 }}
  # One trigger per consumed topic, on the lag of the component's consumer group. KEDA does not
  # scale past a topic's partition count: extra consumers would sit idle.
  triggers:
    {{- range $topic := $topics }}
    - type: kafka
      metadata:
        bootstrapServers: {{ $root.Values.kafka.bootstrapServers | quote }}
        consumerGroup: {{ $group | quote }}
        {{- if $topic }}
        topic: {{ printf "%s%s" $root.Values.kafka.topicPrefix $topic | quote }}
        {{- end }}
        lagThreshold: {{ $k.lagThreshold | quote }}
        # The consumers start from the earliest offset when the group has none (libs messaging),
        # so a new group's backlog is real lag.
        offsetResetPolicy: earliest
      {{- with $root.Values.keda.authenticationRef }}
      authenticationRef:
        name: {{ . }}
      {{- end }}
    {{- end }}
    {{- if .c.autoscaling.enabled }}
    - type: cpu
      metricType: Utilization
      metadata:
        value: {{ .c.autoscaling.targetCPUUtilizationPercentage | quote }}
    {{- end }}
{{- end }}
{{- end -}}

{{- define "coachline.serviceMonitor" -}}
{{- $sm := .root.Values.serviceMonitor -}}
{{- if $sm.enabled }}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "coachline.componentName" . }}
  labels:
    {{- include "coachline.labels" . | nindent 4 }}
    {{- with $sm.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  # `job` becomes the component name, as in the compose scrape config, so deploy/prometheus/alerts.yml
  # and the Grafana dashboard work unchanged.
  jobLabel: app.kubernetes.io/component
  selector:
    matchLabels:
      {{- include "coachline.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: http
      path: /metrics
      interval: {{ $sm.interval | default "30s" }}
{{- end }}
{{- end -}}

{{- /*
The migration Job: `coachline <component> migrate` in the component's own image (which carries its
migrations), as a pre-install and pre-upgrade hook, so the schema is in place before the release's
pods start. Its pods get a component label of their own: the Service, PodDisruptionBudget and
NetworkPolicy of the component must not select them.
*/}}

{{- define "coachline.migrationName" -}}
{{- printf "%s-migrate" (include "coachline.componentName" . | trunc 55 | trimSuffix "-") -}}
{{- end -}}

{{- define "coachline.migrationJob" -}}
{{- $m := .root.Values.migrations -}}
{{- if and $m.enabled .c.usesDatabase }}
{{- $labels := dict "root" .root "name" (printf "%s-migration" .name) }}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "coachline.migrationName" . }}
  labels:
    {{- include "coachline.labels" $labels | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "0"
    # A failed Job stays for its logs until the next install or upgrade replaces it.
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ $m.backoffLimit }}
  activeDeadlineSeconds: {{ $m.activeDeadlineSeconds }}
  template:
    metadata:
      labels:
        {{- include "coachline.labels" $labels | nindent 8 }}
    spec:
      restartPolicy: Never
      # Hooks run before the release's ServiceAccounts exist; the Job needs no identity of its own.
      automountServiceAccountToken: false
      {{- with .root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "coachline.podSecurityContext" . | nindent 8 }}
      containers:
        - name: migrate
          {{- include "coachline.image" . | nindent 10 }}
          command: ["coachline", {{ .name | quote }}, "migrate"]
          {{- include "coachline.env" . | nindent 10 }}
          resources:
            {{- toYaml $m.resources | nindent 12 }}
          securityContext:
            {{- include "coachline.containerSecurityContext" . | nindent 12 }}
          {{- include "coachline.tmpMount" . | nindent 10 }}
      {{- include "coachline.tmpVolume" . | nindent 6 }}
      {{- with .root.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
{{- end -}}

{{- define "coachline.migrationNetworkPolicy" -}}
{{- $root := .root -}}
{{- if and $root.Values.migrations.enabled .c.usesDatabase $root.Values.networkPolicy.enabled }}
{{- $labels := dict "root" $root "name" (printf "%s-migration" .name) }}
---
# A hook as well, created just before the Job (the release's own objects do not exist yet).
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "coachline.migrationName" . }}
  labels:
    {{- include "coachline.labels" $labels | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-5"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  podSelector:
    matchLabels:
      {{- include "coachline.selectorLabels" $labels | nindent 6 }}
  # Nothing comes in; out only DNS and PostgreSQL.
  policyTypes: [Ingress, Egress]
  ingress: []
  egress:
    - to:
        {{- toYaml $root.Values.networkPolicy.dnsPeers | nindent 8 }}
      ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
    - to:
        {{- toYaml $root.Values.postgresql.networkPeers | nindent 8 }}
      ports:
        {{- range $root.Values.postgresql.ports }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
    {{- with $root.Values.networkPolicy.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
{{- end -}}
