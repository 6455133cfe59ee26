package pgtest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestParseVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []int
		ok   bool
	}{
		{"15", []int{15}, true},
		{"9.6", []int{9, 6}, true},
		{"10", []int{10}, true},
		{"", nil, false},
		{"15beta", nil, false},
		{"9.", nil, false},
		{"-1", nil, false},
	}
	for _, tt := range tests {
		got, ok := parseVersion(tt.in)
		if ok != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("parseVersion(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestHighestBinDir(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		versions map[string][]string // version directory -> executables in its bin
		want     string              // version directory whose bin wins, "" for none
	}{
		{"none", nil, ""},
		{"one", map[string][]string{"15": {"initdb", "postgres"}}, "15"},
		{"numeric not lexical order", map[string][]string{
			"9.6": {"initdb", "postgres"}, "10": {"initdb", "postgres"}, "15": {"initdb", "postgres"},
		}, "15"},
		{"highest lacks the server", map[string][]string{
			"15": {"initdb", "postgres"}, "16": {"psql"}, "17": {"initdb"},
		}, "15"},
		{"not a version", map[string][]string{"15": {"initdb", "postgres"}, "devel": {"initdb", "postgres"}}, "15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			for v, exes := range tt.versions {
				bin := filepath.Join(root, v, "bin")
				if err := os.MkdirAll(bin, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, exe := range exes {
					if err := os.WriteFile(filepath.Join(bin, exe), []byte("#!/bin/sh\n"), 0o755); err != nil {
						t.Fatal(err)
					}
				}
			}
			want := ""
			if tt.want != "" {
				want = filepath.Join(root, tt.want, "bin")
			}
			if got := highestBinDir(filepath.Join(root, "*", "bin")); got != want {
				t.Errorf("highestBinDir = %q, want %q", got, want)
			}
		})
	}
}

func TestHasServerNeedsExecutables(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, exe := range []string{"initdb", "postgres"} {
		if err := os.WriteFile(filepath.Join(dir, exe), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if hasServer(dir) {
		t.Error("hasServer is true for files that are not executable")
	}
}
