package helm_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// deployment is what one values file of ci/ must render.
type deployment struct {
	file        string
	replicas    int32
	serviceType corev1.ServiceType // "" with hostNetwork: no FTP Service
	affinity    corev1.ServiceAffinity
	publicHost  string // public-host in the config file; "" when none
	hostIP      bool   // S3FTP_PUBLIC_HOST comes from the node's IP
	passive     [2]int32
	secret      string   // the Secret of the gateway's environment
	secretKeys  []string // keys of the chart's Secret; nil with existingSecret
	roleARN     string   // eks.amazonaws.com/role-arn of the ServiceAccount
	pvc         bool
	users       int // initial users, one Job each
	tls         bool
	proxy       bool     // PROXY protocol from the load balancer (proxy-trusted-cidrs)
	peers       []string // the replica layout (a StatefulSet): its peer networks; nil for a Deployment
	extras      []string // optional kinds rendered: ServiceMonitor, NetworkPolicy
}

var deployments = []deployment{
	{file: "default-values.yaml", replicas: 1, serviceType: corev1.ServiceTypeClusterIP, affinity: corev1.ServiceAffinityClientIP,
		passive: [2]int32{30000, 30009}, secret: "gw-s3ftp", secretKeys: []string{"S3FTP_API_TOKEN"}, pvc: true},
	{file: "existingsecret-values.yaml", replicas: 2, serviceType: corev1.ServiceTypeLoadBalancer, affinity: corev1.ServiceAffinityNone,
		publicHost: "ftp.example.org", passive: [2]int32{30000, 30009}, secret: "s3ftp-credentials", peers: []string{"10.0.0.0/8"}},
	{file: "hostnetwork-values.yaml", replicas: 2, passive: [2]int32{21100, 21149}, secret: "gw-s3ftp",
		secretKeys: []string{"S3FTP_API_TOKEN", "S3FTP_DB_URL", "S3FTP_S3_ACCESS_KEY", "S3FTP_S3_SECRET_KEY"}},
	{file: "irsa-values.yaml", replicas: 1, serviceType: corev1.ServiceTypeLoadBalancer, affinity: corev1.ServiceAffinityClientIP,
		publicHost: "ftp.example.com", passive: [2]int32{30000, 30009}, secret: "gw-s3ftp", secretKeys: []string{"S3FTP_API_TOKEN"},
		roleARN: "arn:aws:iam::111122223333:role/s3ftp", pvc: true, proxy: true},
	{file: "loadbalancer-values.yaml", replicas: 1, serviceType: corev1.ServiceTypeLoadBalancer, affinity: corev1.ServiceAffinityClientIP,
		publicHost: "203.0.113.10", passive: [2]int32{31000, 31019}, secret: "gw-s3ftp",
		secretKeys: []string{"S3FTP_API_TOKEN", "S3FTP_S3_ACCESS_KEY", "S3FTP_S3_SECRET_KEY"}, pvc: true, users: 2, tls: true,
		extras: []string{"NetworkPolicy", "ServiceMonitor"}},
	{file: "nodeport-values.yaml", replicas: 1, serviceType: corev1.ServiceTypeNodePort, affinity: corev1.ServiceAffinityNone,
		hostIP: true, passive: [2]int32{30100, 30149}, secret: "gw-s3ftp",
		secretKeys: []string{"S3FTP_API_TOKEN", "S3FTP_S3_ACCESS_KEY", "S3FTP_S3_SECRET_KEY"}, pvc: true},
	{file: "postgres-replicas-values.yaml", replicas: 3, serviceType: corev1.ServiceTypeLoadBalancer, affinity: corev1.ServiceAffinityNone,
		publicHost: "ftp.example.com", passive: [2]int32{30000, 30009}, secret: "gw-s3ftp",
		secretKeys: []string{"S3FTP_API_TOKEN", "S3FTP_DB_URL", "S3FTP_S3_ACCESS_KEY", "S3FTP_S3_SECRET_KEY"}, peers: []string{"10.244.0.0/16"},
		extras: []string{"NetworkPolicy"}},
}

