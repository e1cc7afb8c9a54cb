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
Opt-in routing (docs/design.md, "Opt-in"). The server decides with core/optin.py's precedence table:
the highest of the object's annotations, its labels, its pod template's annotations, their labels,
the namespace's annotation and label that carries a signal decides alone. A webhook entry can select
namespaces by label only, so the MutatingWebhookConfiguration holds one entry per namespace state,
and the entries never overlap (each object is sent at most once):
  namespace           labelled sidecar-injector.io/inject=<template>: every object that does not opt
                      out itself (matchConditions);
  label               not labelled: objects whose own label requests (objectSelector), unless their
                      own annotation opts out;
  annotation          not labelled: objects whose own or pod template's signal requests, other than
                      those the label entry takes (matchConditions);
  namespace-opted-out labelled with an opt-out value: objects that opt in themselves.
The CEL below only ever errs towards sending: a legacy initializer.kubernetes.io/<name> key counts
whatever its value, and only the exact opt-out values count as opt-out (the server also reads
"False" or " none " as one); the server then skips what was sent needlessly.
*/}}

{{- define "sidecar-injector.injectKey" -}}sidecar-injector.io/inject{{- end }}
{{- define "sidecar-injector.optOutValues" -}}["false", "none", ""]{{- end }}

{{/* A metadata's annotations carry a signal (CEL; the argument is a metadata expression). */}}
{{- define "sidecar-injector.celAnnotated" -}}
(has({{ . }}.annotations) && ('sidecar-injector.io/inject' in {{ . }}.annotations || {{ . }}.annotations.exists(k, k.startsWith('initializer.kubernetes.io/'))))
{{- end }}

{{/* ... and that signal opts out: the inject annotation says so and no legacy key asks. */}}
{{- define "sidecar-injector.celAnnotationOptsOut" -}}
(has({{ . }}.annotations) && 'sidecar-injector.io/inject' in {{ . }}.annotations && {{ . }}.annotations['sidecar-injector.io/inject'] in ['false', 'none', ''] && !{{ . }}.annotations.exists(k, k.startsWith('initializer.kubernetes.io/')))
{{- end }}

{{- define "sidecar-injector.celLabelled" -}}
(has({{ . }}.labels) && 'sidecar-injector.io/inject' in {{ . }}.labels)
{{- end }}

{{- define "sidecar-injector.celLabelOptsOut" -}}
(has({{ . }}.labels) && 'sidecar-injector.io/inject' in {{ . }}.labels && {{ . }}.labels['sidecar-injector.io/inject'] in ['false', 'none', ''])
{{- end }}

{{/*
One test over the pod template's metadata, wherever the kind keeps it (spec.template, or a CronJob's
spec.jobTemplate.spec.template); has() guards every step because a missing field is an error in CEL,
and an error counts as a failure. Takes (list <helper name> $).
*/}}
{{- define "sidecar-injector.celPodTemplate" -}}
{{- $test := index . 0 -}}
{{- $workload := "object.spec.template.metadata" -}}
{{- $cronJob := "object.spec.jobTemplate.spec.template.metadata" -}}
{{- if gt (len .) 1 -}}
{{- $workload = list $workload (index . 1) -}}
{{- $cronJob = list $cronJob (index . 1) -}}
{{- end -}}
((has(object.spec) && has(object.spec.template) && has(object.spec.template.metadata) && {{ include $test $workload }}) || (has(object.spec) && has(object.spec.jobTemplate) && has(object.spec.jobTemplate.spec) && has(object.spec.jobTemplate.spec.template) && has(object.spec.jobTemplate.spec.template.metadata) && {{ include $test $cronJob }}))
{{- end }}

{{/*
server.acceptAnnotations: other injectors' opt-in annotation keys, which the server reads on a pod's
own metadata and a pod template's only (never a workload's own). Takes (list <metadata> <keys>);
without keys, the same text as celAnnotated and celAnnotationOptsOut.
*/}}
{{- define "sidecar-injector.acceptedKeys" -}}
{{- $keys := dict "tumblr" "injector.tumblr.com/request" "expedia" "sidecar-injector.expedia.com/inject" -}}
{{- $found := list -}}
{{- range .Values.server.acceptAnnotations }}{{ $found = append $found (get $keys .) }}{{ end -}}
{{- toJson $found -}}
{{- end }}

{{- define "sidecar-injector.celPodAnnotated" -}}
{{- $meta := index . 0 }}{{ $keys := index . 1 -}}
{{- if $keys -}}
({{ include "sidecar-injector.celAnnotated" $meta }} || (has({{ $meta }}.annotations) && {{ $meta }}.annotations.exists(k, k in {{ toJson $keys | replace "\"" "'" }})))
{{- else -}}
{{ include "sidecar-injector.celAnnotated" $meta }}
{{- end }}
{{- end }}

