{{/* Names ------------------------------------------------------------------------------------ */}}

{{- define "sidecar-injector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sidecar-injector.fullname" -}}
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

{{/* Cluster-scoped objects carry the namespace so two releases in two namespaces never clash. */}}
{{- define "sidecar-injector.clusterName" -}}
{{- printf "%s-%s" (include "sidecar-injector.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sidecar-injector.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sidecar-injector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sidecar-injector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sidecar-injector.commonLabels" -}}
helm.sh/chart: {{ include "sidecar-injector.chart" . }}
{{ include "sidecar-injector.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "sidecar-injector.labels" -}}
{{ include "sidecar-injector.commonLabels" . }}
app.kubernetes.io/component: webhook
{{- end }}

{{- define "sidecar-injector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sidecar-injector.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sidecar-injector.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "existingSecret" }}
{{- required "certificates.existingSecret.name is required when certificates.mode is existingSecret" .Values.certificates.existingSecret.name }}
{{- else }}
{{- printf "%s-tls" (include "sidecar-injector.fullname" .) }}
{{- end }}
{{- end }}

{{- define "sidecar-injector.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The API template source is the only reason the pod talks to the Kubernetes API. */}}
{{- define "sidecar-injector.usesApi" -}}
{{- if eq .Values.templates.source "kube" }}true{{ end }}
{{- end }}

{{/* Namespaces whose template ConfigMaps are read (release namespace first, no duplicates). */}}
{{- define "sidecar-injector.watchNamespaces" -}}
{{- $all := prepend .Values.watchNamespaces .Release.Namespace }}
{{- $all = concat $all .Values.sharedTemplateNamespaces }}
{{- toJson (uniq $all) }}
{{- end }}

{{- define "sidecar-injector.sharedNamespaces" -}}
{{- toJson (uniq (prepend .Values.sharedTemplateNamespaces .Release.Namespace)) }}
{{- end }}

{{/* Fail early on settings the schema cannot relate to each other. */}}
{{- define "sidecar-injector.validate" -}}
{{- $needed := add .Values.lifecycle.preStopSleepSeconds .Values.server.drainSeconds }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $needed) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed lifecycle.preStopSleepSeconds + server.drainSeconds (%v)" .Values.terminationGracePeriodSeconds $needed) }}
{{- end }}
{{- if and (eq .Values.templates.source "files") (or .Values.watchAllNamespaces .Values.watchNamespaces .Values.sharedTemplateNamespaces) }}
{{- fail "watchNamespaces, watchAllNamespaces and sharedTemplateNamespaces need templates.source=kube" }}
{{- end }}
{{- if and (eq .Values.templates.source "files") (or .Values.templates.items .Values.templates.legacyLoggingAgent.enabled) }}
{{- fail "templates.items and templates.legacyLoggingAgent are ConfigMaps read through the API: they need templates.source=kube" }}
{{- end }}
{{- if and (eq .Values.templates.source "files") (or .Values.podMetrics.enabled .Values.rollingUpdater.enabled) }}
{{- fail "podMetrics and rollingUpdater read the cluster: they need templates.source=kube" }}
{{- end }}
{{- if eq .Values.certificates.mode "existingSecret" }}
{{- $ca := required "certificates.existingSecret.caBundle (base64 PEM) is required when certificates.mode is existingSecret" .Values.certificates.existingSecret.caBundle }}
{{- if not (hasPrefix "-----BEGIN CERTIFICATE-----" (b64dec $ca | trim)) }}
{{- fail "certificates.existingSecret.caBundle must be the base64 encoding of a PEM certificate" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
TLS material for certificates.mode=helm, as a YAML map with ca.crt, tls.crt, tls.key (base64).
Takes (dict "existing" <the Secret found by lookup, or an empty map> "ctx" $).
Reuses the existing Secret's data when it holds all three keys, so upgrades keep the CA that the
MutatingWebhookConfiguration trusts; otherwise issues a new CA and serving certificate. The lookup
itself stays in the caller so this function is a pure function of its input.
*/}}
{{- define "sidecar-injector.tlsMaterial" -}}
{{- $data := dig "data" dict .existing }}
{{- if and (get $data "ca.crt") (get $data "tls.crt") (get $data "tls.key") }}
ca.crt: {{ get $data "ca.crt" }}
tls.crt: {{ get $data "tls.crt" }}
tls.key: {{ get $data "tls.key" }}
{{- else }}
{{- $ctx := .ctx }}
{{- $svc := include "sidecar-injector.fullname" $ctx }}
{{- $ns := $ctx.Release.Namespace }}
{{- $days := int $ctx.Values.certificates.helm.validityDays }}
{{- $ca := genCA (printf "%s-ca" $svc) $days }}
{{- $dns := list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) }}
{{- $cert := genSignedCert (printf "%s.%s.svc" $svc $ns) nil $dns $days $ca }}
ca.crt: {{ $ca.Cert | b64enc }}
tls.crt: {{ $cert.Cert | b64enc }}
tls.key: {{ $cert.Key | b64enc }}
{{- end }}
{{- end }}

{{/*
The opt-in test as CEL, on one metadata expression (a string such as "object.metadata").
Only key presence is checked; the server reads the values (and skips "false") itself, so the
condition never hides an object the server would have injected.
*/}}
{{- define "sidecar-injector.celOptedIn" -}}
(has({{ . }}.annotations) && {{ . }}.annotations.exists(k, k == 'sidecar-injector.io/inject' || k.startsWith('initializer.kubernetes.io/')))
{{- end }}

{{/*
PromQL label matchers selecting this release's series in the alerts and the dashboard: what the
chart's ServiceMonitor produces (job = the Service's name, namespace = the release namespace)
unless metricsSelector says otherwise.
*/}}
{{- define "sidecar-injector.metricSelector" -}}
{{- .Values.metricsSelector | default (printf "job=%q,namespace=%q" (include "sidecar-injector.fullname" .) .Release.Namespace) }}
{{- end }}

{{/*
Replicas, autoscaling and the disruption budget must agree: at the smallest replica count the
budget must still let one pod go, or a node drain waits forever.
*/}}
{{- define "sidecar-injector.minReplicas" -}}
{{- if .Values.autoscaling.enabled }}{{ .Values.autoscaling.minReplicas }}{{ else }}{{ .Values.replicaCount }}{{ end }}
{{- end }}

{{- define "sidecar-injector.validateScaling" -}}
{{- $scaling := .Values.autoscaling }}
{{- $floor := include "sidecar-injector.minReplicas" . | int }}
{{- $floorName := ternary "autoscaling.minReplicas" "replicaCount" $scaling.enabled }}
{{- if $scaling.enabled }}
{{- if lt (int $scaling.maxReplicas) (int $scaling.minReplicas) }}
{{- fail (printf "autoscaling.maxReplicas (%v) must be at least autoscaling.minReplicas (%v)" $scaling.maxReplicas $scaling.minReplicas) }}
{{- end }}
{{- if not (dig "requests" "cpu" "" .Values.resources) }}
{{- fail "autoscaling needs resources.requests.cpu: the HPA's CPU utilization is a share of the request" }}
{{- end }}
{{- end }}
{{- $budget := .Values.podDisruptionBudget }}
{{- if $budget.enabled }}
{{- $max := toString $budget.maxUnavailable }}
{{- if ne $max "<nil>" }}
{{- $allowed := 0 }}
{{- if hasSuffix "%" $max }}
{{- $allowed = ceil (divf (mul (trimSuffix "%" $max | int) $floor) 100) | int }}
{{- else }}
{{- $allowed = int $budget.maxUnavailable }}
{{- end }}
{{- if lt $allowed 1 }}
{{- fail (printf "podDisruptionBudget.maxUnavailable (%v) lets no pod go with %d replica(s) (%s): node drains would block" $max $floor $floorName) }}
{{- end }}
{{- else }}
{{- $min := toString $budget.minAvailable }}
{{- $needed := 0 }}
{{- if hasSuffix "%" $min }}
{{- $needed = ceil (divf (mul (trimSuffix "%" $min | int) $floor) 100) | int }}
{{- else }}
{{- $needed = int $budget.minAvailable }}
{{- end }}
{{- if ge $needed $floor }}
{{- fail (printf "podDisruptionBudget.minAvailable (%v) must leave one pod free to go with %d replica(s) (%s), or node drains block; lower it, raise %s, or disable the budget" $min $floor $floorName $floorName) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
