package helm_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestReadmeDocumentsEveryValue checks that the chart's README names every
// leaf of values.yaml (a key whose value is a scalar, a list, an empty map
// or null) as `dotted.path`.
func TestReadmeDocumentsEveryValue(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(raw, &values); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	leaves := valueLeaves("", values)
	if len(leaves) < 50 {
		t.Fatalf("values.yaml has %d leaves; parsing went wrong", len(leaves))
	}
	for _, leaf := range leaves {
		if !strings.Contains(string(readme), "`"+leaf+"`") {
			t.Errorf("README.md does not document `%s`", leaf)
		}
	}
}

// valueLeaves returns the dotted paths of the leaves under m.
func valueLeaves(prefix string, m map[string]any) []string {
	var out []string
	for _, k := range keysOf(m) {
		path := prefix + k
		if sub, ok := m[k].(map[string]any); ok && len(sub) > 0 {
			out = append(out, valueLeaves(path+".", sub)...)
			continue
		}
		out = append(out, path)
	}
	return out
}
