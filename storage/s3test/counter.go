package s3test

import (
	"maps"
	"net/http"
	"sync"
)

// Counter is an http.RoundTripper that counts the S3 requests it carries by
// operation (see Operation) before passing them to Next
// (http.DefaultTransport when nil). It is safe for concurrent use.
type Counter struct {
	Next http.RoundTripper

	mu     sync.Mutex
	counts map[string]int
}

// RoundTrip counts req and sends it on.
func (c *Counter) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[Operation(req)]++
	c.mu.Unlock()
	next := c.Next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(req)
}

// Counts returns the requests counted since the last Reset, by operation.
func (c *Counter) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// Reset forgets the requests counted so far.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = nil
}

// Operation names the S3 operation of req from its method, query and
// headers, e.g. "PutObject", "HeadObject", "ListObjectsV2".
func Operation(req *http.Request) string {
	q := req.URL.Query()
	switch req.Method {
	case http.MethodHead:
		return "HeadObject"
	case http.MethodGet:
		if q.Has("list-type") {
			return "ListObjectsV2"
		}
		return "GetObject"
	case http.MethodPut:
		switch {
		case q.Has("partNumber") && req.Header.Get("X-Amz-Copy-Source") != "":
			return "UploadPartCopy"
		case q.Has("partNumber"):
			return "UploadPart"
		case req.Header.Get("X-Amz-Copy-Source") != "":
			return "CopyObject"
		}
		return "PutObject"
	case http.MethodPost:
		switch {
		case q.Has("uploads"):
			return "CreateMultipartUpload"
		case q.Has("uploadId"):
			return "CompleteMultipartUpload"
		}
		return "Post"
	case http.MethodDelete:
		if q.Has("uploadId") {
			return "AbortMultipartUpload"
		}
		return "DeleteObject"
	}
	return req.Method
}
