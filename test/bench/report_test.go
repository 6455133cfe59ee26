package bench

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"time"
)

// side gathers one path's runs of a workload (FTP or direct).
type side struct {
	Values  []float64
	PerFile []time.Duration
	Items   int
	Failed  []error
	// Use and RunItems are each run's CPU time and items.
	Use      []cpuUse
	RunItems []int
}

func (s *side) add(r run) {
	s.Values = append(s.Values, r.Value)
	s.Use = append(s.Use, r.Use)
	s.RunItems = append(s.RunItems, r.Items)
	s.PerFile = append(s.PerFile, r.PerFile...)
	s.Items += r.Items
	s.Failed = append(s.Failed, r.Failed...)
}

// row is one workload's line of the table.
type row struct {
	Store             string
	W                 workload
	FTP, Direct       side
	CPU               []float64 // gateway CPU seconds of each FTP run
	RSS               float64   // gateway peak RSS over the workload, MiB
	FTPReq, DirectReq map[string]int
	Lost              int
	// One is the one gateway's side of the same runs, for a row through
	// several replicas; nil otherwise.
	One *side
	// Relayed counts the data connections the replicas relayed.
	Relayed int
}

// median returns the median of v (0 when empty).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// p99 returns the 99th percentile (nearest rank) of d in milliseconds.
func p99(d []time.Duration) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(d))
	i := int(math.Ceil(0.99*float64(len(s)))) - 1
	return float64(s[max(i, 0)]) / float64(time.Millisecond)
}

// num formats a figure with three significant digits (more above 1000).
func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// spread formats the median and the range of v: "312 (290–330)".
func spread(v []float64) string {
	if len(v) == 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%s–%s)", num(median(v)), num(slices.Min(v)), num(slices.Max(v)))
}

// printTable writes the header line and the Markdown table.
func printTable(w io.Writer, sz scale, rows []row) {
	fmt.Fprintf(w, "\n%s\n\n", header(sz))
	fmt.Fprintln(w, "| workload | S3 | unit | direct median (min–max) | ftp median (min–max) | ftp/direct | p99 per file direct, ms | p99 per file ftp, ms | gateway CPU s per run | gateway peak RSS MiB | S3 requests per item, ftp | direct | failed | lost |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %d |\n",
			r.W.Name, r.Store, r.W.Unit, spread(r.Direct.Values), spread(r.FTP.Values), times(median(r.FTP.Values), median(r.Direct.Values)),
			lat(r.Direct), lat(r.FTP), num(median(r.CPU)), num(r.RSS),
			perItem(r.FTPReq, r.FTP.Items), perItem(r.DirectReq, r.Direct.Items),
			len(r.FTP.Failed)+len(r.Direct.Failed), r.Lost)
	}
	printReplicas(w, rows)
	printCPU(w, rows, runtime.NumCPU())
}

// printReplicas writes, for the rows through several replicas, their
// figures against the one gateway's in the same runs.
func printReplicas(w io.Writer, rows []row) {
	header := false
	for _, r := range rows {
		if r.One == nil {
			continue
		}
		if !header {
			fmt.Fprintln(w, "\n| workload | S3 | unit | one gateway median (min–max) | replicas median (min–max) | replicas/one gateway | p99 per file one gateway, ms | p99 per file replicas, ms | p99 replicas/one gateway | data connections relayed per file |")
			fmt.Fprintln(w, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
			header = true
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.W.Name, r.Store, r.W.Unit, spread(r.One.Values), spread(r.FTP.Values), times(median(r.FTP.Values), median(r.One.Values)),
			lat(*r.One), lat(r.FTP), times(p99(r.FTP.PerFile), p99(r.One.PerFile)), ratio(r.Relayed, max(r.FTP.Items, 1)))
	}
}

// times formats a/b as "0.87×", or "–" when b is 0.
func times(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// lat formats the p99 of s's per-file times in ms, or "–" without any.
func lat(s side) string {
	if len(s.PerFile) == 0 {
		return "–"
	}
	return num(p99(s.PerFile))
}
