package bench

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// counter is a reverse proxy between an S3 client (the gateway, or the
// direct baseline) and the S3 server that counts the requests it forwards
// by operation (see operation). Bodies are streamed, never buffered whole;
// the Host header is kept so that request signatures still hold.
type counter struct {
	srv *http.Server
	url string

	mu     sync.Mutex
	counts map[string]int
}

// newCounter starts a counting proxy to target (http://HOST:PORT) on
// 127.0.0.1:0, stopped when the test ends.
func newCounter(t testing.TB, target string) *counter {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	tr.ExpectContinueTimeout = 0 // send bodies at once; the client already waited
	tr.DisableCompression = true
	c := &counter{url: "http://" + ln.Addr().String(), counts: map[string]int{}}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // signed by the client
		},
		Transport: tr,
		ModifyResponse: func(resp *http.Response) error {
			c.add(operation(resp.Request, resp.StatusCode))
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			c.add(operation(r, 0))
			http.Error(w, err.Error(), http.StatusBadGateway)
		},
	}
	c.srv = &http.Server{Handler: rp, ReadHeaderTimeout: time.Minute}
	go func() { _ = c.srv.Serve(ln) }()
	t.Cleanup(func() { _ = c.srv.Close() })
	return c
}

func (c *counter) add(op string) {
	c.mu.Lock()
	c.counts[op]++
	c.mu.Unlock()
}

// take returns the counts since the last take and resets them.
func (c *counter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.counts
	c.counts = map[string]int{}
	return out
}

// operation names an S3 request (path-style URL) by what it does: PUT (an
// object), MKD (PUT of a directory marker, a key ending in "/"), PART
// (UploadPart), MPU (CreateMultipartUpload), DONE (Complete...), ABORT, COPY,
// GET, HEAD, LIST (ListObjects), UPLOADS (ListMultipartUploads), DEL, DELS
// (DeleteObjects), with the status appended when it is not 2xx ("HEAD404";
// "000" when no response came).
func operation(r *http.Request, status int) string {
	q := r.URL.Query()
	key := ""
	if parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2); len(parts) == 2 {
		key = parts[1]
	}
	op := r.Method
	switch {
	case r.Method == http.MethodHead:
		op = "HEAD"
	case r.Method == http.MethodGet && key == "" && q.Has("uploads"):
		op = "UPLOADS"
	case r.Method == http.MethodGet && key == "":
		op = "LIST"
	case r.Method == http.MethodGet:
		op = "GET"
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
		op = "COPY"
	case r.Method == http.MethodPut && q.Has("uploadId"):
		op = "PART"
	case r.Method == http.MethodPut && strings.HasSuffix(key, "/"):
		op = "MKD"
	case r.Method == http.MethodPut:
		op = "PUT"
	case r.Method == http.MethodPost && q.Has("uploads"):
		op = "MPU"
	case r.Method == http.MethodPost && q.Has("uploadId"):
		op = "DONE"
	case r.Method == http.MethodPost && q.Has("delete"):
		op = "DELS"
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		op = "ABORT"
	case r.Method == http.MethodDelete:
		op = "DEL"
	}
	if status < 200 || status > 299 {
		op += fmt.Sprintf("%03d", status)
	}
	return op
}

// perItem formats counts divided by items: the total, then each operation
// from the most frequent, as "1.77: PUT 1.00, HEAD404 0.39, LIST 0.32".
func perItem(counts map[string]int, items int) string {
	if items == 0 {
		return "–"
	}
	total := 0
	ops := make([]string, 0, len(counts))
	for op, n := range counts {
		total += n
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool {
		if counts[ops[i]] != counts[ops[j]] {
			return counts[ops[i]] > counts[ops[j]]
		}
		return ops[i] < ops[j]
	})
	var b strings.Builder
	fmt.Fprintf(&b, "%s", ratio(total, items))
	for i, op := range ops {
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%s %s", sep, op, ratio(counts[op], items))
	}
	return b.String()
}

// ratio formats n/d with two decimals, or three significant digits above 10.
func ratio(n, d int) string {
	v := float64(n) / float64(d)
	if v >= 10 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
