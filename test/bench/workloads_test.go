package bench

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3ftp/s3ftp/storage/s3test"
	"github.com/s3ftp/s3ftp/test/s3ftpbin"
)

// The harness's flags (test/bench/run passes them on; see docs/performance.md).
var (
	workloads = flag.String("bench.workloads", "", "regexp of the workloads to run (burst-pasv, burst-port, stor, retr, list, mlsd); TestWorkloads is skipped when empty")
	full      = flag.Bool("bench.full", os.Getenv("S3FTP_BENCH_FULL") == "1", "full size (20 sessions × 100 files, 1 GiB, 10,000 objects) instead of quick size; also S3FTP_BENCH_FULL=1")
	reps      = flag.Int("bench.reps", 3, "runs of each workload through FTP and directly, interleaved")
	sessions  = flag.Int("bench.sessions", 0, "camera sessions at once (0: 4, full 20)")
	files     = flag.Int("bench.files", 0, "files per camera session (0: 50, full 100)")
	largeMiB  = flag.Int("bench.large", 0, "size of the large file in MiB (0: 64, full 1024)")
	objects   = flag.Int("bench.objects", 0, "objects in the listed directory (0: 1000, full 10000)")
	stores    = flag.String("bench.stores", "versitygw", "comma-separated S3 servers: versitygw, embedded")
	serveArgs = flag.String("bench.serve", "", "extra `s3ftp serve` arguments, space-separated (e.g. \"--s3-part-size 16MiB\")")
	reference = flag.String("bench.reference", "", "path of a fclairamb/ftpserver binary to measure instead of s3ftp (the reference server, built beside the project)")
	serveEnv  = flag.String("bench.env", "", "extra environment of `s3ftp serve`, comma-separated KEY=VALUE (e.g. S3FTP_S3_CONCURRENCY=4)")
	pin       = flag.Bool("bench.pin", false, "give the gateway (and replicas) the last core and the harness, S3 server and clients the others, as when the gateway runs on a machine of its own; off: every process shares every core")
	nReplicas = flag.Int("bench.replicas", 0, "also run the camera bursts through this many replicas behind a balancer (with PostgreSQL), interleaved with one gateway: rows burst-pasv-Nreplicas, burst-port-Nreplicas; 0: not")
)

const (
	ftpPrefix    = "ftp/"    // the FTP user's root in the bucket
	directPrefix = "direct/" // where the direct baseline writes
	// replicasPrefix is the replicas' user's root in the bucket.
	replicasPrefix = "replicas/"
	fileSize       = 200 << 10 // a camera picture
	dirEvery       = 25        // files per dated directory
)

// scale is one run's workload sizes.
type scale struct {
	Sessions, Files, Objects int
	Large                    int64
}

func chosenScale() scale {
	s := scale{Sessions: 4, Files: 50, Large: 64 << 20, Objects: 1000}
	if *full {
		s = scale{Sessions: 20, Files: 100, Large: 1 << 30, Objects: 10000}
	}
	if *sessions > 0 {
		s.Sessions = *sessions
	}
	if *files > 0 {
		s.Files = *files
	}
	if *largeMiB > 0 {
		s.Large = int64(*largeMiB) << 20
	}
	if *objects > 0 {
		s.Objects = *objects
	}
	return s
}

// rig is one S3 server with a bucket, a gateway in front of it and the
// direct baseline's client.
type rig struct {
	srv    *s3test.Server
	bucket string
	gw     *gateway
	// replicas are the -bench.replicas replicas behind their balancer,
	// nil without the flag.
	replicas *gateway
	sz       scale
	tmp      string
	// direct is the baseline's client; its requests go through directS3,
	// a counting proxy like the gateway's, so both paths have the same hop.
	direct   *s3.Client
	directS3 *counter
	// check is an uncounted client for setup and verification.
	check *s3.Client

	large  *largeFile // the large file's local copy, made on first use
	python string     // python3's executable (not a pyenv shim), for burst-port
}

// file is an upload acknowledged by a 226 (or by S3 for the direct
// baseline), to be found in S3 with this size and SHA-256.
type file struct {
	Key  string
	Size int64
	Sum  [sha256.Size]byte
}

// run is what one run of a workload (through FTP or directly) measured.
type run struct {
	Value   float64         // the workload's figure: files/s, MB/s or seconds
	PerFile []time.Duration // each file's time, for bursts
	Items   int             // files (or listings) done, for requests per item
	Failed  []error         // transfers that failed
	Acked   []file          // uploads to verify in S3
	// CPU is the gateway's CPU seconds while the clock ran, for a workload
	// that measures it itself (bursts: the logins before the clock starts
	// are not counted); 0: ftpRun counts the whole run.
	CPU float64
	// Use is the machine's and the harness's CPU time over the same
	// window (bursts: while the clock ran); zero: the whole run's.
	Use cpuUse
}

// workload is one row of the table.
type workload struct {
	Name   string
	Unit   string // of run.Value
	Setup  func(t *testing.T, r *rig)
	FTP    func(t *testing.T, r *rig, rep int) run
	Direct func(t *testing.T, r *rig, rep int) run
	// Replicas is FTP through r.replicas; nil when the workload has no
	// such row.
	Replicas func(t *testing.T, r *rig, rep int) run
	Cleanup  []string // key prefixes deleted after the workload
}

