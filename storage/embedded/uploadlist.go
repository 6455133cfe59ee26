package embedded

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strings"

	"github.com/rclone/gofakes3"
)

// emptyUploadList is the answer to ListMultipartUploads for a bucket with
// no upload in progress.
type emptyUploadList struct {
	XMLName     xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListMultipartUploadsResult"`
	Bucket      string   `xml:"Bucket"`
	Prefix      string   `xml:"Prefix,omitempty"`
	Delimiter   string   `xml:"Delimiter,omitempty"`
	MaxUploads  int      `xml:"MaxUploads"`
	IsTruncated bool     `xml:"IsTruncated"`
}

// withUploadListFix answers ListMultipartUploads of a bucket in which no
// multipart upload was ever started with an empty list. gofakes3 v0.0.12
// answers 404 NoSuchUpload there (it keeps no list for such a bucket yet),
// which a client checking that no upload is left behind takes for a failure.
// Other requests pass through untouched; these are buffered (their answers
// are short: at most 1000 uploads).
func withUploadListFix(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method != http.MethodGet || !q.Has("uploads") {
			next.ServeHTTP(w, r)
			return
		}
		buf := &bufferedResponse{header: w.Header(), status: http.StatusOK}
		next.ServeHTTP(buf, r)
		// gofakes3 answers NoSuchBucket before looking for uploads, so
		// NoSuchUpload here means the bucket exists.
		if buf.status == http.StatusNotFound && bytes.Contains(buf.body.Bytes(), []byte("<Code>"+string(gofakes3.ErrNoSuchUpload)+"</Code>")) {
			bucket, _, _ := strings.Cut(strings.TrimLeft(r.URL.Path, "/"), "/")
			body, err := xml.Marshal(emptyUploadList{Bucket: bucket, Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), MaxUploads: gofakes3.DefaultMaxUploads})
			if err == nil {
				buf.status = http.StatusOK
				buf.body.Reset()
				buf.body.WriteString(xml.Header)
				buf.body.Write(body)
				w.Header().Set("Content-Type", "application/xml")
			}
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(buf.status)
		_, _ = w.Write(buf.body.Bytes())
	})
}

// bufferedResponse holds a response until it is written on.
type bufferedResponse struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

// Header implements http.ResponseWriter.
func (b *bufferedResponse) Header() http.Header { return b.header }

// WriteHeader implements http.ResponseWriter.
func (b *bufferedResponse) WriteHeader(code int) {
	if !b.wrote {
		b.status, b.wrote = code, true
	}
}

// Write implements http.ResponseWriter.
func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.wrote = true
	return b.body.Write(p)
}
