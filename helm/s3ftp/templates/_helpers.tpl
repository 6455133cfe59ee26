{{/*
Names and labels, as `helm create` makes them.
*/}}
{{- define "s3ftp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "s3ftp.fullname" -}}
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

{{- define "s3ftp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object; "component" is added by each template. */}}
{{- define "s3ftp.labels" -}}
helm.sh/chart: {{ include "s3ftp.chart" . }}
app.kubernetes.io/name: {{ include "s3ftp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: s3ftp
{{- end }}

{{/*
Selector of the gateway pods. The component keeps the users Job's pods out
of the Services.
*/}}
{{- define "s3ftp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "s3ftp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "s3ftp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "s3ftp.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "s3ftp.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* The Secret whose keys become the gateway's environment. */}}
{{- define "s3ftp.secretName" -}}
{{- .Values.existingSecret | default (include "s3ftp.fullname" .) }}
{{- end }}

{{/* "true" when users live in SQLite. */}}
{{- define "s3ftp.sqlite" -}}
{{- if eq .Values.database.type "sqlite" }}true{{ end }}
{{- end }}

{{/*
"true" when the chart renders the replica layout: several pods behind one
Service, each answering PASV with its own slice of the passive range and
relaying a data connection that reaches it on another replica's port to
that replica (docs/kubernetes.md, "Several replicas"). hostNetwork keeps its
Deployment: each device is given one node's address, no Service is in the
path.
*/}}
{{- define "s3ftp.replicated" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.hostNetwork) }}true{{ end }}
{{- end }}

{{/* The headless Service giving each replica a DNS name for its peers. */}}
{{- define "s3ftp.peersServiceName" -}}
{{- printf "%s-peers" (include "s3ftp.fullname" . | trunc 57 | trimSuffix "-") }}
{{- end }}

{{/*
The peers' addresses (the gateway's peers): the StatefulSet pod
FULLNAME-{index} under the headless Service, the gateway putting each
replica's index in place of {index}.
*/}}
{{- define "s3ftp.peers" -}}
{{- printf "%s-{index}.%s.%s.svc" (include "s3ftp.fullname" .) (include "s3ftp.peersServiceName" .) .Release.Namespace }}
{{- end }}

{{/* The FTP Service's session affinity: service.sessionAffinity, else
ClientIP with one pod and None in the replica layout (any replica serves
any connection there). */}}
{{- define "s3ftp.sessionAffinity" -}}
{{- if .Values.service.sessionAffinity }}
{{- .Values.service.sessionAffinity }}
{{- else if include "s3ftp.replicated" . }}
{{- "None" }}
{{- else }}
{{- "ClientIP" }}
{{- end }}
{{- end }}

{{/* "true" when PASV advertises the node's IP (Downward API status.hostIP). */}}
{{- define "s3ftp.publicHostFromNode" -}}
{{- if .Values.ftp.publicHostFromNodeIP }}true{{ end }}
{{- end }}

{{/* The passive ports, one per line. */}}
{{- define "s3ftp.passivePorts" -}}
{{- range untilStep (int .Values.ftp.passivePorts.start) (add1 (int .Values.ftp.passivePorts.end) | int) 1 }}
{{ . }}
{{- end }}
{{- end }}

{{/* Paths inside the container. */}}
{{- define "s3ftp.configPath" -}}/etc/s3ftp/config/config.yaml{{- end }}
{{- define "s3ftp.dataDir" -}}/var/lib/s3ftp{{- end }}
{{- define "s3ftp.tlsDir" -}}/etc/s3ftp/tls{{- end }}

{{/* The admin API's Service: a DNS label of at most 63 characters. */}}
{{- define "s3ftp.apiServiceName" -}}
{{- printf "%s-api" (include "s3ftp.fullname" . | trunc 59 | trimSuffix "-") }}
{{- end }}

{{/* URL of the admin API inside the cluster. */}}
{{- define "s3ftp.apiURL" -}}
{{- printf "http://%s.%s.svc:%d" (include "s3ftp.apiServiceName" .) .Release.Namespace (int .Values.apiService.port) }}
{{- end }}

{{- define "s3ftp.terminationGracePeriodSeconds" -}}
{{- $min := add (int .Values.preStopSleepSeconds) (int .Values.shutdownTimeoutSeconds) 15 }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add $min 5 }}
{{- else }}
{{- int .Values.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{- define "s3ftp.updateStrategy" -}}
{{- if .Values.updateStrategy -}}
{{- toYaml .Values.updateStrategy }}
{{- else if or (include "s3ftp.sqlite" .) .Values.hostNetwork -}}
type: RollingUpdate
rollingUpdate:
  maxSurge: 0
  maxUnavailable: 1
{{- else -}}
type: RollingUpdate
rollingUpdate:
  maxSurge: 1
  maxUnavailable: 0
{{- end }}
{{- end }}

{{/*
The gateway's configuration file. Keys from .Values.config first; the keys
the chart derives from other values are set last (the schema refuses them in
.Values.config anyway).
*/}}
{{- define "s3ftp.config" -}}
{{- $v := .Values }}
{{- $c := deepCopy $v.config }}
{{- $_ := set $c "ftp-listen" (printf "0.0.0.0:%d" (int $v.containerPorts.ftp)) }}
{{- $_ := set $c "passive-ports" (printf "%d-%d" (int $v.ftp.passivePorts.start) (int $v.ftp.passivePorts.end)) }}
{{- if $v.ftp.publicHost }}
{{- $_ := set $c "public-host" $v.ftp.publicHost }}
{{- end }}
{{- if $v.ftp.proxyTrustedCIDRs }}
{{- $_ := set $c "proxy-trusted-cidrs" $v.ftp.proxyTrustedCIDRs }}
{{- end }}
{{- if include "s3ftp.replicated" . }}
{{- $_ := set $c "replicas" (int $v.replicaCount) }}
{{- $_ := set $c "peers" (list (include "s3ftp.peers" .)) }}
{{- $_ := set $c "peer-networks" $v.ftp.peerNetworks }}
{{- end }}
{{- $_ := set $c "api-listen" (printf "0.0.0.0:%d" (int $v.containerPorts.api)) }}
{{- if $v.api.tokenHashes }}
{{- $_ := set $c "api-token-hashes" $v.api.tokenHashes }}
{{- end }}
{{- if $v.api.readTokenHashes }}
{{- $_ := set $c "api-read-token-hashes" $v.api.readTokenHashes }}
{{- end }}
{{- $_ := set $c "data-dir" (include "s3ftp.dataDir" .) }}
{{- $_ := set $c "storage" "s3" }}
{{- $_ := set $c "s3-bucket" $v.s3.bucket }}
{{- if $v.s3.region }}
{{- $_ := set $c "s3-region" $v.s3.region }}
{{- end }}
{{- if $v.s3.endpoint }}
{{- $_ := set $c "s3-endpoint" $v.s3.endpoint }}
{{- end }}
{{- $_ := set $c "s3-path-style" $v.s3.pathStyle }}
{{- $_ := set $c "shutdown-timeout" (printf "%ds" (int $v.shutdownTimeoutSeconds)) }}
{{- if $v.tls.enabled }}
{{- $_ := set $c "tls-cert" (printf "%s/tls.crt" (include "s3ftp.tlsDir" .)) }}
{{- $_ := set $c "tls-key" (printf "%s/tls.key" (include "s3ftp.tlsDir" .)) }}
{{- $_ := set $c "tls-required" $v.tls.required }}
{{- if $v.tls.implicit }}
{{- $_ := set $c "ftps-implicit-listen" (printf "0.0.0.0:%d" (int $v.containerPorts.ftpsImplicit)) }}
{{- end }}
{{- end }}
{{- toYaml $c }}
{{- end }}

{{/*
The admin token in clear: api.token, else the one already in the release's
Secret (kept across upgrades), else a new random one.
*/}}
{{- define "s3ftp.apiToken" -}}
{{- if .Values.api.token }}
{{- .Values.api.token }}
{{- else }}
{{- $old := lookup "v1" "Secret" .Release.Namespace (include "s3ftp.fullname" .) }}
{{- if and $old $old.data (hasKey $old.data "S3FTP_API_TOKEN") }}
{{- index $old.data "S3FTP_API_TOKEN" | b64dec }}
{{- else }}
{{- randAlphaNum 48 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Checks that values.schema.json cannot express (it cannot compare two
values). Included by the Deployment; each failure names the values at fault.
*/}}
{{- define "s3ftp.validate" -}}
{{- $v := .Values }}
{{- $start := int $v.ftp.passivePorts.start }}
{{- $end := int $v.ftp.passivePorts.end }}
{{- if gt $start $end }}
{{- fail (printf "ftp.passivePorts: start (%d) is above end (%d)" $start $end) }}
{{- end }}
{{- if gt (sub $end $start) 99 }}
{{- fail (printf "ftp.passivePorts: %d-%d is %d ports; at most 100 (each is a Service port)" $start $end (add1 (sub $end $start))) }}
{{- end }}
{{- if and (include "s3ftp.sqlite" .) (gt (int $v.replicaCount) 1) }}
{{- fail (printf "replicaCount: %d pods cannot share SQLite; set database.type postgres or replicaCount: 1" (int $v.replicaCount)) }}
{{- end }}
{{- if include "s3ftp.replicated" . }}
{{- if lt (add1 (sub $end $start) | int) (int $v.replicaCount) }}
{{- fail (printf "ftp.passivePorts: %d-%d is %d ports for replicaCount %d; each replica answers PASV with its own slice of the range, so it needs at least one port per replica" $start $end (add1 (sub $end $start)) (int $v.replicaCount)) }}
{{- end }}
{{- if not $v.ftp.peerNetworks }}
{{- fail "ftp.peerNetworks: empty; with replicaCount above 1 the replicas relay data connections to each other from the pod network, which it must name (CIDRs)" }}
{{- end }}
{{- if $v.updateStrategy }}
{{- fail (printf "updateStrategy: a Deployment strategy, but with replicaCount %d the chart renders a StatefulSet, which replaces one pod at a time; remove updateStrategy" (int $v.replicaCount)) }}
{{- end }}
{{- end }}
{{- range $name, $port := $v.containerPorts }}
{{- if and (ge (int $port) $start) (le (int $port) $end) }}
{{- fail (printf "containerPorts.%s (%d) is inside ftp.passivePorts %d-%d" $name (int $port) $start $end) }}
{{- end }}
{{- end }}
{{- if not $v.hostNetwork }}
{{- range $name, $port := $v.service.ports }}
{{- if and (ge (int $port) $start) (le (int $port) $end) }}
{{- fail (printf "service.ports.%s (%d) is inside ftp.passivePorts %d-%d" $name (int $port) $start $end) }}
{{- end }}
{{- end }}
{{- if eq $v.service.type "NodePort" }}
{{- $ftpNode := $v.service.nodePorts.ftp | toString }}
{{- if and $v.tls.enabled $v.tls.implicit $ftpNode (eq $ftpNode ($v.service.nodePorts.ftpsImplicit | toString)) }}
{{- fail (printf "service.nodePorts: ftp and ftpsImplicit are both %s; a nodePort serves one port" $ftpNode) }}
{{- end }}
{{- if or (lt $start 30000) (gt $end 32767) }}
{{- fail (printf "ftp.passivePorts %d-%d: with service.type NodePort each passive port is also its nodePort, so the range must lie in 30000-32767" $start $end) }}
{{- end }}
{{- range $name, $port := $v.service.nodePorts }}
{{- if and $port (ge (int $port) $start) (le (int $port) $end) }}
{{- fail (printf "service.nodePorts.%s (%d) is inside ftp.passivePorts %d-%d" $name (int $port) $start $end) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- $minGrace := add (int $v.preStopSleepSeconds) (int $v.shutdownTimeoutSeconds) 15 }}
{{- if lt (int (include "s3ftp.terminationGracePeriodSeconds" .)) $minGrace }}
{{- fail (printf "terminationGracePeriodSeconds: %d is too short to drain transfers; at least preStopSleepSeconds + shutdownTimeoutSeconds + 15 = %d" (int $v.terminationGracePeriodSeconds) $minGrace) }}
{{- end }}
{{- $names := dict }}
{{- range $v.initialUsers }}
{{- if hasKey $names (lower .name) }}
{{- fail (printf "initialUsers: %s is given twice" .name) }}
{{- end }}
{{- $_ := set $names (lower .name) true }}
{{- end }}
{{- end }}