{{- define "sidecar-injector.celPodAnnotationOptsOut" -}}
{{- $meta := index . 0 }}{{ $keys := index . 1 -}}
{{- if $keys -}}
({{ include "sidecar-injector.celAnnotationOptsOut" $meta }} && !{{ $meta }}.annotations.exists(k, k in {{ toJson $keys | replace "\"" "'" }}))
{{- else -}}
{{ include "sidecar-injector.celAnnotationOptsOut" $meta }}
{{- end }}
{{- end }}

{{/*
The object's own deciding signal (its annotations, its labels, its pod template's annotations, their
labels: the first that carries one) requests templates (argument "requests") or opts out ("optsOut").
*/}}
{{- define "sidecar-injector.celObjectDecides" -}}
{{- $out := eq (index . 0) "optsOut" -}}
{{- $keys := index . 1 -}}
{{- $yes := ternary "" "!" $out -}}
{{- $annotated := include "sidecar-injector.celAnnotated" "object.metadata" -}}
{{- $optsOut := include "sidecar-injector.celAnnotationOptsOut" "object.metadata" -}}
{{- if $keys -}}
{{- $annotated = printf "(object.kind == 'Pod' ? %s : %s)" (include "sidecar-injector.celPodAnnotated" (list "object.metadata" $keys)) $annotated -}}
{{- $optsOut = printf "(object.kind == 'Pod' ? %s : %s)" (include "sidecar-injector.celPodAnnotationOptsOut" (list "object.metadata" $keys)) $optsOut -}}
{{- end -}}
(has(object.metadata) && {{ $annotated }} ? {{ $yes }}{{ $optsOut }} : has(object.metadata) && {{ include "sidecar-injector.celLabelled" "object.metadata" }} ? {{ $yes }}{{ include "sidecar-injector.celLabelOptsOut" "object.metadata" }} : {{ include "sidecar-injector.celPodTemplate" (list "sidecar-injector.celPodAnnotated" $keys) }} ? {{ $yes }}{{ include "sidecar-injector.celPodTemplate" (list "sidecar-injector.celPodAnnotationOptsOut" $keys) }} : {{ include "sidecar-injector.celPodTemplate" (list "sidecar-injector.celLabelled") }} ? {{ $yes }}{{ include "sidecar-injector.celPodTemplate" (list "sidecar-injector.celLabelOptsOut") }} : false)
{{- end }}

{{/* The object's own label requests templates: what the label entry's objectSelector takes. */}}
{{- define "sidecar-injector.celLabelRequests" -}}
(has(object.metadata) && {{ include "sidecar-injector.celLabelled" "object.metadata" }} && !{{ include "sidecar-injector.celLabelOptsOut" "object.metadata" }})
{{- end }}

{{/*
The webhook entries: a list of (name, namespace expressions, object expressions, CEL condition or
""), as YAML. Without matchConditions nothing but the namespace exclusion can be routed on (an
annotation is invisible to selectors), so there is one entry that sends everything.
*/}}
{{- define "sidecar-injector.webhookEntries" -}}
{{- $key := include "sidecar-injector.injectKey" . }}
{{- $optOut := include "sidecar-injector.optOutValues" . | fromJsonArray }}
{{- $unlabelled := list (dict "key" $key "operator" "DoesNotExist") }}
{{- $labelRequests := list (dict "key" $key "operator" "Exists") (dict "key" $key "operator" "NotIn" "values" $optOut) }}
{{- $accepted := include "sidecar-injector.acceptedKeys" . | fromJsonArray }}
{{- $requests := printf "object != null && %s" (include "sidecar-injector.celObjectDecides" (list "requests" $accepted)) }}
{{- $entries := list }}
{{- if not .Values.webhook.matchConditions.enabled }}
{{- $entries = append $entries (dict "name" "inject" "namespace" list "object" list "condition" "") }}
{{- else if .Values.server.namespaceOptIn }}
{{- $entries = append $entries (dict "name" "namespace.inject" "namespace" $labelRequests "object" list "condition" (printf "object != null && !%s" (include "sidecar-injector.celObjectDecides" (list "optsOut" $accepted)))) }}
{{- $entries = append $entries (dict "name" "label.inject" "namespace" $unlabelled "object" $labelRequests "condition" $requests) }}
{{- $entries = append $entries (dict "name" "annotation.inject" "namespace" $unlabelled "object" list "condition" (printf "%s && !%s" $requests (include "sidecar-injector.celLabelRequests" .))) }}
{{- $entries = append $entries (dict "name" "namespace-opted-out.inject" "namespace" (list (dict "key" $key "operator" "In" "values" $optOut)) "object" list "condition" $requests) }}
{{- else }}
{{- $entries = append $entries (dict "name" "label.inject" "namespace" list "object" $labelRequests "condition" $requests) }}
{{- $entries = append $entries (dict "name" "annotation.inject" "namespace" list "object" list "condition" (printf "%s && !%s" $requests (include "sidecar-injector.celLabelRequests" .))) }}
{{- end }}
{{- toYaml $entries }}
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
