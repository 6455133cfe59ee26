package helm_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
)

// gatewayMetrics returns the names of the metrics the gateway exports, as
// gateway/metrics declares them.
func gatewayMetrics(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../gateway/metrics/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("gateway/metrics sources: %v", err)
	}
	var names []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`Name: "(s3ftp_\w+)"`).FindAllStringSubmatch(string(src), -1) {
			names = append(names, m[1])
		}
	}
	return names
}

// usedMetrics returns the s3ftp_ metric names in a PromQL expression, without
// the histogram suffixes.
func usedMetrics(expr string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`s3ftp_\w+`).FindAllString(expr, -1) {
		out = append(out, strings.TrimSuffix(m, "_bucket"))
	}
	return out
}

// TestMonitoring renders the optional PrometheusRule and Grafana dashboard:
// off by default, and when on, built only on metrics the gateway exports.
func TestMonitoring(t *testing.T) {
	exported := gatewayMetrics(t)
	checkExpr := func(where, expr string) {
		t.Helper()
		used := usedMetrics(expr)
		if len(used) == 0 {
			t.Errorf("%s: %q uses no s3ftp metric", where, expr)
		}
		for _, m := range used {
			if !slices.Contains(exported, m) {
				t.Errorf("%s: %q uses %s, which the gateway does not export", where, expr, m)
			}
		}
	}

	off := render(t, "-f", "ci/default-values.yaml")
	if n := len(all[*monitoringv1.PrometheusRule](off)); n != 0 {
		t.Errorf("%d PrometheusRules rendered by default", n)
	}
	if off.configMap(release+"-s3ftp-dashboard") != nil {
		t.Errorf("the dashboard is rendered by default")
	}

	m := render(t, "-f", "ci/default-values.yaml", "--set", "prometheusRule.enabled=true", "--set", "prometheusRule.for=15m",
		"--set", "prometheusRule.labels.release=prometheus", "--set", "grafanaDashboard.enabled=true")
	rule := one[*monitoringv1.PrometheusRule](t, m)
	if rule.Labels["release"] != "prometheus" {
		t.Errorf("PrometheusRule labels %v lack prometheusRule.labels", rule.Labels)
	}
	var silent *monitoringv1.Rule
	for _, g := range rule.Spec.Groups {
		for i, r := range g.Rules {
			checkExpr("rule "+r.Alert, r.Expr.String())
			if r.Alert == "S3ftpDeviceSilent" {
				silent = &g.Rules[i]
			}
		}
	}
	if silent == nil {
		t.Fatal("no S3ftpDeviceSilent alert")
	}
	if !strings.Contains(silent.Expr.String(), "s3ftp_user_silent") || silent.For == nil || string(*silent.For) != "15m" ||
		silent.Labels["severity"] != "warning" || !strings.Contains(silent.Annotations["summary"], "{{ $labels.user }}") {
		t.Errorf("S3ftpDeviceSilent = %+v", silent)
	}

	cm := m.configMap(release + "-s3ftp-dashboard")
	if cm == nil {
		t.Fatal("no dashboard ConfigMap")
	}
	checkDashboard(t, cm, checkExpr)
}

func checkDashboard(t *testing.T, cm *corev1.ConfigMap, checkExpr func(where, expr string)) {
	t.Helper()
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap labels %v: want grafana_dashboard=1 for Grafana's sidecar", cm.Labels)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal([]byte(cm.Data["s3ftp.json"]), &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if dash.UID == "" || len(dash.Panels) < 5 {
		t.Errorf("dashboard uid %q, %d panels", dash.UID, len(dash.Panels))
	}
	silentPanel := false
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			checkExpr("panel "+p.Title, q.Expr)
			silentPanel = silentPanel || strings.Contains(q.Expr, "s3ftp_user_silent")
		}
	}
	if !silentPanel {
		t.Error("no panel shows the silent devices")
	}
}