// TestDeploymentsCovered keeps the table above and ci/ in step.
func TestDeploymentsCovered(t *testing.T) {
	var listed []string
	for _, d := range deployments {
		listed = append(listed, d.file)
	}
	for _, f := range valuesFiles(t) {
		if !slices.Contains(listed, filepath.Base(f)) {
			t.Errorf("%s has no entry in deployments", f)
		}
	}
}

// TestManifests renders each values file and checks every object.
func TestManifests(t *testing.T) {
	for _, want := range deployments {
		t.Run(want.file, func(t *testing.T) {
			m := render(t, "-f", filepath.Join("ci", want.file))
			checkMetadata(t, m)
			cfg := gatewayConfig(t, m)
			checkGateway(t, m, want, cfg)
			checkReplicas(t, m, want, cfg)
			checkServices(t, m, want)
			checkSecret(t, m, want)
			checkUsersJobs(t, m, want)
			checkExtras(t, m, want)
		})
	}
}

// checkMetadata checks names, labels and annotations the way the API server
// would, and the chart's standard labels.
func checkMetadata(t *testing.T, m *manifests) {
	t.Helper()
	for _, o := range m.objects {
		acc, err := meta.Accessor(o)
		if err != nil {
			t.Fatal(err)
		}
		kind := fmt.Sprintf("%T %s", o, acc.GetName())
		nameErrs := validation.IsDNS1123Subdomain(acc.GetName())
		if _, ok := o.(*corev1.Service); ok {
			nameErrs = validation.IsDNS1035Label(acc.GetName())
		}
		for _, e := range nameErrs {
			t.Errorf("%s: name: %s", kind, e)
		}
		for k, v := range acc.GetLabels() {
			for _, e := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
				t.Errorf("%s: label %s=%s: %s", kind, k, v, e)
			}
		}
		for k := range acc.GetAnnotations() {
			for _, e := range validation.IsQualifiedName(k) {
				t.Errorf("%s: annotation %s: %s", kind, k, e)
			}
		}
		for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
			"app.kubernetes.io/managed-by", "app.kubernetes.io/component", "helm.sh/chart"} {
			if acc.GetLabels()[k] == "" {
				t.Errorf("%s: no label %s", kind, k)
			}
		}
		if acc.GetLabels()["app.kubernetes.io/instance"] != release {
			t.Errorf("%s: app.kubernetes.io/instance %q, want %q", kind, acc.GetLabels()["app.kubernetes.io/instance"], release)
		}
	}
}

// gatewayConfig returns the configuration file of the gateway's ConfigMap.
func gatewayConfig(t *testing.T, m *manifests) map[string]any {
	t.Helper()
	d, _ := m.gateway(t)
	for _, v := range d.Template.Spec.Volumes {
		if v.ConfigMap == nil {
			continue
		}
		cm := m.configMap(v.ConfigMap.Name)
		if cm == nil {
			t.Fatalf("volume %s: ConfigMap %s is not rendered", v.Name, v.ConfigMap.Name)
		}
		var cfg map[string]any
		if err := yaml.Unmarshal([]byte(cm.Data["config.yaml"]), &cfg); err != nil || cfg == nil {
			t.Fatalf("ConfigMap %s: config.yaml: %v\n%s", cm.Name, err, cm.Data["config.yaml"])
		}
		return cfg
	}
	t.Fatal("the Deployment mounts no ConfigMap")
	return nil
}

// configString returns a string key of the configuration file.
func configString(t *testing.T, cfg map[string]any, key string) string {
	t.Helper()
	s, ok := cfg[key].(string)
	if !ok {
		t.Fatalf("config key %s: %v (%T), want a string", key, cfg[key], cfg[key])
	}
	return s
}

