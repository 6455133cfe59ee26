package helm_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/s3ftp/s3ftp/test/s3ftpbin"
)

// schemaFailures are what helm prints when values.schema.json refuses
// values: template and install say the first, lint at least the second.
var schemaFailures = []string{"values don't meet the specifications of the schema", "[ERROR] values.yaml: - at '"}

// TestRefusals renders bad values and checks that helm template and helm
// lint both refuse them, naming the value at fault. Most refusals come from
// values.schema.json; those comparing two values (JSON Schema cannot) come
// from the chart's s3ftp.validate template.
func TestRefusals(t *testing.T) {
	const bcrypt = `$2a$10$fPsXWdbZXklYRPA.uo1AOOmFJhLtiCcgABYhNTRbTVwI/wYH130I2`
	base := []string{"--set", "s3.bucket=files"}
	tests := []struct {
		name   string
		args   []string // after base, unless noBase
		noBase bool
		schema bool     // refused by values.schema.json (else by the templates)
		want   []string // in helm's message
	}{
		{name: "missing S3 bucket", noBase: true, schema: true, want: []string{"/s3/bucket"}},
		{name: "null S3 bucket", noBase: true, args: []string{"--set", "s3.bucket=null"}, schema: true, want: []string{"/s3", "bucket"}},
		{name: "bad S3 bucket name", noBase: true, args: []string{"--set", "s3.bucket=My_Bucket"}, schema: true, want: []string{"/s3/bucket"}},
		{name: "several replicas on SQLite", args: []string{"--set", "replicaCount=2"}, schema: true, want: []string{"/replicaCount", "maximum"}},
		{name: "passive start above end", args: []string{"--set", "ftp.passivePorts.start=30010,ftp.passivePorts.end=30000"},
			want: []string{"ftp.passivePorts: start (30010) is above end (30000)"}},
		{name: "passive range over 100 ports", args: []string{"--set", "ftp.passivePorts.start=30000,ftp.passivePorts.end=30100"},
			want: []string{"ftp.passivePorts", "at most 100"}},
		{name: "privileged passive port", args: []string{"--set", "ftp.passivePorts.start=1000"}, schema: true, want: []string{"/ftp/passivePorts/start"}},
		{name: "passive port as a string", args: []string{"--set-string", "ftp.passivePorts.start=30000"}, schema: true, want: []string{"/ftp/passivePorts/start"}},
		{name: "NodePort passive range outside 30000-32767",
			args: []string{"--set", "service.type=NodePort,ftp.passivePorts.start=20000,ftp.passivePorts.end=20009"},
			want: []string{"30000-32767"}},
		{name: "FTP and implicit FTPS on one nodePort",
			args: []string{"--set", "service.type=NodePort,service.nodePorts.ftp=30021,service.nodePorts.ftpsImplicit=30021," +
				"tls.enabled=true,tls.secretName=ftp-tls,tls.implicit=true"},
			want: []string{"service.nodePorts: ftp and ftpsImplicit are both 30021"}},
		{name: "name that is not a DNS label", args: []string{"--set", "fullnameOverride=S3FTP"}, schema: true, want: []string{"/fullnameOverride"}},
		{name: "API port inside the passive range", args: []string{"--set", "containerPorts.api=30005"}, want: []string{"containerPorts.api (30005) is inside"}},
		{name: "grace period shorter than draining", args: []string{"--set", "terminationGracePeriodSeconds=40"},
			want: []string{"terminationGracePeriodSeconds: 40 is too short", "50"}},
		{name: "unknown key", args: []string{"--set", "s3.bukket=files"}, schema: true, want: []string{"bukket"}},
		{name: "unknown service type", args: []string{"--set", "service.type=Ingress"}, schema: true, want: []string{"/service/type"}},
		{name: "fewer passive ports than replicas", args: []string{"--set", "database.type=postgres,database.url=postgres://db/s3ftp,replicaCount=3," +
			"ftp.passivePorts.start=30000,ftp.passivePorts.end=30001"},
			want: []string{"ftp.passivePorts: 30000-30001 is 2 ports for replicaCount 3", "at least one port per replica"}},
		{name: "replicas without peer networks", args: []string{"--set", "database.type=postgres,database.url=postgres://db/s3ftp,replicaCount=2",
			"--set-json", "ftp.peerNetworks=[]"}, want: []string{"ftp.peerNetworks: empty"}},
		{name: "peer network without prefix length", args: []string{"--set", "ftp.peerNetworks={10.0.0.1}"}, schema: true,
			want: []string{"/ftp/peerNetworks/0"}},
		{name: "Deployment strategy for a StatefulSet", args: []string{"--set", "database.type=postgres,database.url=postgres://db/s3ftp,replicaCount=2," +
			"updateStrategy.type=Recreate"}, want: []string{"updateStrategy: a Deployment strategy, but with replicaCount 2 the chart renders a StatefulSet"}},
		{name: "postgres without URL", args: []string{"--set", "database.type=postgres,replicaCount=3"}, schema: true, want: []string{"/database/url"}},
		{name: "database URL with SQLite", args: []string{"--set", "database.url=postgres://db/s3ftp"}, schema: true, want: []string{"/database/url"}},
		{name: "secrets beside existingSecret", args: []string{"--set", "existingSecret=creds,s3.accessKey=a,s3.secretKey=b"}, schema: true,
			want: []string{"/s3/accessKey"}},
		{name: "access key without secret key", args: []string{"--set", "s3.accessKey=AKIAEXAMPLE"}, schema: true, want: []string{"/s3", "secretKey"}},
		{name: "FTPS without certificate", args: []string{"--set", "tls.enabled=true"}, schema: true, want: []string{"/tls", "secretName"}},
		{name: "IPv6 public host", args: []string{"--set", "ftp.publicHost=2001:db8::1"}, schema: true, want: []string{"/ftp/publicHost"}},
		{name: "chart-managed key in config", args: []string{"--set", "config.passive-ports=1-2"}, schema: true, want: []string{"invalid propertyName 'passive-ports'"}},
		{name: "webhook URLs (secret) in config", args: []string{"--set", "config.events-urls=https://u:p@hooks.example/x"}, schema: true,
			want: []string{"invalid propertyName 'events-urls'"}},
		{name: "PodDisruptionBudget without a bound", args: []string{"--set", "podDisruptionBudget.maxUnavailable=null"}, schema: true,
			want: []string{"/podDisruptionBudget"}},
		{name: "secret in config", args: []string{"--set", "config.s3-secret-key=x"}, schema: true, want: []string{"invalid propertyName 's3-secret-key'"}},
		{name: "password instead of hash", args: []string{"--set-json", `initialUsers=[{"name":"cam01","passwordHash":"hunter22"}]`},
			schema: true, want: []string{"/initialUsers/0/passwordHash"}},
		{name: "unknown permission", args: []string{"--set-json", `initialUsers=[{"name":"cam01","passwordHash":"` + bcrypt + `","permissions":["write"]}]`},
			schema: true, want: []string{"/initialUsers/0/permissions/0"}},
		{name: "initial user twice", args: []string{"--set-json",
			`initialUsers=[{"name":"cam01","passwordHash":"` + bcrypt + `"},{"name":"CAM01","passwordHash":"` + bcrypt + `"}]`},
			want: []string{"initialUsers: CAM01 is given twice"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if !tc.noBase {
				args = append(slices.Clone(base), args...)
			}
			for _, cmd := range [][]string{
				templateArgs(args...),
				append([]string{"lint", "--strict", "--kube-version", kubeVersion, chartDir}, args...),
			} {
				out, err := helm(t, cmd...)
				// helm lint reports a template's fail as "[INFO] Fail: ..."
				// and passes; install, upgrade and template stop.
				if lintFail := cmd[0] == "lint" && !tc.schema && strings.Contains(out, "[INFO] Fail: "); err == nil && !lintFail {
					t.Fatalf("helm %s accepted the values:\n%s", cmd[0], out)
				}
				if tc.schema != slices.ContainsFunc(schemaFailures, func(f string) bool { return strings.Contains(out, f) }) {
					t.Errorf("helm %s: refused by the schema: %v, want %v:\n%s", cmd[0], !tc.schema, tc.schema, out)
				}
				for _, w := range tc.want {
					if !strings.Contains(out, w) {
						t.Errorf("helm %s: message lacks %q:\n%s", cmd[0], w, out)
					}
				}
			}
		})
	}
}

