package bench

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cpuUse is where the CPU time of one run went: the whole machine's busy
// time (every process and the kernel, all cores), the harness process's
// own (its Go FTP and S3 clients and its counting proxies) and, through
// FTP, the gateway's, in CPU seconds, over Wall seconds.
type cpuUse struct {
	Machine, Harness, Gateway, Wall float64
}

// cpuClock is a reading of the machine's and the harness's CPU time.
type cpuClock struct {
	machine, harness float64
	at               time.Time
}

// readCPU reads the machine's busy time from /proc/stat and the harness's
// from /proc/self/stat.
func readCPU(t testing.TB) cpuClock {
	t.Helper()
	return cpuClock{machine: readSeconds(t, "/proc/stat", machineBusy), harness: readSeconds(t, "/proc/self/stat", processCPU), at: time.Now()}
}

// readSeconds reads the file at path and returns the seconds parse finds
// in it, failing the test on an error.
func readSeconds(t testing.TB, path string, parse func(string) (float64, error)) float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// since returns the CPU used from c to now.
func (c cpuClock) since(t testing.TB) cpuUse {
	t.Helper()
	now := readCPU(t)
	return cpuUse{Machine: now.machine - c.machine, Harness: now.harness - c.harness, Wall: now.at.Sub(c.at).Seconds()}
}

// machineBusy returns the busy seconds of all cores from /proc/stat's
// first line ("cpu user nice system idle iowait irq softirq steal ..."):
// everything but idle and iowait (guest time is already in user).
func machineBusy(stat string) (float64, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var busy int64
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return float64(busy) / clockTicks, nil
}

// processCPU returns a process's user + system seconds from its
// /proc/PID/stat.
func processCPU(stat string) (float64, error) {
	// Fields after "(comm)": state is field 3, utime 14, stime 15.
	f := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/PID/stat: too short: %q", stat)
	}
	var ticks int64
	for _, i := range []int{14 - 3, 15 - 3} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/PID/stat: %w", err)
		}
		ticks += n
	}
	return float64(ticks) / clockTicks, nil
}

// perItemMS returns the median over runs of each run's CPU per item in
// milliseconds, with pick choosing which CPU time.
func perItemMS(uses []cpuUse, items []int, pick func(cpuUse) float64) float64 {
	var v []float64
	for i, u := range uses {
		if items[i] > 0 {
			v = append(v, pick(u)/float64(items[i])*1000)
		}
	}
	return median(v)
}

// busy returns the median share of the machine's cores busy during the
// runs, in percent.
func busy(uses []cpuUse, cores int) float64 {
	var v []float64
	for _, u := range uses {
		if u.Wall > 0 {
			v = append(v, 100*u.Machine/(u.Wall*float64(cores)))
		}
	}
	return median(v)
}

// printCPU writes where the CPU went, per workload: how busy the machine
// was during each path's runs, and the CPU each path cost per item, in
// all and in the harness and the gateway.
func printCPU(w io.Writer, rows []row, cores int) {
	fmt.Fprintf(w, "\n| workload | machine busy direct, %% of %d cores | ftp | CPU ms per item direct: machine | harness | ftp: machine | harness | gateway | machine CPU per item ftp/direct |\n", cores)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	machine := func(u cpuUse) float64 { return u.Machine }
	harness := func(u cpuUse) float64 { return u.Harness }
	gateway := func(u cpuUse) float64 { return u.Gateway }
	for _, r := range rows {
		if len(r.FTP.Use) == 0 || len(r.Direct.Use) == 0 {
			continue
		}
		dm := perItemMS(r.Direct.Use, r.Direct.RunItems, machine)
		fm := perItemMS(r.FTP.Use, r.FTP.RunItems, machine)
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %s | %s | %s | %s | %s | %s |\n", r.W.Name,
			busy(r.Direct.Use, cores), busy(r.FTP.Use, cores),
			num(dm), num(perItemMS(r.Direct.Use, r.Direct.RunItems, harness)),
			num(fm), num(perItemMS(r.FTP.Use, r.FTP.RunItems, harness)), num(perItemMS(r.FTP.Use, r.FTP.RunItems, gateway)),
			times(fm, dm))
	}
}