// checkGateway checks the Deployment: replicas, selector, draining,
// security, ports and probes against the gateway's configuration.
func checkGateway(t *testing.T, m *manifests, want deployment, cfg map[string]any) {
	t.Helper()
	d, c := m.gateway(t)
	pod := d.Template.Spec
	if d.Replicas == nil || *d.Replicas != want.replicas {
		t.Errorf("replicas %v, want %d", d.Replicas, want.replicas)
	}
	sel, err := metaSelector(d.Selector.MatchLabels)
	if err != nil || !sel.Matches(labels.Set(d.Template.Labels)) {
		t.Errorf("%s selector %v does not select its pods %v (%v)", d.Kind, d.Selector.MatchLabels, d.Template.Labels, err)
	}

	// Draining: preStop sleep, then shutdown-timeout for transfers, then 15 s
	// for events and the API, before the kubelet kills the pod.
	shutdown, err := time.ParseDuration(configString(t, cfg, "shutdown-timeout"))
	if err != nil {
		t.Fatalf("shutdown-timeout: %v", err)
	}
	var preStop int64
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		preStop = c.Lifecycle.PreStop.Sleep.Seconds
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g < preStop+int64(shutdown.Seconds())+15 {
		t.Errorf("terminationGracePeriodSeconds %v < preStop %d s + shutdown-timeout %v + 15 s", g, preStop, shutdown)
	}

	// Security.
	if pod.EnableServiceLinks == nil || *pod.EnableServiceLinks {
		t.Error("enableServiceLinks is not false")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the pod mounts a service account token it does not use")
	}
	if pod.HostNetwork != (want.serviceType == "") {
		t.Errorf("hostNetwork %v", pod.HostNetwork)
	}
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and a non-zero runAsUser", psc)
	}
	sc := c.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
		!slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) != 0 {
		t.Errorf("container securityContext %+v: want runAsNonRoot, readOnlyRootFilesystem, no privilege escalation, drop ALL", sc)
	}
	if rq := c.Resources.Requests; rq.Cpu().IsZero() || rq.Memory().IsZero() {
		t.Errorf("resources.requests %v: want cpu and memory", rq)
	}

	// Ports: the configuration's listeners and every passive port.
	seen := map[string]bool{}
	for _, p := range c.Ports {
		for _, e := range append(validation.IsValidPortName(p.Name), validation.IsValidPortNum(int(p.ContainerPort))...) {
			t.Errorf("container port %s/%d: %s", p.Name, p.ContainerPort, e)
		}
		if seen[p.Name] {
			t.Errorf("container port name %s twice", p.Name)
		}
		seen[p.Name] = true
		if pod.HostNetwork && p.HostPort != 0 && p.HostPort != p.ContainerPort {
			t.Errorf("hostNetwork: port %s hostPort %d != containerPort %d", p.Name, p.HostPort, p.ContainerPort)
		}
	}
	if got, cfgPort := containerPort(c, "ftp"), listenPort(t, configString(t, cfg, "ftp-listen")); got == 0 || got != cfgPort {
		t.Errorf("container port ftp %d, ftp-listen port %d", got, cfgPort)
	}
	if got, cfgPort := containerPort(c, "http"), listenPort(t, configString(t, cfg, "api-listen")); got == 0 || got != cfgPort {
		t.Errorf("container port http %d, api-listen port %d", got, cfgPort)
	}
	if start, end := passiveRange(t, configString(t, cfg, "passive-ports")); start != want.passive[0] || end != want.passive[1] {
		t.Errorf("passive-ports %d-%d, want %d-%d", start, end, want.passive[0], want.passive[1])
	}
	for p := want.passive[0]; p <= want.passive[1]; p++ {
		if containerPort(c, fmt.Sprintf("pasv-%d", p)) != p {
			t.Errorf("passive port %d is not a container port", p)
		}
	}
	if n := len(c.Ports) - int(want.passive[1]-want.passive[0]+1); n != 2 && !(want.tls && n == 3) {
		t.Errorf("%d container ports besides the passive ones: %v", n, c.Ports)
	}
	if ph, _ := cfg["public-host"].(string); ph != want.publicHost {
		t.Errorf("public-host %q, want %q", ph, want.publicHost)
	}
	fromNode := slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		return e.Name == "S3FTP_PUBLIC_HOST" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.hostIP"
	})
	if fromNode != want.hostIP {
		t.Errorf("S3FTP_PUBLIC_HOST from status.hostIP: %v, want %v", fromNode, want.hostIP)
	}
	for _, e := range c.Env {
		for _, msg := range validation.IsEnvVarName(e.Name) {
			t.Errorf("env %s: %s", e.Name, msg)
		}
	}

	// Probes on the API port: liveness and startup on /healthz, readiness on
	// /readyz (which checks the user store and the bucket).
	for name, probe := range map[string]struct {
		p    *corev1.Probe
		path string
	}{"liveness": {c.LivenessProbe, "/healthz"}, "startup": {c.StartupProbe, "/healthz"}, "readiness": {c.ReadinessProbe, "/readyz"}} {
		if probe.p == nil || probe.p.HTTPGet == nil {
			t.Errorf("%s probe: none", name)
			continue
		}
		g := probe.p.HTTPGet
		if g.Path != probe.path || containerPort(c, g.Port.String()) != containerPort(c, "http") {
			t.Errorf("%s probe on %s port %s, want %s on the API port", name, g.Path, g.Port.String(), probe.path)
		}
	}

	// Volumes, the Secret of the environment and the ServiceAccount.
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	for _, vm := range c.VolumeMounts {
		if _, ok := vols[vm.Name]; !ok {
			t.Errorf("volumeMount %s: no such volume", vm.Name)
		}
	}
	var claims []string
	for _, v := range vols {
		if v.PersistentVolumeClaim != nil {
			claims = append(claims, v.PersistentVolumeClaim.ClaimName)
		}
	}
	pvcs := all[*corev1.PersistentVolumeClaim](m)
	if want.pvc != (len(claims) == 1 && len(pvcs) == 1 && pvcs[0].Name == claims[0]) {
		t.Errorf("volume claims %v, rendered claims %d; want a claim: %v", claims, len(pvcs), want.pvc)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != want.secret {
		t.Errorf("envFrom %+v, want Secret %s", c.EnvFrom, want.secret)
	}
	sa := one[*corev1.ServiceAccount](t, m)
	if pod.ServiceAccountName != sa.Name {
		t.Errorf("serviceAccountName %q, rendered ServiceAccount %q", pod.ServiceAccountName, sa.Name)
	}
	if got := sa.Annotations["eks.amazonaws.com/role-arn"]; got != want.roleARN {
		t.Errorf("ServiceAccount role-arn %q, want %q", got, want.roleARN)
	}
	if pdb := all[*policyv1.PodDisruptionBudget](m); len(pdb) != 1 || !selects(pdb[0].Spec.Selector.MatchLabels, d) {
		t.Errorf("want one PodDisruptionBudget selecting the gateway pods, got %d", len(pdb))
	}
}