// TestRefusalBaseAccepted keeps TestRefusals honest: its base values, and
// each value it breaks set to a good value, are accepted.
func TestRefusalBaseAccepted(t *testing.T) {
	for _, args := range [][]string{
		{"--set", "s3.bucket=files"},
		{"--set", "s3.bucket=files,replicaCount=1,ftp.passivePorts.start=30000,ftp.passivePorts.end=30099"},
		{"--set", "s3.bucket=files,database.type=postgres,database.url=postgres://db/s3ftp,replicaCount=3"},
		{"--set", "s3.bucket=files,service.type=NodePort,terminationGracePeriodSeconds=50,containerPorts.api=8081"},
		{"--set", "s3.bucket=files,existingSecret=creds,ftp.publicHost=ftp.example.com,config.max-sessions=5"},
		{"--set", "s3.bucket=files,s3.accessKey=AKIAEXAMPLE,s3.secretKey=x,tls.enabled=true,tls.secretName=ftp-tls"},
	} {
		if out, err := helm(t, templateArgs(args...)...); err != nil {
			t.Errorf("helm template %v: %v\n%s", args, err, out)
		}
	}
}

// TestSchemaConfigKeys checks the schema's list of gateway configuration
// keys that config may set against the keys the binary knows: each one is a
// real key, and every real key is either allowed or set by the chart itself
// (from other values or the Secret).
func TestSchemaConfigKeys(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties struct {
			Config struct {
				PropertyNames struct {
					Enum []string `json:"enum"`
				} `json:"propertyNames"`
			} `json:"config"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	allowed := schema.Properties.Config.PropertyNames.Enum
	if len(allowed) == 0 {
		t.Fatal("values.schema.json: config.propertyNames has no enum of keys")
	}
	var effective map[string]any
	if err := yaml.Unmarshal([]byte(s3ftpbin.Run(t, s3ftpBin, "", "config", "check")), &effective); err != nil {
		t.Fatal(err)
	}
	// The keys the chart sets from its own values, the secrets (kept in the
	// Secret: S3FTP_EVENTS_URLS, S3FTP_EVENTS_SECRET in existingSecret or
	// extraEnv), and those that cannot work in the pod (the embedded store
	// and its demo user; port 20 needs a capability the pod drops).
	chartOwned := []string{
		"ftp-listen", "passive-ports", "public-host", "proxy-trusted-cidrs", "api-listen", "api-token",
		"api-token-hashes", "api-read-token-hashes", "data-dir", "storage", "embedded-s3-listen", "embedded-fsync",
		"s3-bucket", "s3-region", "s3-endpoint", "s3-path-style", "s3-access-key", "s3-secret-key",
		"db-url", "shutdown-timeout", "tls-cert", "tls-key", "tls-required", "ftps-implicit-listen",
		"demo-user", "demo-password", "events-urls", "events-secret", "active-port-20",
		"replicas", "replica-index", "peers", "peer-networks", // the replica layout (replica-index from each pod)
	}
	for _, k := range allowed {
		if _, ok := effective[k]; !ok {
			t.Errorf("schema allows config.%s, which the gateway does not know", k)
		}
		if slices.Contains(chartOwned, k) {
			t.Errorf("schema allows config.%s, which the chart sets itself", k)
		}
	}
	for _, k := range keysOf(effective) {
		if !slices.Contains(allowed, k) && !slices.Contains(chartOwned, k) {
			t.Errorf("gateway key %s can be set neither through config nor by the chart", k)
		}
	}
}
