package bench

// Tests of the harness's own pure parts: request naming, figures.

import (
	"net/http/httptest"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3ftp/s3ftp/test/replicas"
)

func TestOperation(t *testing.T) {
	for _, tc := range []struct {
		method, target string
		copySource     bool
		status         int
		want           string
	}{
		{"PUT", "/b/ftp/cam01/img.jpg", false, 200, "PUT"},
		{"PUT", "/b/ftp/cam01/", false, 200, "MKD"},
		{"PUT", "/b/ftp/big.bin?partNumber=3&uploadId=u", false, 200, "PART"},
		{"PUT", "/b/ftp/new.bin", true, 200, "COPY"},
		{"POST", "/b/ftp/big.bin?uploads", false, 200, "MPU"},
		{"POST", "/b/ftp/big.bin?uploadId=u", false, 200, "DONE"},
		{"POST", "/b?delete", false, 200, "DELS"},
		{"DELETE", "/b/ftp/big.bin?uploadId=u", false, 204, "ABORT"},
		{"DELETE", "/b/ftp/old.jpg", false, 204, "DEL"},
		{"HEAD", "/b/ftp/cam01", false, 404, "HEAD404"},
		{"HEAD", "/b/ftp/img.jpg", false, 200, "HEAD"},
		{"GET", "/b?list-type=2&prefix=ftp%2F&delimiter=%2F", false, 200, "LIST"},
		{"GET", "/b/?uploads&prefix=ftp%2F", false, 200, "UPLOADS"},
		{"GET", "/b/ftp/big.bin", false, 206, "GET"},
		{"GET", "/b/ftp/gone.bin", false, 0, "GET000"},
	} {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		if tc.copySource {
			r.Header.Set("X-Amz-Copy-Source", "/b/ftp/old.bin")
		}
		if got := operation(r, tc.status); got != tc.want {
			t.Errorf("%s %s (%d) = %q, want %q", tc.method, tc.target, tc.status, got, tc.want)
		}
	}
}

func TestPerItem(t *testing.T) {
	for _, tc := range []struct {
		counts map[string]int
		items  int
		want   string
	}{
		{map[string]int{"PUT": 100, "HEAD404": 39, "LIST": 32, "MKD": 7}, 100, "1.78: PUT 1.00, HEAD404 0.39, LIST 0.32, MKD 0.07"},
		{map[string]int{"PART": 128, "MPU": 1, "DONE": 1}, 1, "130: PART 128, DONE 1.00, MPU 1.00"},
		{map[string]int{}, 0, "–"},
	} {
		if got := perItem(tc.counts, tc.items); got != tc.want {
			t.Errorf("perItem(%v, %d) = %q, want %q", tc.counts, tc.items, got, tc.want)
		}
	}
}

func TestStatistics(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median of 3 = %v, want 2", got)
	}
	if got := median([]float64{4, 1, 2, 3}); got != 2.5 {
		t.Errorf("median of 4 = %v, want 2.5", got)
	}
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if got := p99(d); got != 198 {
		t.Errorf("p99 of 1..200 ms = %v, want 198", got)
	}
	if got := spread([]float64{120, 91.9, 121}); got != "120 (91.9–121)" {
		t.Errorf("spread = %q", got)
	}
	if got := spread([]float64{0.0234, 0.0191, 1.5}); got != "0.023 (0.019–1.50)" {
		t.Errorf("spread = %q", got)
	}
}

func TestPrintReplicas(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	one := side{Values: []float64{100, 80, 120}, PerFile: ms(10, 20, 40)}
	rows := []row{
		{Store: "versitygw", W: workload{Name: "burst-pasv", Unit: "files/s"}, FTP: one},
		{Store: "versitygw", W: workload{Name: "burst-pasv-3replicas", Unit: "files/s"}, FTP: side{Values: []float64{50, 60}, PerFile: ms(30, 60), Items: 200}, One: &one, Relayed: 134},
	}
	var b strings.Builder
	printReplicas(&b, rows[:1])
	if b.Len() != 0 {
		t.Errorf("without a replicas row printed %q", b.String())
	}
	printReplicas(&b, rows)
	printedOnly(t, b.String(), "| burst-pasv-3replicas | versitygw | files/s | 100 (80.0–120) | 55.0 (50.0–60.0) | 0.55× | 40.0 | 60.0 | 1.50× | 0.67 |", "| burst-pasv |")
}

// printedOnly checks that printed has the line want and not the text
// unwanted.
func printedOnly(t *testing.T, printed, want, unwanted string) {
	t.Helper()
	if !strings.Contains(printed, want) {
		t.Errorf("printed\n%s\nwant the line\n%s", printed, want)
	}
	if strings.Contains(printed, unwanted) {
		t.Errorf("printed %q:\n%s", unwanted, printed)
	}
}