// checkReplicas checks the replica layout: a StatefulSet whose serviceName
// is a headless Service selecting its pods (their DNS names, ready or not),
// each pod's replica index from its pod-index label, and a configuration
// naming the replica count, the peer networks and peers that resolve, for
// each index, to that pod's DNS name. Other layouts render a Deployment and
// none of it.
func checkReplicas(t *testing.T, m *manifests, want deployment, cfg map[string]any) {
	t.Helper()
	w, c := m.gateway(t)
	peersSvc := m.service("peers")
	replicaKeys := []string{"replicas", "replica-index", "peers", "peer-networks"}
	if want.peers == nil {
		if w.Kind != "Deployment" || peersSvc != nil {
			t.Errorf("%s, peers Service %v: want a Deployment and no peers Service", w.Kind, peersSvc)
		}
		for _, k := range replicaKeys {
			if _, ok := cfg[k]; ok {
				t.Errorf("config key %s outside the replica layout", k)
			}
		}
		return
	}
	var sts *appsv1.StatefulSet
	if s := all[*appsv1.StatefulSet](m); len(s) == 1 {
		sts = s[0]
	}
	if w.Kind != "StatefulSet" || sts == nil {
		t.Fatalf("%s: want a StatefulSet for %d replicas", w.Kind, want.replicas)
	}
	if peersSvc == nil || sts.Spec.ServiceName != peersSvc.Name || peersSvc.Spec.ClusterIP != corev1.ClusterIPNone ||
		!peersSvc.Spec.PublishNotReadyAddresses || !selects(peersSvc.Spec.Selector, w) {
		t.Fatalf("StatefulSet serviceName %q, peers Service %+v: want a headless Service of that name selecting the pods, not ready ones included",
			sts.Spec.ServiceName, peersSvc)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement || sts.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		t.Errorf("podManagementPolicy %s, updateStrategy %s: want Parallel, RollingUpdate", sts.Spec.PodManagementPolicy, sts.Spec.UpdateStrategy.Type)
	}
	if n, ok := cfg["replicas"].(int); !ok || int32(n) != want.replicas {
		t.Errorf("config replicas %v, want %d", cfg["replicas"], want.replicas)
	}
	if _, ok := cfg["replica-index"]; ok {
		t.Error("config sets replica-index: every pod shares it, the index comes from each pod")
	}
	if got := fmt.Sprint(cfg["peer-networks"]); got != fmt.Sprint(want.peers) {
		t.Errorf("config peer-networks %s, want %v", got, want.peers)
	}
	peers, _ := cfg["peers"].([]any)
	if len(peers) != 1 {
		t.Fatalf("config peers %v: want one {index} template", cfg["peers"])
	}
	for i := range want.replicas {
		got := strings.ReplaceAll(fmt.Sprint(peers[0]), "{index}", fmt.Sprint(i))
		if wantHost := fmt.Sprintf("%s-%d.%s.%s.svc", sts.Name, i, peersSvc.Name, namespace); got != wantHost {
			t.Errorf("peer %d: %s, want the pod's DNS name %s", i, got, wantHost)
		}
	}
	index := slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		return e.Name == "S3FTP_REPLICA_INDEX" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil &&
			e.ValueFrom.FieldRef.FieldPath == "metadata.labels['"+appsv1.PodIndexLabel+"']"
	})
	if !index {
		t.Errorf("env %v: want S3FTP_REPLICA_INDEX from the pod's %s label", c.Env, appsv1.PodIndexLabel)
	}
}