// TestWorkloads runs every workload of -bench.workloads through the real
// s3ftp binary and straight to S3, interleaved, against each server of
// -bench.stores, and prints one Markdown table. It fails when a transfer
// fails or an acknowledged upload is not in S3 as sent; it has no time
// thresholds.
func TestWorkloads(t *testing.T) {
	if *workloads == "" {
		t.Skip("run test/bench/run (or -bench.workloads=.)")
	}
	match, err := regexp.Compile(*workloads)
	if err != nil {
		t.Fatalf("-bench.workloads: %v", err)
	}
	if *reference != "" && *nReplicas > 0 {
		t.Fatal("-bench.replicas runs s3ftp replicas against one s3ftp gateway: not with -bench.reference")
	}
	bin, err := s3ftpbin.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sz := chosenScale()
	var split cores
	if *pin {
		if split, err = splitCores(runtime.NumCPU()); err != nil {
			t.Fatal(err)
		}
		if err := pinProcess(0, split.rest); err != nil {
			t.Fatal(err)
		}
	}
	var rows []row
	for _, store := range strings.Split(*stores, ",") {
		r := startRig(t, bin, strings.TrimSpace(store), sz)
		if *pin {
			pinRig(t, r, split)
		}
		for _, w := range all() {
			if !match.MatchString(w.Name) {
				continue
			}
			rows = append(rows, measure(t, r, w)...)
		}
	}
	printTable(os.Stdout, sz, rows)
}

// all returns the workloads in the order they run.
func all() []workload {
	return []workload{
		burstWorkload("burst-pasv", ftpPassive),
		burstWorkload("burst-port", ftpActive),
		storWorkload(),
		retrWorkload(),
		listWorkload("list", "LIST"),
		listWorkload("mlsd", "MLSD"),
	}
}

func startRig(t *testing.T, bin, store string, sz scale) *rig {
	t.Helper()
	var srv *s3test.Server
	switch store {
	case "versitygw":
		if !s3test.VersityInstalled() {
			t.Fatal("versitygw not installed: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
		}
		srv = s3test.Versity(t)
	case "embedded":
		srv = s3test.Embedded(t)
	default:
		t.Fatalf("-bench.stores: unknown server %q (versitygw, embedded)", store)
	}
	r := &rig{srv: srv, bucket: srv.NewBucket(t), sz: sz, tmp: t.TempDir()}
	if *reference != "" {
		r.gw = startReference(t, *reference, srv, r.bucket)
	} else {
		r.gw = startGateway(t, bin, srv, r.bucket)
	}
	if *nReplicas > 0 {
		r.replicas = startReplicas(t, bin, srv, r.bucket, *nReplicas, sz)
	}
	r.directS3 = newCounter(t, srv.Endpoint)
	proxied := *srv
	proxied.Endpoint = r.directS3.url
	r.direct = proxied.Client(false, transport())
	r.check = srv.Client(false, transport())
	return r
}

// transport is the HTTP transport of the harness's S3 clients, with as
// many idle connections per host as the gateway's (storage.NewClient).
func transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return tr
}

// measure runs w reps times through FTP and directly, interleaved (and
// through the replicas, when running, before or after the one gateway in
// turn), verifies every
// acknowledged upload after each run and deletes the workload's keys at
// the end. It returns w's row, then its replicas' row if any.
func measure(t *testing.T, r *rig, w workload) []row {
	t.Helper()
	start := time.Now()
	res := row{Store: r.srv.Name, W: w, FTPReq: map[string]int{}, DirectReq: map[string]int{}}
	var repl *row
	if r.replicas != nil && w.Replicas != nil {
		rw := w
		rw.Name = fmt.Sprintf("%s-%dreplicas", w.Name, *nReplicas)
		repl = &row{Store: r.srv.Name, W: rw, FTPReq: map[string]int{}, DirectReq: res.DirectReq, One: &res.FTP}
		r.replicas.ResetPeak(t)
	}
	if r.gw.NeedsRoot {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := r.check.PutObject(ctx, &s3.PutObjectInput{Bucket: &r.bucket, Key: aws.String(ftpPrefix), Body: http.NoBody})
		cancel()
		if err != nil {
			t.Fatalf("root marker: %v", err)
		}
	}
	if w.Setup != nil {
		w.Setup(t, r)
	}
	r.gw.ResetPeak(t)
	for rep := range *reps {
		one := func() { r.ftpRun(t, &res, r.gw, func() run { return w.FTP(t, r, rep) }) }
		if repl == nil {
			one()
		} else {
			several := func() { r.ftpRun(t, repl, r.replicas, func() run { return w.Replicas(t, r, rep) }) }
			// the replicas first every other run, so that neither always
			// follows the other
			first, second := one, several
			if rep%2 == 1 {
				first, second = several, one
			}
			first()
			second()
		}

		r.directS3.take()
		d := cpuWindow(t, func() run { return w.Direct(t, r, rep) })
		add(res.DirectReq, r.directS3.take())
		res.Direct.add(d)
		res.Lost += r.lost(t, d.Acked)
	}
	res.RSS = r.gw.PeakRSS(t)
	rows := []row{res}
	if repl != nil {
		repl.Direct = res.Direct
		repl.RSS = r.replicas.PeakRSS(t)
		rows = append(rows, *repl)
	}
	for _, p := range w.Cleanup {
		r.deleteAll(t, p)
	}
	for _, err := range res.Direct.Failed {
		t.Errorf("%s direct: %v", w.Name, err)
	}
	for _, rw := range rows {
		for _, err := range rw.FTP.Failed {
			t.Errorf("%s: %v", rw.W.Name, err)
		}
		if rw.Lost > 0 {
			t.Errorf("%s: %d acknowledged uploads not in S3 as sent", rw.W.Name, rw.Lost)
		}
	}
	fmt.Fprintf(os.Stderr, "%s on %s: %d runs each way in %s\n", w.Name, r.srv.Name, *reps, time.Since(start).Round(time.Second))
	return rows
}

