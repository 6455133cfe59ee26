package devices

import (
	"context"
	"testing"
)

// TestDataChecks: listings of every common shape are read by name, and
// the . and .. entries some servers list are not counted.
func TestDataChecks(t *testing.T) {
	t.Parallel()
	r := &replayer{ctx: context.Background(), script: &Script{Name: "t.txt"}, vars: map[string]string{}}
	r.received = []byte("drwxr-xr-x 2 ftp ftp 4096 Nov 25 10:41 .\r\n" +
		"drwxr-xr-x 3 ftp ftp 4096 Nov 25 10:41 ..\r\n" +
		"-rw-r--r-- 1 ftp ftp 12 Nov 25 10:41 a b.jpg\r\n" +
		"drwxr-xr-x 1 ftp ftp 0 Jan  1  1970 2026\r\n")
	for _, c := range []struct {
		step dataCheckStep
		ok   bool
	}{
		{dataCheckStep{what: "count", n: 2}, true},
		{dataCheckStep{what: "count", n: 4}, false},
		{dataCheckStep{what: "has", names: []string{"a b.jpg", "2026"}}, true},
		{dataCheckStep{what: "has", names: []string{"b.jpg"}}, false},
		{dataCheckStep{what: "lacks", names: []string{"b.jpg", "."}}, true},
		{dataCheckStep{what: "lacks", names: []string{"2026"}}, false},
		{dataCheckStep{what: "contains", text: "JAN  1"}, true},
		{dataCheckStep{what: "contains", text: "feb"}, false},
	} {
		if err := r.checkData(c.step); (err == nil) != c.ok {
			t.Errorf("%+v: %v, want ok=%v", c.step, err, c.ok)
		}
	}
}

func TestEntryName(t *testing.T) {
	t.Parallel()
	for line, want := range map[string]string{
		"-rw-r--r-- 1 ftp ftp        92160 Nov 25 12:56 station.jpg":        "station.jpg",
		"drwxr-xr-x 1 ftp ftp            0 Jan  1  1970 a dir  with spaces": "a dir  with spaces",
		"-rw-r--r--    1 0        0            5 Nov 25  2025 x":            "x",
		"Type=file;Size=6144;Modify=20261125125633; reading 1.csv":          "reading 1.csv",
		"type=dir;modify=20261125125633; d":                                 "d",
		"data/station.jpg":                                                  "data/station.jpg",
		"plain name.jpg":                                                    "plain name.jpg",
	} {
		if got := entryName(line); got != want {
			t.Errorf("entryName(%q) = %q, want %q", line, got, want)
		}
	}
	if !hasEntry([]string{"data/station.jpg"}, "station.jpg") || hasEntry([]string{"data/station.jpg"}, "x/station.jpg") {
		t.Errorf("hasEntry does not match NLST paths by their last element only")
	}
}