// metaSelector returns the selector of matchLabels.
func metaSelector(matchLabels map[string]string) (labels.Selector, error) {
	if len(matchLabels) == 0 {
		return nil, fmt.Errorf("empty selector")
	}
	return labels.SelectorFromValidatedSet(matchLabels), nil
}

// selects reports whether matchLabels selects the pods of d.
func selects(matchLabels map[string]string, d *workload) bool {
	sel, err := metaSelector(matchLabels)
	return err == nil && sel.Matches(labels.Set(d.Template.Labels))
}

// checkServices checks the FTP Service (control port 21 → 2121, every
// passive port with its own number, nodePort = port for NodePort) and the
// API Service.
func checkServices(t *testing.T, m *manifests, want deployment) {
	t.Helper()
	d, c := m.gateway(t)
	api := m.service("api")
	if api == nil || !selects(api.Spec.Selector, d) || len(api.Spec.Ports) != 1 ||
		containerPort(c, api.Spec.Ports[0].TargetPort.String()) != containerPort(c, "http") {
		t.Errorf("API Service %+v: want one port to the container's http port", api)
	}
	svc := m.service("ftp")
	if want.serviceType == "" {
		if svc != nil {
			t.Errorf("hostNetwork rendered FTP Service %s", svc.Name)
		}
		return
	}
	if svc == nil {
		t.Fatal("no FTP Service")
	}
	if svc.Spec.Type != want.serviceType || svc.Spec.SessionAffinity != want.affinity {
		t.Errorf("Service type %s affinity %s, want %s %s", svc.Spec.Type, svc.Spec.SessionAffinity, want.serviceType, want.affinity)
	}
	if !selects(svc.Spec.Selector, d) {
		t.Errorf("FTP Service selector %v does not select the gateway pods", svc.Spec.Selector)
	}
	// The gateway must see the client's address (data connection check,
	// allowed networks, bans): through PROXY protocol, or kept by Local.
	if want.serviceType != corev1.ServiceTypeClusterIP && !want.proxy &&
		svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
		t.Errorf("externalTrafficPolicy %q without PROXY protocol: the pod would see node addresses", svc.Spec.ExternalTrafficPolicy)
	}
	ports := map[int32]corev1.ServicePort{}
	for _, p := range svc.Spec.Ports {
		target := containerPort(c, p.TargetPort.String())
		if target == 0 {
			t.Errorf("Service port %s: targetPort %s is no container port", p.Name, p.TargetPort.String())
		}
		ports[target] = p
		if want.serviceType == corev1.ServiceTypeNodePort && p.NodePort != 0 && (p.NodePort < 30000 || p.NodePort > 32767) {
			t.Errorf("Service port %s: nodePort %d outside 30000-32767", p.Name, p.NodePort)
		}
	}
	if p := ports[containerPort(c, "ftp")]; p.Port != 21 {
		t.Errorf("control port: Service port %d → container port %d, want 21 → 2121", p.Port, containerPort(c, "ftp"))
	}
	if containerPort(c, "ftp") != 2121 {
		t.Errorf("control container port %d, want 2121", containerPort(c, "ftp"))
	}
	for n := want.passive[0]; n <= want.passive[1]; n++ {
		p, ok := ports[n]
		switch {
		case !ok:
			t.Errorf("passive port %d: not exposed by the Service", n)
		case p.Port != n:
			t.Errorf("passive port %d: Service port %d (the client connects to the number PASV gave)", n, p.Port)
		case want.serviceType == corev1.ServiceTypeNodePort && p.NodePort != n:
			t.Errorf("passive port %d: nodePort %d", n, p.NodePort)
		}
	}
}