// ftpRun runs do, one run through g, into res: its figures, g's CPU time
// and S3 requests, and its acknowledged uploads not found in S3.
func (r *rig) ftpRun(t *testing.T, res *row, g *gateway, do func() run) {
	t.Helper()
	g.S3.take()
	cpu := g.CPU(t)
	relayedBefore := 0
	if g.Relayed != nil {
		relayedBefore = g.Relayed()
	}
	f := cpuWindow(t, do)
	if f.CPU == 0 {
		f.CPU = g.CPU(t) - cpu
	}
	f.Use.Gateway = f.CPU
	res.CPU = append(res.CPU, f.CPU)
	if g.Relayed != nil {
		res.Relayed += g.Relayed() - relayedBefore
	}
	add(res.FTPReq, g.S3.take())
	res.FTP.add(f)
	res.Lost += r.lost(t, f.Acked)
}

// cpuWindow runs do and, unless do measured its own window, sets its
// run's machine and harness CPU time to the whole run's.
func cpuWindow(t *testing.T, do func() run) run {
	t.Helper()
	c := readCPU(t)
	f := do()
	if f.Use.Wall == 0 {
		f.Use = c.since(t)
	}
	return f
}

func add(into, from map[string]int) {
	for k, v := range from {
		into[k] += v
	}
}

// lost reads every file back from S3 (8 at a time) and returns how many
// are missing or differ in size or SHA-256, reporting the first few.
func (r *rig) lost(t *testing.T, files []file) int {
	t.Helper()
	var mu sync.Mutex
	lost := 0
	work := make(chan file)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for f := range work {
				if err := r.verify(f); err != nil {
					mu.Lock()
					if lost++; lost <= 5 {
						t.Errorf("lost: %v", err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	return lost
}

// verify returns an error unless S3 holds f's key with f's size and SHA-256.
func (r *rig) verify(f file) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := r.check.GetObject(ctx, &s3.GetObjectInput{Bucket: &r.bucket, Key: &f.Key})
	if err != nil {
		return fmt.Errorf("%s: %w", f.Key, err)
	}
	defer out.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, out.Body)
	if err != nil {
		return fmt.Errorf("%s: read: %w", f.Key, err)
	}
	if n != f.Size || [sha256.Size]byte(h.Sum(nil)) != f.Sum {
		return fmt.Errorf("%s: %d bytes, SHA-256 %x; sent %d bytes, %x", f.Key, n, h.Sum(nil), f.Size, f.Sum)
	}
	return nil
}

// deleteAll deletes every key under prefix.
func (r *rig) deleteAll(t *testing.T, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	pages := s3.NewListObjectsV2Paginator(r.check, &s3.ListObjectsV2Input{Bucket: &r.bucket, Prefix: &prefix})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("list %s: %v", prefix, err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		var ids []types.ObjectIdentifier
		for _, o := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		if _, err := r.check.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &r.bucket, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}}); err != nil {
			t.Fatalf("delete under %s: %v", prefix, err)
		}
	}
}

// header describes the run above the table.
func header(sz scale) string {
	size := "quick"
	if *full {
		size = "full"
	}
	host, _ := os.Hostname()
	server := "s3ftp"
	if *reference != "" {
		server = "reference server " + *reference
	}
	if *nReplicas > 0 {
		server += fmt.Sprintf(" (and %d replicas behind a balancer for the bursts)", *nReplicas)
	}
	if *pin {
		server += " on a core of its own (-bench.pin: harness, S3 server and clients on the others)"
	}
	return fmt.Sprintf("%s: %s size: bursts %d sessions × %d files × %d KiB (new directory every %d files), large file %d MiB, listing %d objects; %d runs each, interleaved; %s, %d CPUs, %s, %s; serve %q env %q",
		server, size, sz.Sessions, sz.Files, fileSize>>10, dirEvery, sz.Large>>20, sz.Objects, *reps,
		host, runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format("2006-01-02 15:04 MST"), *serveArgs, *serveEnv)
}
