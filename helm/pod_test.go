package helm_test

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// pod is what the gateway container of a rendering sees, laid out on this
// machine: each volume mount is a temporary directory filled from the
// rendered ConfigMap or Secret (or a Secret the operator provides), its
// environment resolved the way the kubelet would, and its arguments with the
// container's paths turned into those directories.
type pod struct {
	mounts []mount
	env    []string // KEY=VALUE
	args   []string
}

// mount is one volume mount: the container's path and the directory here.
type mount struct {
	path, dir string
	writable  bool
}

// downward answers the Downward API's fieldRefs: field path → value.
type downward map[string]string

// podFields are the fields of gateway pod number index (its ordinal in a
// StatefulSet) on the node whose IP is hostIP.
func podFields(hostIP string, index int) downward {
	return downward{
		"status.hostIP": hostIP,
		"metadata.labels['" + appsv1.PodIndexLabel + "']": strconv.Itoa(index),
	}
}

// newPod builds the pod view of the gateway container in m. secrets holds
// the Secrets the chart does not render (existingSecret, the TLS Secret);
// fields answers the Downward API's fieldRefs.
func newPod(t *testing.T, m *manifests, secrets map[string]map[string][]byte, fields downward) *pod {
	t.Helper()
	d, c := m.gateway(t)
	secretData := m.secretData(t, secrets)
	vols := map[string]corev1.Volume{}
	for _, v := range d.Template.Spec.Volumes {
		vols[v.Name] = v
	}
	p := &pod{}
	files := map[string]map[string][]byte{} // mount path → files to write
	for _, vm := range c.VolumeMounts {
		v, ok := vols[vm.Name]
		if !ok || vm.SubPath != "" {
			t.Fatalf("volumeMount %s: no such volume, or a subPath", vm.Name)
		}
		mt := mount{path: vm.MountPath, dir: t.TempDir()}
		switch {
		case v.ConfigMap != nil:
			cm := m.configMap(v.ConfigMap.Name)
			if cm == nil {
				t.Fatalf("volume %s: ConfigMap %s not rendered", v.Name, v.ConfigMap.Name)
			}
			files[vm.MountPath] = map[string][]byte{}
			for k, val := range cm.Data {
				files[vm.MountPath][k] = []byte(val)
			}
		case v.Secret != nil:
			files[vm.MountPath] = secretData(v.Secret.SecretName)
		case v.EmptyDir != nil, v.PersistentVolumeClaim != nil:
			mt.writable = !vm.ReadOnly
		default:
			t.Fatalf("volume %s: unexpected source %+v", v.Name, v.VolumeSource)
		}
		p.mounts = append(p.mounts, mt)
	}
	// Longest mount path first, so that nested mounts win.
	slices.SortFunc(p.mounts, func(a, b mount) int { return cmp.Compare(len(b.path), len(a.path)) })
	for _, mt := range p.mounts {
		for name, data := range files[mt.path] {
			if strings.HasSuffix(name, ".yaml") {
				data = p.rewriteYAML(t, name, data)
			}
			if err := os.WriteFile(filepath.Join(mt.dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}

	p.env = containerEnv(t, c, secretData, fields)
	for _, a := range c.Args {
		p.args = append(p.args, p.path(t, a))
	}
	return p
}

// secretData returns a function giving the data of a Secret: rendered by the
// chart, else among secrets (provided by the operator).
func (m *manifests) secretData(t *testing.T, secrets map[string]map[string][]byte) func(name string) map[string][]byte {
	return func(name string) map[string][]byte {
		t.Helper()
		if s := m.secret(name); s != nil {
			return s.Data
		}
		if data, ok := secrets[name]; ok {
			return data
		}
		t.Fatalf("Secret %s: neither rendered nor provided", name)
		return nil
	}
}

// containerEnv resolves the environment of c as the kubelet would: envFrom
// Secrets, then env values, Secret keys and the Downward API's fields.
func containerEnv(t *testing.T, c *corev1.Container, secretData func(string) map[string][]byte, fields downward) []string {
	t.Helper()
	var env []string
	for _, ef := range c.EnvFrom {
		if ef.SecretRef == nil || ef.Prefix != "" {
			t.Fatalf("envFrom %+v: only Secrets without prefix are simulated", ef)
		}
		data := secretData(ef.SecretRef.Name)
		for _, k := range keysOf(data) {
			env = append(env, k+"="+string(data[k]))
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, ok := secretData(ref.Name)[ref.Key]
			if !ok {
				t.Fatalf("env %s: Secret %s has no key %s", e.Name, ref.Name, ref.Key)
			}
			env = append(env, e.Name+"="+string(v))
		case e.ValueFrom.FieldRef != nil:
			v, ok := fields[e.ValueFrom.FieldRef.FieldPath]
			if !ok {
				t.Fatalf("env %s: field %s not simulated", e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
			env = append(env, e.Name+"="+v)
		default:
			t.Fatalf("env %s: source %+v not simulated", e.Name, e.ValueFrom)
		}
	}
	return env
}

// path turns an absolute path inside the container into the directory of
// its mount here; other strings are returned unchanged. An absolute path on
// no mount fails the test: the container's root filesystem is read-only and
// holds only the binary.
func (p *pod) path(t *testing.T, s string) string {
	t.Helper()
	if !strings.HasPrefix(s, "/") {
		return s
	}
	for _, mt := range p.mounts {
		if s == mt.path || strings.HasPrefix(s, mt.path+"/") {
			return mt.dir + strings.TrimPrefix(s, mt.path)
		}
	}
	t.Errorf("path %s is on no volume of the pod", s)
	return s
}

// rewriteYAML rewrites the absolute paths among the scalar values of a YAML
// file (the gateway's configuration) with path, and checks that data-dir is
// on a writable volume.
func (p *pod) rewriteYAML(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatalf("%s: not a YAML mapping", name)
	}
	top := doc.Content[0].Content
	for i := 0; i+1 < len(top); i += 2 {
		key, val := top[i].Value, top[i+1]
		if val.Kind != yaml.ScalarNode {
			continue
		}
		if key == "data-dir" && !p.isWritable(val.Value) {
			t.Errorf("%s: data-dir %s is not on a writable volume", name, val.Value)
		}
		val.Value = p.path(t, val.Value)
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// isWritable reports whether path lies on a writable volume.
func (p *pod) isWritable(path string) bool {
	for _, mt := range p.mounts {
		if path == mt.path || strings.HasPrefix(path, mt.path+"/") {
			return mt.writable
		}
	}
	return false
}