// checkSecret checks the chart's Secret: exactly the expected keys.
func checkSecret(t *testing.T, m *manifests, want deployment) {
	t.Helper()
	s := m.secret(want.secret)
	if want.secretKeys == nil {
		if s != nil || len(all[*corev1.Secret](m)) != 0 {
			t.Errorf("existingSecret: the chart rendered a Secret")
		}
		return
	}
	if s == nil {
		t.Fatalf("Secret %s not rendered", want.secret)
	}
	if got := keysOf(s.Data); !slices.Equal(got, want.secretKeys) {
		t.Errorf("Secret keys %v, want %v", got, want.secretKeys)
	}
	for k, v := range s.Data {
		if len(v) == 0 {
			t.Errorf("Secret key %s is empty", k)
		}
	}
}

// checkUsersJobs checks the initial users' Jobs: they call the API Service
// with the admin token from the gateway's Secret, and the FTP Service does
// not select their pods.
func checkUsersJobs(t *testing.T, m *manifests, want deployment) {
	t.Helper()
	jobs := all[*batchv1.Job](m)
	if len(jobs) != want.users {
		t.Fatalf("%d Jobs, want %d (one per initial user)", len(jobs), want.users)
	}
	api := m.service("api")
	wantURL := fmt.Sprintf("http://%s.%s.svc:%d", api.Name, namespace, api.Spec.Ports[0].Port)
	for _, j := range jobs {
		if j.Annotations["helm.sh/hook"] != "post-install" {
			t.Errorf("Job %s: hook %q, want post-install", j.Name, j.Annotations["helm.sh/hook"])
		}
		pod := j.Spec.Template.Spec
		if len(pod.Containers) != 1 || !slices.Equal(pod.Containers[0].Args[:2], []string{"users", "add"}) {
			t.Fatalf("Job %s: want one container running `s3ftp users add`", j.Name)
		}
		env := map[string]corev1.EnvVar{}
		for _, e := range pod.Containers[0].Env {
			env[e.Name] = e
		}
		if env["S3FTP_API_URL"].Value != wantURL {
			t.Errorf("Job %s: S3FTP_API_URL %q, want %q", j.Name, env["S3FTP_API_URL"].Value, wantURL)
		}
		if ref := env["S3FTP_API_TOKEN"].ValueFrom; ref == nil || ref.SecretKeyRef == nil ||
			ref.SecretKeyRef.Name != want.secret || ref.SecretKeyRef.Key != "S3FTP_API_TOKEN" {
			t.Errorf("Job %s: S3FTP_API_TOKEN not from Secret %s", j.Name, want.secret)
		}
		if svc := m.service("ftp"); svc != nil && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(j.Spec.Template.Labels)) {
			t.Errorf("Job %s: the FTP Service selects its pod", j.Name)
		}
		if sc := pod.Containers[0].SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("Job %s: root filesystem not read-only", j.Name)
		}
	}
}

