{{/*
The gateway's pod template, shared by the Deployment (one replica, or
hostNetwork) and the StatefulSet (the replica layout). Its lines keep the
indentation they have under "template:" in those objects.
*/}}
{{- define "s3ftp.podTemplate" }}
    metadata:
      annotations:
        checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
        {{- if not .Values.existingSecret }}
        checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
        {{- end }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      labels:
        {{- include "s3ftp.labels" . | nindent 8 }}
        app.kubernetes.io/component: gateway
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      serviceAccountName: {{ include "s3ftp.serviceAccountName" . }}
      automountServiceAccountToken: {{ .Values.serviceAccount.automount }}
      # Kubernetes would inject S3FTP_SERVICE_HOST, S3FTP_PORT... for a
      # Service named s3ftp; the gateway ignores them, but they are noise.
      enableServiceLinks: false
      {{- if .Values.hostNetwork }}
      hostNetwork: true
      dnsPolicy: ClusterFirstWithHostNet
      {{- end }}
      {{- with .Values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext:
        {{- toYaml .Values.podSecurityContext | nindent 8 }}
      # preStop sleep + shutdown-timeout + time to deliver queued events and
      # stop the API (docs/operations.md, "Graceful shutdown").
      terminationGracePeriodSeconds: {{ include "s3ftp.terminationGracePeriodSeconds" . }}
      containers:
        - name: s3ftp
          image: {{ include "s3ftp.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          args:
            - serve
            - --config
            - {{ include "s3ftp.configPath" . }}
          envFrom:
            - secretRef:
                name: {{ include "s3ftp.secretName" . }}
          {{- if or (include "s3ftp.publicHostFromNode" .) (include "s3ftp.replicated" .) .Values.extraEnv }}
          env:
            {{- if include "s3ftp.replicated" . }}
            # The pod's ordinal in the StatefulSet: which slice of the
            # passive range this replica answers PASV with.
            - name: S3FTP_REPLICA_INDEX
              valueFrom:
                fieldRef:
                  fieldPath: metadata.labels['apps.kubernetes.io/pod-index']
            {{- end }}
            {{- if include "s3ftp.publicHostFromNode" . }}
            - name: S3FTP_PUBLIC_HOST
              valueFrom:
                fieldRef:
                  fieldPath: status.hostIP
            {{- end }}
            {{- with .Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- end }}
          ports:
            - name: ftp
              containerPort: {{ .Values.containerPorts.ftp }}
              protocol: TCP
            {{- if and .Values.tls.enabled .Values.tls.implicit }}
            - name: ftps-implicit
              containerPort: {{ .Values.containerPorts.ftpsImplicit }}
              protocol: TCP
            {{- end }}
            - name: http
              containerPort: {{ .Values.containerPorts.api }}
              protocol: TCP
            {{- range (include "s3ftp.passivePorts" . | splitList "\n" | compact) }}
            - name: pasv-{{ . }}
              containerPort: {{ . }}
              protocol: TCP
            {{- end }}
          {{- with .Values.startupProbe }}
          startupProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with .Values.livenessProbe }}
          livenessProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with .Values.readinessProbe }}
          readinessProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- if gt (int .Values.preStopSleepSeconds) 0 }}
          lifecycle:
            preStop:
              sleep:
                seconds: {{ .Values.preStopSleepSeconds }}
          {{- end }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            {{- toYaml .Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: config
              mountPath: {{ include "s3ftp.configPath" . | dir }}
              readOnly: true
            - name: data
              mountPath: {{ include "s3ftp.dataDir" . }}
            - name: tmp
              mountPath: /tmp
            {{- if .Values.tls.enabled }}
            - name: tls
              mountPath: {{ include "s3ftp.tlsDir" . }}
              readOnly: true
            {{- end }}
            {{- with .Values.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: config
          configMap:
            name: {{ include "s3ftp.fullname" . }}
        - name: data
          {{- if and (include "s3ftp.sqlite" .) .Values.persistence.enabled }}
          persistentVolumeClaim:
            claimName: {{ .Values.persistence.existingClaim | default (printf "%s-data" (include "s3ftp.fullname" .)) }}
          {{- else }}
          emptyDir: {}
          {{- end }}
        - name: tmp
          emptyDir: {}
        {{- if .Values.tls.enabled }}
        - name: tls
          secret:
            secretName: {{ .Values.tls.secretName }}
        {{- end }}
        {{- with .Values.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