func TestRelayed(t *testing.T) {
	// Three replicas sharing passive ports 101-106 (control port 100):
	// 127.0.0.1 owns 101-102, 127.0.0.2 103-104, 127.0.0.3 105-106.
	c := &replicas.Cluster{Hosts: []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}, ControlPort: 100, Passive: [2]int{101, 106}}
	for _, tc := range []struct {
		name   string
		routes []replicas.Route
		want   int
	}{
		{"none", nil, 0},
		{"control connections are not relayed", []replicas.Route{{Port: 100, Backend: "127.0.0.2"}, {Port: 100, Backend: "127.0.0.3"}}, 0},
		{"to the owner", []replicas.Route{{Port: 101, Backend: "127.0.0.1"}, {Port: 104, Backend: "127.0.0.2"}, {Port: 105, Backend: "127.0.0.3"}}, 0},
		{"to another replica", []replicas.Route{{Port: 102, Backend: "127.0.0.3"}, {Port: 103, Backend: "127.0.0.1"}, {Port: 106, Backend: "127.0.0.3"}}, 2},
	} {
		if got := relayed(c, tc.routes); got != tc.want {
			t.Errorf("%s: relayed = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestCPUReadings(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       float64
		fails      bool
	}{
		{"busy is all but idle and iowait", "cpu  100 20 30 5000 40 5 6 7 0 0\ncpu0 50 10 15 2500 20 2 3 3 0 0\n", 1.68, false},
		{"not /proc/stat", "intr 1 2 3\n", 0, true},
		{"short", "cpu 1 2 3\n", 0, true},
	} {
		got, err := machineBusy(tc.stat)
		if (err != nil) != tc.fails || got != tc.want {
			t.Errorf("%s: machineBusy = %v, %v; want %v (error: %v)", tc.name, got, err, tc.want, tc.fails)
		}
	}
	// comm may hold spaces and parentheses
	stat := "4242 (s3ftp (x) y) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 75 3 4 20 0 9 0 100 1000 100"
	if got, err := processCPU(stat); err != nil || got != 3.25 {
		t.Errorf("processCPU = %v, %v; want 3.25", got, err)
	}
	if _, err := processCPU("4242 (x) S 1 2"); err == nil {
		t.Error("processCPU of a short line: no error")
	}
	if c := readCPU(t); c.machine <= 0 || c.harness <= 0 {
		t.Errorf("readCPU = %+v, want the machine's and this process's CPU time", c)
	}
}

func TestPrintCPU(t *testing.T) {
	rows := []row{{
		W:      workload{Name: "burst-pasv", Unit: "files/s"},
		Direct: side{Use: []cpuUse{{Machine: 1.8, Harness: 0.6, Wall: 1}, {Machine: 2, Harness: 0.8, Wall: 1.25}}, RunItems: []int{1000, 1000}},
		FTP:    side{Use: []cpuUse{{Machine: 3.6, Harness: 1, Gateway: 1.2, Wall: 2}}, RunItems: []int{1000}},
	}, {W: workload{Name: "no runs"}}}
	var b strings.Builder
	printCPU(&b, rows, 2)
	// direct: 90 % and 80 % busy, 1.8 and 2.0 ms per file; ftp: 90 %, 3.6 ms
	printedOnly(t, b.String(), "| burst-pasv | 85 | 90 | 1.90 | 0.700 | 3.60 | 1.00 | 1.20 | 1.89× |", "no runs")
}

func TestPin(t *testing.T) {
	if _, err := splitCores(1); err == nil {
		t.Error("splitCores(1): no error")
	}
	for n, want := range map[int]cores{2: {gateway: []int{1}, rest: []int{0}}, 4: {gateway: []int{3}, rest: []int{0, 1, 2}}} {
		got, err := splitCores(n)
		if err != nil || !slices.Equal(got.gateway, want.gateway) || !slices.Equal(got.rest, want.rest) {
			t.Errorf("splitCores(%d) = %+v, %v; want %+v", n, got, err, want)
		}
	}
	if runtime.NumCPU() < 2 {
		t.Skip("pinning a process needs 2 CPUs")
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if err := pinProcess(cmd.Process.Pid, []int{1}); err != nil {
		t.Fatal(err)
	}
	if got, err := pinned(cmd.Process.Pid); err != nil || !slices.Equal(got, []int{1}) {
		t.Errorf("after pinProcess to CPU 1: the process may run on %v (%v)", got, err)
	}
}