// checkExtras checks the optional ServiceMonitor and NetworkPolicy.
func checkExtras(t *testing.T, m *manifests, want deployment) {
	t.Helper()
	d, c := m.gateway(t)
	kinds := map[string]bool{}
	for _, o := range m.objects {
		kinds[strings.TrimPrefix(fmt.Sprintf("%T", o), "*v1.")] = true
	}
	for _, k := range []string{"NetworkPolicy", "ServiceMonitor"} {
		if kinds[k] != slices.Contains(want.extras, k) {
			t.Errorf("%s rendered: %v, want %v", k, kinds[k], !kinds[k])
		}
	}
	for _, np := range all[*networkingv1.NetworkPolicy](m) {
		if !selects(np.Spec.PodSelector.MatchLabels, d) {
			t.Errorf("NetworkPolicy does not select the gateway pods")
		}
		allowed := func(port int32) bool {
			for _, r := range np.Spec.Ingress {
				for _, p := range r.Ports {
					lo := p.Port.IntVal
					hi := lo
					if p.EndPort != nil {
						hi = *p.EndPort
					}
					if port >= lo && port <= hi {
						return true
					}
				}
			}
			return false
		}
		for _, p := range c.Ports {
			if !allowed(p.ContainerPort) {
				t.Errorf("NetworkPolicy blocks container port %s (%d)", p.Name, p.ContainerPort)
			}
		}
		// The replica layout: the replicas relay to each other's passive
		// ports, whatever ftpFrom allows.
		if want.peers != nil {
			fromPeers := slices.ContainsFunc(np.Spec.Ingress, func(r networkingv1.NetworkPolicyIngressRule) bool {
				peer := slices.ContainsFunc(r.From, func(f networkingv1.NetworkPolicyPeer) bool {
					return f.PodSelector != nil && f.NamespaceSelector == nil && f.IPBlock == nil && selects(f.PodSelector.MatchLabels, d)
				})
				covers := slices.ContainsFunc(r.Ports, func(p networkingv1.NetworkPolicyPort) bool {
					return p.Port != nil && p.Port.IntVal <= want.passive[0] && p.EndPort != nil && *p.EndPort >= want.passive[1]
				})
				return (len(r.From) == 0 || peer) && (len(r.Ports) == 0 || covers)
			})
			if !fromPeers {
				t.Errorf("NetworkPolicy: no rule lets the replicas reach each other's passive ports %d-%d", want.passive[0], want.passive[1])
			}
		}
	}
	for _, sm := range all[*monitoringv1.ServiceMonitor](m) {
		api := m.service("api")
		if !labels.SelectorFromSet(sm.Spec.Selector.MatchLabels).Matches(labels.Set(api.Labels)) {
			t.Errorf("ServiceMonitor selector %v does not select the API Service %v", sm.Spec.Selector.MatchLabels, api.Labels)
		}
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != api.Spec.Ports[0].Name || sm.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoints %+v, want /metrics on port %s", sm.Spec.Endpoints, api.Spec.Ports[0].Name)
		}
	}
}
